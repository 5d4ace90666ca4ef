#!/usr/bin/env bash
# Fuzzes parse + canonicalize + verify with libFuzzer (cargo fuzz).
#   scripts/fuzz.sh [SECONDS]        default 60
# The toolchain here is stable; cargo fuzz's instrumentation flags need
# RUSTC_BOOTSTRAP=1, and no sanitizer is used (-s none: the code is #![forbid(unsafe_code)],
# so what is looked for is panics, hangs and unbounded memory).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
mkdir -p fuzz/corpus/xml_c14n_dsig
# Seed the corpus with a signed sample document and the canonicalization examples.
if [ -z "$(ls -A fuzz/corpus/xml_c14n_dsig)" ]; then
    cargo run -q --release -- sample-document --body-bytes 2000 > fuzz/corpus/xml_c14n_dsig/sample.xml
    printf '<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n0:local>' \
        > fuzz/corpus/xml_c14n_dsig/exc.xml
fi
RUSTC_BOOTSTRAP=1 cargo fuzz run -s none xml_c14n_dsig fuzz/corpus/xml_c14n_dsig -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10
