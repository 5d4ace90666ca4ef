#!/usr/bin/env python3
"""Start-up and PKI-generation benchmark for kanta-sim (issue: foundation).

Measures, in one run on this machine, with the release binary:
  * serve-to-listening: from spawning `kanta-sim serve` with an existing kit until its
    ready file exists (target: under 100 ms);
    baseline: spawning `kanta-sim config default` until it exits (bare process start);
  * `certs init` wall time for the default RSA 2048 kit;
    baseline: `openssl genpkey` of the same number of RSA 2048 keys, one after another
    (key generation is the work; the ratio shows our overhead and parallelism).
Reports medians and the ratios. Usage: scripts/bench-startup.py [--runs N]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "kanta-sim")


def median_ms(samples):
    return statistics.median(samples) * 1000.0


def time_serve_ready(kit, work, runs):
    samples = []
    for i in range(runs):
        ready = os.path.join(work, f"ready-{i}.json")
        data = os.path.join(work, f"data-{i}")
        t0 = time.perf_counter()
        p = subprocess.Popen(
            [BIN, "serve", "--certs", kit, "--data", data, "--listen", "127.0.0.1:0", "--ready-file", ready],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        while not os.path.exists(ready):
            if p.poll() is not None:
                sys.exit(f"serve exited early with {p.returncode}")
            time.sleep(0.0005)
        samples.append(time.perf_counter() - t0)
        p.terminate()
        p.wait()
    return samples


def time_cmd(cmd, runs):
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - t0)
    return samples


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--init-runs", type=int, default=5)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="kanta-sim-bench-")
    try:
        kit = os.path.join(work, "kit")
        subprocess.run([BIN, "certs", "init", "--out", kit], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(kit, "INDEX.json")) as f:
            keys = sum(1 for a in json.load(f)["artefacts"] if "key" in a)

        base_start = time_cmd([BIN, "config", "default"], args.runs)
        serve = time_serve_ready(kit, work, args.runs)
        init = time_cmd([BIN, "certs", "init", "--out", kit, "--force"], args.init_runs)
        have_openssl = shutil.which("openssl") is not None
        if have_openssl:
            key_out = os.path.join(work, "k.pem")
            genpkey = ["sh", "-c", " && ".join(
                [f"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out {key_out}"] * (keys - 1))]
            base_init = time_cmd(genpkey, args.init_runs)

        print(f"machine: {os.cpu_count()} cores; runs: {args.runs} (start-up), {args.init_runs} (init)")
        print(f"process start baseline (config default):  {median_ms(base_start):8.1f} ms")
        print(f"serve → listening (ready file written):   {median_ms(serve):8.1f} ms"
              f"  = {median_ms(serve) / median_ms(base_start):.1f}× baseline; target < 100 ms:"
              f" {'met' if median_ms(serve) < 100 else 'NOT met'}")
        print(f"certs init ({keys} keys, RSA 2048):          {median_ms(init):8.1f} ms")
        if have_openssl:
            print(f"openssl genpkey × {keys - 1} RSA 2048 (baseline): {median_ms(base_init):8.1f} ms"
                  f"  → certs init = {median_ms(init) / median_ms(base_init):.2f}× baseline")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
