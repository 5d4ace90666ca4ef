#!/usr/bin/env bash
# The long hostile-input runs (issue #12) against a release build, with figures:
#   scripts/attack.sh [--only floods,memory,stall,storm,csrf] [--storm-seconds 30] [--json]
# The short variants run with the tests (tests/hostile.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/attack.py "$@"
