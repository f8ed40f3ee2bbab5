#!/usr/bin/env bash
# Data-version benchmark: load a 1 GB directory, then load it again with 1%
# of it changed, against a full copy (`cp -a`, what the runbooks do) and
# `rsync --link-dest` (the careful admin's copy), in one run.
# Usage: bench/data.sh [FILES] [TOTAL_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  for tool in rsync python3; do
    command -v "$tool" >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null; }
  done
fi
cargo build --release --locked -q
exec python3 bench/data.py target/release/hoist "${1:-1000}" "${2:-1024}"
