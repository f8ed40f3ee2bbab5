#!/usr/bin/env bash
# Fleet benchmark: `hoist deploy --stage` of a 2,000-file, 40 MB release to
# N simulated hosts (a real sshd each, on its own 127.0.0.N, in its own
# mount namespace), then a second release changing 10 files, against a
# baseline that scp's a .tar.gz and runs `ssh tar -x` + symlink switch per
# host (all at once, and in a loop). Needs root (unshare, mount --bind).
# Usage: bench/fleet.sh [HOSTS...]   (default: 1 5 20)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/fleet.sh: needs root (mount namespaces for the simulated hosts)" >&2; exit 1; }
if command -v apt-get >/dev/null; then
  for tool in /usr/sbin/sshd ssh scp unshare nsenter python3; do
    command -v "$tool" >/dev/null || {
      apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client util-linux python3 >/dev/null; }
  done
fi
cargo build --release --locked -q -p hoist
# The helper stops every process it started (sshd's, their namespaces, the
# contenders), by pid, on exit, Ctrl-C or SIGTERM.
[ $# -gt 0 ] || set -- 1 5 20
PYTHONDONTWRITEBYTECODE=1 exec python3 bench/fleet.py target/release/hoist "$@"
