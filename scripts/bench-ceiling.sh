#!/usr/bin/env bash
# The transport ceiling, measured in the same run as the product: nginx with mutual TLS
# (the same server certificate, client certificates verified against the same kit, TLS 1.3)
# answering a static body; kanta-sim's GET /health; and kanta-sim archiving pre-signed
# ~20 KB documents. One load generator for all three (`kanta-sim load`: kept-alive HTTP/1.1
# over mutual TLS), on the same cores as the servers. Prints requests/s, p99 and the ratios
# the performance targets are stated in (docs/PERFORMANCE.md). The three take turns for R
# rounds (3 by default) and each figure is the median: nginx's own rate through this
# generator varies 1.5x between single runs on a 2-core machine.
#
# Needs nginx (Debian: apt-get install -y nginx). Usage: scripts/bench-ceiling.sh [N] [C] [R]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-4000}
C=${2:-32}
R=${3:-3}
BIN=$ROOT/target/release/kanta-sim
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
    echo "bench-ceiling: nginx is not installed (Debian: apt-get install -y nginx)" >&2
    exit 2
fi
cargo build --release --locked -q --manifest-path "$ROOT/Cargo.toml"
WORK=$(mktemp -d "$ROOT/target/bench-ceiling.XXXXXX")
SERVE_PID=""
NGINX_PID=""
cleanup() {
    [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null || true
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

KIT=$WORK/kit
"$BIN" certs init --out "$KIT" >/dev/null
cat "$KIT/root-ca.pem" "$KIT/service-ca.pem" > "$WORK/client-cas.pem"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$PORT ssl;
        ssl_protocols TLSv1.3;
        ssl_certificate $KIT/server.pem;
        ssl_certificate_key $KIT/server.key.pem;
        ssl_client_certificate $WORK/client-cas.pem;
        ssl_verify_client on;
        ssl_verify_depth 3;
        location = /health {
            default_type application/json;
            return 200 '{"status":"ok"}\n';
        }
    }
}
EOF
"$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
NGINX_PID=$!
for _ in $(seq 100); do
    (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
    sleep 0.05
done

"$BIN" serve --certs "$KIT" --data "$WORK/data" --listen 127.0.0.1:0 --ready-file "$WORK/ready.json" >/dev/null 2>&1 &
SERVE_PID=$!
while [ ! -f "$WORK/ready.json" ]; do sleep 0.05; done
ADDR=$(python3 -c "import json; print(json.load(open('$WORK/ready.json'))['listen'])")

load() { "$BIN" load --certs "$KIT" --concurrency "$C" --json "$@"; }
ROUNDS=()
for _ in $(seq "$R"); do
    ROUNDS+=("$(load --target "127.0.0.1:$PORT" --requests $((N * 10)) --health)")
    ROUNDS+=("$(load --target "$ADDR" --requests $((N * 10)) --health)")
    ROUNDS+=("$(load --target "$ADDR" --requests "$N")")
done

python3 - "$C" "${ROUNDS[@]}" <<'EOF'
import json, os, statistics, sys
c = sys.argv[1]
runs = [json.loads(a) for a in sys.argv[2:]]
def median(which):
    rs = runs[which::3]
    keys = ("per_second", "p50_ms", "p99_ms", "not_accepted")
    return {k: statistics.median(r[k] for r in rs) for k in keys}, rs
(nginx, nr), (health, _), (archive, _) = median(0), median(1), median(2)
print(f"{os.cpu_count()} cores shared by the servers and the load generator; {c} kept-alive "
      f"mTLS connections (TLS 1.3, HTTP/1.1); median of {len(nr)} rounds")
for name, r in (("nginx, static body (ceiling)", nginx), ("kanta-sim GET /health", health),
                ("kanta-sim archiving (~35 KB)", archive)):
    print(f"{name:32} {r['per_second']:9.0f}/s  p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms"
          f"  not accepted {r['not_accepted']:.0f}")
print("nginx's rounds: " + ", ".join(f"{r['per_second']:.0f}" for r in nr) + " /s")
print(f"/health / nginx ceiling:     {health['per_second'] / nginx['per_second']:.3f}x   (target >= 0.5)")
print(f"archiving / nginx ceiling:   {archive['per_second'] / nginx['per_second']:.4f}x  (target >= 0.035)")
EOF
