#!/usr/bin/env python3
"""Archiving throughput, latency, server CPU, stored bytes and memory over mutual TLS, with
the server and the load generator in separate processes on the same cores.

For each binary (this checkout's release build, and with --baseline another one, measured in
the same run), starts `kanta-sim serve` on a fresh kit and data directory (on disk), then runs
`kanta-sim load` with pre-signed documents (built and signed before the clock starts, unique
ids):
  * archive: signed ~20 KB SP1 documents in ~35 KB RCMR_IN200002FI01 messages (parsed, every
    rule, signature and certificate checks, the store's transaction with synchronous=FULL);
  * health: GET /health over the same kind of connections (transport only).
Reports documents/s, p50/p99, the server's CPU time per document (user + system, all threads,
from /proc), stored bytes per message (the data directory after a clean stop, over the bytes
sent), and the server's peak RSS during a run at --peak-connections.

Each figure is the median of --rounds runs (3 by default), the binaries taking turns (who
goes first alternates), so a slow spell of the machine falls on both: single runs on this 2-core machine vary by +/-10 %.
Every server is driven by this checkout's load generator (pre-signed documents), so an old
baseline's own generator (which signed as it went) does not take the cores from its server.

Usage: scripts/bench-archive.py [--requests N] [--concurrency C] [--rounds R] [--baseline BIN]
                               [--binary BIN]
"""
import argparse
import json
import os
import statistics
import shutil
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "kanta-sim")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


class Server:
    def __init__(self, binary, kit, work):
        self.data = os.path.join(work, "data")
        ready = os.path.join(work, "ready.json")
        self.proc = subprocess.Popen([binary, "serve", "--certs", kit, "--data", self.data,
                                      "--listen", "127.0.0.1:0", "--ready-file", ready],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                raise SystemExit(f"{binary} serve exited")
            time.sleep(0.01)
        with open(ready) as f:
            self.addr = json.load(f)["listen"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def load(binary, addr, kit, requests, concurrency, health):
    cmd = [binary, "load", "--target", addr, "--certs", kit, "--requests", str(requests),
           "--concurrency", str(concurrency), "--json"]
    if health:
        cmd.append("--health")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def measure(binary, kit, requests, concurrency, peak_connections):
    work = tempfile.mkdtemp(prefix="kanta-sim-archive-bench-", dir=ROOT + "/target")
    try:
        s = Server(binary, kit, work)
        health = load(BIN, s.addr, kit, requests * 5, concurrency, True)
        before = cpu_seconds(s.proc.pid)
        arch = load(BIN, s.addr, kit, requests, concurrency, False)
        cpu = cpu_seconds(s.proc.pid) - before
        s.stop()
        stored = dir_bytes(s.data)
        sent = arch["bytes_per_request"] * arch["requests"]
        s = Server(binary, kit, os.path.join(work, "peak"))
        load(BIN, s.addr, kit, max(requests // 2, peak_connections), peak_connections, False)
        rss = peak_rss_mb(s.proc.pid)
        s.stop()
        return {
            "health_per_s": health["per_second"],
            "docs_per_s": arch["per_second"], "p50_ms": arch["p50_ms"], "p99_ms": arch["p99_ms"],
            "not_accepted": arch["not_accepted"], "message_bytes": arch["bytes_per_request"],
            "cpu_ms_per_doc": cpu * 1e3 / arch["requests"],
            "stored_per_message": stored / sent,
            "peak_rss_mb": rss,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--peak-connections", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3, help="runs per binary; medians are shown")
    ap.add_argument("--baseline", help="another kanta-sim binary, measured in the same run")
    ap.add_argument("--binary", default=BIN,
                    help="the binary measured as \"this build\" (default: this checkout's release "
                         "build), e.g. the same source built with other flags")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="kanta-sim-kit-", dir=ROOT + "/target")
    try:
        kit = os.path.join(work, "kit")
        subprocess.run([BIN, "certs", "init", "--out", kit], check=True, stdout=subprocess.DEVNULL)
        runs = [("this build", args.binary)]
        if args.baseline:
            runs.append(("baseline", args.baseline))
        rounds = {name: [] for name, _ in runs}
        for i in range(args.rounds):
            # Who goes first changes every round: what one run leaves the machine to do
            # (freeing its data directory's page cache) falls on the other's start.
            for name, b in (runs if i % 2 == 0 else runs[::-1]):
                rounds[name].append(measure(b, kit, args.requests, args.concurrency,
                                            args.peak_connections))
        results = [(name, {k: statistics.median(r[k] for r in rounds[name])
                           for k in rounds[name][0]}) for name, _ in runs]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{os.cpu_count()} cores shared by server and load generator; {args.concurrency} kept-alive "
          f"mTLS connections; {args.requests} pre-signed documents; data on disk; "
          f"median of {args.rounds} alternating rounds")
    rows = [("archive docs/s", "docs_per_s", "{:.0f}"), ("archive p50 ms", "p50_ms", "{:.1f}"),
            ("archive p99 ms", "p99_ms", "{:.1f}"), ("server CPU ms/doc", "cpu_ms_per_doc", "{:.3f}"),
            ("stored bytes / message bytes", "stored_per_message", "{:.2f}"),
            (f"peak RSS MB at {args.peak_connections} connections", "peak_rss_mb", "{:.0f}"),
            ("GET /health /s", "health_per_s", "{:.0f}"), ("not accepted", "not_accepted", "{}")]
    print(f"{'':34}" + "".join(f"{name:>14}" for name, _ in results) +
          ("  ratio" if len(results) == 2 else ""))
    for label, key, fmt in rows:
        vals = [r[key] for _, r in results]
        line = f"{label:34}" + "".join(f"{fmt.format(v):>14}" for v in vals)
        if len(vals) == 2 and vals[1]:
            line += f"  {vals[0] / vals[1]:.2f}x"
        print(line)


if __name__ == "__main__":
    main()
