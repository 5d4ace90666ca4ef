#!/usr/bin/env python3
"""Archiving throughput and latency over mutual TLS, server and load generator in separate
processes (2 cores are shared by both).

Starts `kanta-sim serve` (release) on a fresh kit and data directory, then runs
`kanta-sim load` twice over 4 kept-alive mTLS connections:
  * archive: signed ~20 KB SP1 documents in RCMR_IN200002FI01 messages (each parsed, all rules,
    signature and certificate checks, one SQLite transaction with synchronous=FULL);
  * baseline: GET /health over the same kind of connections (transport only).
Prints documents/s, p50 and p99 for both and the ratio. Usage: scripts/bench-archive.py [--requests N]
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "kanta-sim")


def load(addr, kit, requests, concurrency, health):
    cmd = [BIN, "load", "--target", addr, "--certs", kit, "--requests", str(requests),
           "--concurrency", str(concurrency), "--json"]
    if health:
        cmd.append("--health")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="kanta-sim-archive-bench-")
    server = None
    try:
        kit = os.path.join(work, "kit")
        subprocess.run([BIN, "certs", "init", "--out", kit], check=True, stdout=subprocess.DEVNULL)
        ready = os.path.join(work, "ready.json")
        server = subprocess.Popen([BIN, "serve", "--certs", kit, "--data", os.path.join(work, "data"),
                                   "--listen", "127.0.0.1:0", "--ready-file", ready],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not os.path.exists(ready):
            if server.poll() is not None:
                raise SystemExit("serve exited")
            time.sleep(0.01)
        with open(ready) as f:
            addr = json.load(f)["listen"]
        base = load(addr, kit, args.requests * 5, args.concurrency, True)
        arch = load(addr, kit, args.requests, args.concurrency, False)
        print(f"{os.cpu_count()} cores shared by server and load generator; {args.concurrency} kept-alive mTLS connections")
        print(f"baseline GET /health:   {base['per_second']:8.0f}/s  p50 {base['p50_ms']:6.2f} ms  p99 {base['p99_ms']:6.2f} ms")
        print(f"archive (~{arch['bytes_per_request'] // 1000} KB message): {arch['per_second']:8.0f}/s  p50 {arch['p50_ms']:6.2f} ms"
              f"  p99 {arch['p99_ms']:6.2f} ms  not accepted {arch['not_accepted']}")
        print(f"archive / baseline throughput: {arch['per_second'] / base['per_second']:.3f}")
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
