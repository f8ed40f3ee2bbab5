#!/usr/bin/env bash
# Proxy benchmark: wrk against the same trivial backend directly, through
# nginx (1 worker, upstream keepalive) and through hoist (1 worker thread);
# then failed requests per switch for hoist, `nginx -s reload` and a plain
# restart; then hoist with `[metrics]` on and scraped every second against
# hoist without; then RSS per idle keep-alive connection (10,000 and 50,000)
# and after they close, against nginx and HAProxy.
# Usage: bench/proxy.sh [--only metrics|memory] [SECONDS] [CONNECTIONS] [ROUNDS]
# (SECONDS per path per round; the paths take turns for ROUNDS rounds).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  for tool in nginx haproxy wrk python3; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
      apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx haproxy wrk python3 >/dev/null; }
  done
fi
cargo build --release --locked -q
only=()
if [ "${1:-}" = --only ]; then only=(--only "$2"); shift 2; fi
exec python3 bench/proxy.py "${only[@]}" target/release/hoist "${1:-4}" "${2:-32}" "${3:-5}"
