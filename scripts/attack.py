#!/usr/bin/env python3
"""The long hostile-input runs (issue #12) against a release `kanta-sim serve`, with figures.

Each run starts its own server on a fresh kit and data directory and reports what the
server spent, measured from /proc (CPU ticks, resident memory), against a baseline taken in
the same run:

  floods   1 M attributes (12 MB) and 200 000 namespace declarations: server CPU per request,
           against one ordinary signed archive request.
  memory   16 concurrent ~30 MB signed messages: peak RSS during, RSS a few seconds after,
           against the RSS before.
  stall    a body that stops after 10 bytes: seconds until the server cuts it (W-008).
  storm    bad-certificate handshakes for N seconds: exchange-log rows added per handshake.
  csrf     cross-origin, token-less and foreign-Host forms to the archivist view: all 403.

Usage: scripts/attack.py [--only floods,memory,...] [--storm-seconds 30] [--json]
The short, always-run variants are tests/hostile.rs.
"""
import argparse
import json
import os
import shutil
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "kanta-sim")
TESTILA = "1.2.246.10.99900016.10.0"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / TICK


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Server:
    def __init__(self, work, extra=()):
        self.kit = os.path.join(work, "kit")
        if not os.path.isdir(self.kit):
            subprocess.run([BIN, "certs", "init", "--out", self.kit], check=True, stdout=subprocess.DEVNULL)
        self.data = tempfile.mkdtemp(dir=work, prefix="data-")
        ready = os.path.join(self.data, "ready.json")
        self.proc = subprocess.Popen([BIN, "serve", "--certs", self.kit, "--data", self.data, "--listen", "127.0.0.1:0",
                                      "--ready-file", ready, *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={**os.environ, "KANTA_SIM_LOG": "error"})
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                raise SystemExit("serve exited")
            time.sleep(0.01)
        with open(ready) as f:
            self.bound = json.load(f)
        host, port = self.bound["listen"].rsplit(":", 1)
        self.addr = (host, int(port))
        with open(os.path.join(self.kit, "INDEX.json")) as f:
            self.index = {a["role"]: a for a in json.load(f)["artefacts"]}

    def files(self, role):
        a = self.index[role]
        return os.path.join(self.kit, a["cert"]), os.path.join(self.kit, a["key"]) if a.get("key") else None

    def tls(self, role=f"client:{TESTILA}"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(self.files("root-ca")[0])
        cert, key = self.files(role)
        ctx.load_cert_chain(cert, key)
        return ctx.wrap_socket(socket.create_connection(self.addr))

    def post(self, body, role=f"client:{TESTILA}"):
        s = self.tls(role)
        s.sendall(f"POST /archive HTTP/1.1\r\nHost: {self.addr[0]}\r\nContent-Type: text/xml\r\n"
                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        s.close()
        return out.decode("utf-8", "replace")

    def load(self, *args):
        out = subprocess.run([BIN, "load", "--target", self.bound["listen"], "--certs", self.kit, "--json", *args],
                             capture_output=True, text=True)
        return json.loads(out.stdout) if out.stdout.strip() else {"error": out.stderr}

    def rows(self):
        with sqlite3.connect(os.path.join(self.data, "kanta-sim.sqlite")) as c:
            return c.execute("SELECT COUNT(*), COALESCE(SUM(repeats), 0) FROM exchange").fetchone()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def floods(work, out):
    s = Server(work)
    pid = s.proc.pid
    s.load("--requests", "3", "--concurrency", "1")  # warm-up
    # /proc counts CPU in ticks (10 ms): averages over repeats.
    t = cpu_ms(pid)
    r = s.load("--requests", "50", "--concurrency", "1")
    base = (cpu_ms(pid) - t) / 50
    attrs = "".join(f' a{i}="1"' for i in range(1_000_000))
    env = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
           f'<RCMR_IN200002FI01 xmlns="urn:hl7-org:v3"{attrs}/></soap:Body></soap:Envelope>').encode()
    t = cpu_ms(pid)
    for _ in range(5):
        a = s.post(env)
    attrs_ms = (cpu_ms(pid) - t) / 5
    decls = "".join(f' xmlns:p{i}="urn:x:{i}"' for i in range(200_000))
    env2 = (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"{decls}>'
            '<soap:Body/></soap:Envelope>').encode()
    t = cpu_ms(pid)
    for _ in range(5):
        b = s.post(env2)
    decl_ms = (cpu_ms(pid) - t) / 5
    out["floods"] = {
        "baseline_archive_request_cpu_ms": base, "baseline_accepted": r.get("not_accepted") == 0,
        "attributes_1M_bytes": len(env), "attributes_1M_cpu_ms": attrs_ms, "attributes_refused_W006": "W-006" in a,
        "namespaces_200k_bytes": len(env2), "namespaces_200k_cpu_ms": decl_ms, "namespaces_refused_W006": "W-006" in b,
    }
    s.stop()


def memory(work, out):
    s = Server(work)
    pid = s.proc.pid
    s.load("--requests", "4", "--concurrency", "2")
    time.sleep(1)
    before = rss_mb(pid)
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.02)

    th = threading.Thread(target=sample)
    th.start()
    started = time.time()
    # A 15 MB display form makes a signed message of about 29 MB (base64 twice).
    r = s.load("--requests", "16", "--concurrency", "16", "--body-bytes", "15000000")
    took = time.time() - started
    done.set()
    th.join()
    after = []
    for _ in range(20):
        time.sleep(0.5)
        after.append(rss_mb(pid))
    out["memory"] = {
        "requests": 16, "bytes_per_request": r.get("bytes_per_request"), "seconds": took,
        "answered": r.get("requests"), "accepted": r.get("requests", 0) - r.get("not_accepted", 0),
        "connection_errors": r.get("connection_errors"),
        "rss_before_mb": before, "rss_peak_mb": peak[0], "rss_after_10s_mb": after[-1], "rss_after_min_mb": min(after),
    }
    s.stop()


def stall(work, out):
    s = Server(work)
    t = s.tls()
    t.sendall(f"POST /archive HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 1000\r\n\r\n<soap:Env".encode())
    started = time.time()
    got = b""
    t.settimeout(120)
    while True:
        c = t.recv(65536)
        if not c:
            break
        got += c
    out["stall"] = {"cut_after_seconds": time.time() - started, "W008": b"W-008" in got,
                    "setting": "server.body_idle_timeout_secs = 10"}
    s.stop()


def storm(work, out, seconds):
    s = Server(work)
    before = s.rows()
    n = [0]
    stop = time.time() + seconds

    def hammer():
        while time.time() < stop:
            try:
                t = s.tls("bad:expired")
                t.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                t.recv(10)
                t.close()
            except (ssl.SSLError, OSError):
                pass
            n[0] += 1

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    time.sleep(3)  # the counts are written every 2 s
    after = s.rows()
    out["storm"] = {"seconds": seconds, "handshakes": n[0], "rows_added": after[0] - before[0],
                    "counted_as_repeats": after[1] - before[1]}
    s.stop()


def csrf(work, out):
    s = Server(work, ["--archivist-listen", "127.0.0.1:0"])
    host, port = s.bound["archivist"].rsplit(":", 1)
    results = {}
    for name, headers in [
        ("no token, cross origin", f"Host: {host}:{port}\r\nOrigin: http://evil.example\r\n"),
        ("foreign Host (DNS rebinding)", "Host: attacker.example\r\n"),
        ("no token, same origin", f"Host: {host}:{port}\r\n"),
        ("text/plain cross-site", f"Host: {host}:{port}\r\nSec-Fetch-Site: cross-site\r\n"),
    ]:
        c = socket.create_connection((host, int(port)))
        body = b"oid=1.2.3&reason=x"
        c.sendall(f"POST /invalidate?org={TESTILA} HTTP/1.1\r\n{headers}Content-Type: text/plain\r\n"
                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        resp = b""
        while True:
            d = c.recv(65536)
            if not d:
                break
            resp += d
        results[name] = resp.split(b"\r\n", 1)[0].decode()
    out["csrf"] = results
    s.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="floods,memory,stall,storm,csrf")
    ap.add_argument("--storm-seconds", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="kanta-sim-attack-")
    out = {}
    try:
        for name in args.only.split(","):
            if name == "storm":
                storm(work, out, args.storm_seconds)
            else:
                globals()[name](work, out)
            if not args.json:
                print(f"{name}: {json.dumps(out[name], indent=1)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
