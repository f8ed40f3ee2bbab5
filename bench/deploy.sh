#!/usr/bin/env bash
# Deploy benchmark: a 10,000-file, ~200 MB release, then a second release
# changing 10 files, against `tar -x` of the same artifact and `rsync` of
# the same tree, all in one run. Usage: bench/deploy.sh [FILES] [TOTAL_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  for tool in rsync zstd python3; do
    command -v "$tool" >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null; }
  done
fi
cargo build --release --locked -q
exec python3 bench/deploy.py target/release/hoist "${1:-10000}" "${2:-200}"
