#!/usr/bin/env bash
# Proxy benchmark: wrk against the same trivial backend directly, through
# nginx (1 worker, upstream keepalive) and through hoist (1 worker thread);
# then failed requests per switch for hoist, `nginx -s reload` and a plain
# restart; then hoist with `[metrics]` on and scraped every second against
# hoist without; then RSS per idle keep-alive connection (10,000 and 50,000)
# and after they close, against nginx and HAProxy; then TLS against nginx
# and HAProxy: keep-alive HTTP/1.1 (wrk) and HTTP/2 (h2load), full
# handshakes with RSA and ECDSA certificates and resumed ones (openssl
# s_time, h2load), with each proxy's CPU per operation; then plain
# HTTP/1.1 bodies (small, 64 KiB, 1 MiB) against nginx and HAProxy.
# Usage: bench/proxy.sh [--only metrics|memory|tls|bodies] [SECONDS] [CONNECTIONS] [ROUNDS]
# (SECONDS per path per round; the paths take turns for ROUNDS rounds).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  for tool in nginx haproxy wrk python3 h2load openssl; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
      apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx haproxy wrk python3 nghttp2-client openssl >/dev/null; }
  done
fi
cargo build --release --locked -q
only=()
if [ "${1:-}" = --only ]; then only=(--only "$2"); shift 2; fi
exec python3 bench/proxy.py "${only[@]}" target/release/hoist "${1:-4}" "${2:-32}" "${3:-5}"
