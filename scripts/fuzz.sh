#!/usr/bin/env bash
# Fuzzes with libFuzzer (cargo fuzz), each target for a bounded time:
#   xml_c14n_dsig     parse + canonicalize + verify
#   message_pipeline  the whole archive pipeline (process_message) on arbitrary bytes
#   mime              the MIME multipart/related reader
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET…]        default 60, every target
# The toolchain here is stable; cargo fuzz's instrumentation flags need
# RUSTC_BOOTSTRAP=1, and no sanitizer is used (-s none: the code is #![forbid(unsafe_code)],
# so what is looked for is panics, hangs and unbounded memory).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(xml_c14n_dsig message_pipeline mime)
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
done
# Seeds: a signed sample document, a canonicalization example, a whole archive message and
# its MIME entity (written by the reference client, so the fuzzer starts from valid input).
if [ -z "$(ls -A fuzz/corpus/xml_c14n_dsig)" ]; then
    cargo run -q --release -- sample-document --body-bytes 2000 > fuzz/corpus/xml_c14n_dsig/sample.xml
    printf '<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n0:local>' \
        > fuzz/corpus/xml_c14n_dsig/exc.xml
    # Plain display forms (hand-written after the published template), for `root_of`.
    cp tests/conformance/display-sp*.xhtml fuzz/corpus/xml_c14n_dsig/
fi
if [ -z "$(ls -A fuzz/corpus/message_pipeline)" ] || [ -z "$(ls -A fuzz/corpus/mime)" ]; then
    kit=$(mktemp -d)
    cargo run -q --release -- certs init --out "$kit/kit" >/dev/null
    cargo run -q --release -- client build --certs "$kit/kit" --out fuzz/corpus/message_pipeline/archive.xml
    python3 - "$kit" <<'PY'
import html, re, sys
m = open("fuzz/corpus/message_pipeline/archive.xml").read()
t = re.search(r'<text mediaType="multipart/related">(.*?)</text>', m, re.S).group(1)
open("fuzz/corpus/mime/entity.txt", "w").write(html.unescape(t))
PY
    rm -rf "$kit"
fi
for t in "${targets[@]}"; do
    echo "== $t for ${secs} s"
    RUSTC_BOOTSTRAP=1 cargo fuzz run -s none "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10
done
