#!/usr/bin/env bash
# How long a newcomer waits: the README's two commands on a fresh clone, timed, next to the
# previous pair (debug `cargo test --locked` after the release demo) in the same run.
#
#   scripts/bench-first-run.sh [NEW_COMMIT [OLD_COMMIT]]   (default: HEAD for both)
#
# The old pair runs on OLD_COMMIT (the state the README's previous commands belonged to),
# the new pair on NEW_COMMIT.
# Each variant gets a fresh clone and an empty target directory; the cargo registry is
# whatever ~/.cargo holds (downloads are not timed, the same for both). Prints one line per
# command and the ratio new/old. Takes about half an hour on 2 cores.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
NEW_COMMIT=$(git -C "$REPO" rev-parse "${1:-HEAD}")
OLD_COMMIT=$(git -C "$REPO" rev-parse "${2:-$NEW_COMMIT}")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
timed() { # label, dir, command…
    local label=$1 dir=$2; shift 2
    local t0; t0=$(now)
    (cd "$dir" && "$@" >"$WORK/$label.log" 2>&1) || { echo "$label failed:"; tail -20 "$WORK/$label.log"; exit 1; }
    python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.1f}')" "$t0" "$(now)"
}

declare -A total
for variant in old new; do
    git clone -q "$REPO" "$WORK/$variant"
    if [ "$variant" = old ]; then commit=$OLD_COMMIT; else commit=$NEW_COMMIT; fi
    git -C "$WORK/$variant" checkout -q "$commit"
    demo=$(timed "$variant-demo" "$WORK/$variant" cargo run --release --locked -- demo)
    if [ "$variant" = old ]; then
        tests=$(timed "$variant-test" "$WORK/$variant" cargo test --locked)
        echo "old (${OLD_COMMIT:0:7}): cargo run --release -- demo ${demo}s; cargo test --locked ${tests}s"
    else
        tests=$(timed "$variant-test" "$WORK/$variant" cargo test --release --locked)
        echo "new (${NEW_COMMIT:0:7}): cargo run --release -- demo ${demo}s; cargo test --release --locked ${tests}s"
    fi
    total[$variant]=$(python3 -c "import sys; print(float(sys.argv[1])+float(sys.argv[2]))" "$demo" "$tests")
    rm -rf "$WORK/$variant"
done
python3 -c "import sys; o,n=map(float,sys.argv[1:]); print(f'total old {o:.0f}s, new {n:.0f}s: new/old = {n/o:.2f}')" "${total[old]}" "${total[new]}"
