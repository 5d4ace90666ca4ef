#!/usr/bin/env python3
"""Wall time and peak memory of a full self-driven run (every suite: 20 cases, 36 steps,
each step a real mTLS exchange judged by the engine, with the reports written), against
two baselines measured in the same go:
  * floor: `kanta-sim testcases list` (process start, embedded cases parsed);
  * serve: the same number of archive exchanges without the engine (`kanta-sim load`
    archiving 36 signed documents against a running `serve`), i.e. what the engine,
    sessions, checks and reports add over plain archiving.
Median of N runs (default 5) with the kit generated once. Usage: scripts/bench-run.py [N]
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "kanta-sim")


def timed(cmd, cwd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    # ru_maxrss of children is the maximum over all children so far (KiB on Linux).
    return wall, max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        kit = os.path.join(tmp, "kit")
        subprocess.run([BIN, "certs", "init", "--out", kit], check=True, stdout=subprocess.DEVNULL)
        floor = [timed([BIN, "testcases", "list"], tmp)[0] for _ in range(n)]
        runs = []
        for i in range(n):
            wall, _ = timed([BIN, "run", "--suite", "all", "--self-drive", "--certs", kit, "--quiet",
                             "--report-dir", os.path.join(tmp, f"r{i}")], tmp)
            runs.append(wall)
        # Peak memory of one run alone, measured in a fresh Python child so the maximum is its own.
        rss = subprocess.run([sys.executable, "-c", (
            "import resource,subprocess,sys;"
            "subprocess.run(sys.argv[1:],check=True,stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"),
            BIN, "run", "--suite", "all", "--self-drive", "--certs", kit, "--quiet",
            "--report-dir", os.path.join(tmp, "rss")], capture_output=True, text=True, check=True).stdout
        report = json.load(open(os.path.join(tmp, "r0", "report.json")))
        steps = report["totals"]["steps"]
        # Baseline: the same number of archive exchanges with a plain serve + load generator.
        data = os.path.join(tmp, "data")
        ready = os.path.join(tmp, "ready.json")
        serve = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--certs", kit, "--data", data,
                                  "--ready-file", ready], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not os.path.exists(ready):
                time.sleep(0.01)
            addr = json.load(open(ready))["listen"]
            plain = [timed([BIN, "load", "--target", addr, "--certs", kit, "--requests", str(steps),
                            "--concurrency", "1"], tmp)[0] for _ in range(n)]
        finally:
            serve.terminate()
            serve.wait()
    med = statistics.median
    print(f"full self-driven run (all suites, {report['totals']['cases']} cases, {steps} steps, reports written):")
    print(f"  wall time      {med(runs) * 1000:8.1f} ms (median of {n})  = {med(runs) / med(floor):.1f}x the process floor")
    print(f"  peak memory    {int(rss) / 1024:8.1f} MiB")
    print(f"  floor          {med(floor) * 1000:8.1f} ms  (kanta-sim testcases list)")
    print(f"  plain archive  {med(plain) * 1000:8.1f} ms  ({steps} signed documents via serve + load, no engine)")
    print(f"  run / plain    {med(runs) / med(plain):.2f}x  (engine, sessions, checks, server start and reports included)")


if __name__ == "__main__":
    main()
