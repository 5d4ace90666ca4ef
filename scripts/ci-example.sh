#!/usr/bin/env bash
# Example: a client-data system's CI pipeline pre-testing against kanta-sim.
#
# 1. start kanta-sim's live run of a suite (it prints what the system must do next and
#    waits for it, each step up to --step-timeout seconds);
# 2. wait for its ready file, then point the system under test at the address in it, with
#    the client certificate of its organisation from the kit (certs/generated);
# 3. kanta-sim exits when the steps are done: 0 all passed, 3 a case failed, 4 the system
#    did not act in time, 2 usage/configuration, 1 internal error. JUnit for the CI server
#    is in reports/junit.xml, the report for people in reports/report.html.
#
# Here kanta-sim's own reference client stands in for the system under test
# (`kanta-sim client send …`); replace `drive_system_under_test` with your system's tests.
set -euo pipefail
KANTA_SIM=${KANTA_SIM:-kanta-sim}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$KANTA_SIM" certs init --out "$WORK/certs"
"$KANTA_SIM" run --suite pre-test --case SIM-PRE-01 --case SIM-PRE-03 \
    --listen 127.0.0.1:0 --certs "$WORK/certs" --step-timeout 120 \
    --ready-file "$WORK/ready.json" --report-dir reports --junit junit.xml &
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
echo "kanta-sim finished with exit code $CODE (reports/report.html, junit.xml)"
exit "$CODE"
