#!/usr/bin/env bash
# Example: a client-data system's CI pipeline pre-testing against kanta-sim.
#
#   scripts/ci-example.sh [REPORT_DIR]     (default: target/ci-example)
#
# 1. start kanta-sim's live run of a suite (it prints what the system must do next and
#    waits for it, each step up to --step-timeout seconds);
# 2. wait for its ready file, then point the system under test at the address in it, with
#    the client certificate of its organisation from the kit;
# 3. kanta-sim exits when the steps are done: 0 all passed, 3 a case failed, 4 the system
#    did not act in time, 2 usage/configuration, 1 internal error. JUnit for the CI server
#    is in REPORT_DIR/junit.xml, the report for people in REPORT_DIR/report.html.
#
# Here kanta-sim's own reference client stands in for the system under test
# (`kanta-sim client send …`); replace `drive_system_under_test` with your system's tests.
# kanta-sim is taken from $KANTA_SIM, else from PATH (`cargo install --locked --path .`),
# else from this repository's target/ (built with `cargo build --release --locked` if absent).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "${1:-$REPO/target/ci-example}" && cd "${1:-$REPO/target/ci-example}" && pwd)

if [ -n "${KANTA_SIM:-}" ]; then
    :
elif command -v kanta-sim >/dev/null 2>&1; then
    KANTA_SIM=$(command -v kanta-sim)
elif [ -x "$REPO/target/release/kanta-sim" ]; then
    KANTA_SIM="$REPO/target/release/kanta-sim"
else
    (cd "$REPO" && cargo build --release --locked --quiet)
    KANTA_SIM="$REPO/target/release/kanta-sim"
fi
echo "using $KANTA_SIM"

# Everything else (kit, ready file, data) lives in a temporary directory, removed on exit.
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$KANTA_SIM" certs init --out "$WORK/certs" >/dev/null
"$KANTA_SIM" run --suite pre-test --case SIM-PRE-01 --case SIM-PRE-03 \
    --listen 127.0.0.1:0 --certs "$WORK/certs" --step-timeout 120 \
    --ready-file "$WORK/ready.json" --report-dir "$OUT" --junit "$OUT/junit.xml" &
RUN=$!

for _ in $(seq 200); do [ -s "$WORK/ready.json" ] && break; sleep 0.1; done
ADDR=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$WORK/ready.json")
echo "archive at https://$ADDR/archive"

drive_system_under_test() {
    # SIM-PRE-01: a client-relationship document for 010190-902S.
    "$KANTA_SIM" client send --target "$ADDR" --certs "$WORK/certs" --person 010190-902S
    # SIM-PRE-03: archive for 150385-9046, then query its metadata.
    "$KANTA_SIM" client send --target "$ADDR" --certs "$WORK/certs" --person 150385-9046
    "$KANTA_SIM" client query metadata --target "$ADDR" --certs "$WORK/certs" --person 150385-9046
}
drive_system_under_test >/dev/null

set +e
wait "$RUN"
CODE=$?
set -e
echo "kanta-sim finished with exit code $CODE ($OUT/report.html, $OUT/junit.xml)"
exit "$CODE"
