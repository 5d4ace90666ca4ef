#!/usr/bin/env python3
"""Signature verification: kanta-sim against xmlsec1 (the C reference) on the same corpus.

Writes a corpus of signed Kanta documents (~20 KB and ~1 MB) with the in-process benchmark
(`cargo bench --bench dsig_verify -- --write-corpus DIR`, which also prints in-process
figures), then times whole-process verification of each file, N runs each, median:
  kanta-sim dsig verify --trust KIT FILE
  xmlsec1 --verify --trusted-pem ROOT --untrusted-pem CA --id-attr:ID … FILE
and prints the ratio kanta-sim / xmlsec1. Both do the full job (parse, digests, RSA,
certificate chain); kanta-sim also applies the Kanta coverage rule and checks the chain at
the signing time and at receipt. Usage: scripts/bench-dsig.py [--runs N]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "kanta-sim")


def timed(cmd, runs):
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        samples.append(time.perf_counter() - t0)
        if r.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed: {r.stderr.decode()[:500]}")
    return statistics.median(samples) * 1000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    if shutil.which("xmlsec1") is None:
        raise SystemExit("xmlsec1 is not installed (apt-get install xmlsec1)")
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="kanta-sim-dsig-bench-")
    try:
        subprocess.run(["cargo", "bench", "-q", "--locked", "--bench", "dsig_verify", "--", "--write-corpus", work],
                       cwd=ROOT, check=True)
        kit = os.path.join(work, "kit")
        with open(os.path.join(kit, "INDEX.json")) as f:
            roles = {a["role"]: a for a in json.load(f)["artefacts"]}
        root = os.path.join(kit, roles["root-ca"]["cert"])
        ca = os.path.join(kit, roles["service-ca"]["cert"])
        print(f"\nwhole-process verification, median of {args.runs} runs")
        base_k = timed([BIN, "--version"], args.runs)
        base_x = timed(["xmlsec1", "--version"], args.runs)
        print(f"  process start alone:   kanta-sim {base_k:7.2f} ms   xmlsec1 {base_x:7.2f} ms")
        for name in ["signed-20KB.xml", "signed-1MB.xml"]:
            path = os.path.join(work, name)
            size = os.path.getsize(path)
            k = timed([BIN, "dsig", "verify", "--trust", kit, path], args.runs)
            x = timed(["xmlsec1", "--verify", "--trusted-pem", root, "--untrusted-pem", ca,
                       "--id-attr:ID", "urn:hl7finland:signatureTimestamp",
                       "--id-attr:ID", "urn:hl7-org:v3:nonXMLBody", path], args.runs)
            print(f"  {name:16} {size:>8} B: kanta-sim {k:7.2f} ms   xmlsec1 {x:7.2f} ms   ratio {k / x:5.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
