#!/usr/bin/env bash
# Expand benchmark (issue 17): the schema app (tests/fixtures/schema_app, a
# gunicorn + psycopg2 WSGI app) behind hoist's agent, measured with wrk
# (80% GET /users/<id>, 20% PUT of random rows) while `hoist deploy`
# backfills a NOT NULL column over ROWS rows, against the same app with no
# migration running; rounds in turn, medians reported.
# Usage: bench/expand.sh [ROWS] [SECONDS] [ROUNDS]   (default 1000000 8 3)
# HOIST=path/to/hoist uses that binary instead of a release build;
# HOIST_BENCH_POSTGRES=postgres://USER@HOST:PORT/DB (an admin url) uses that
# server, else HOIST_TEST_POSTGRES, else a private one in a temp dir.
# HOIST_BENCH_BACKFILL_PAUSE=50ms / HOIST_BENCH_BACKFILL_BATCH=500 set the
# site's [database] backfill_pause / backfill_batch (else hoist's defaults).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  for tool in wrk gunicorn psql; do
    command -v "$tool" >/dev/null || {
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk gunicorn python3-psycopg2 postgresql postgresql-client >/dev/null; }
  done
fi
hoist="${HOIST:-}"
if [ -z "$hoist" ]; then
  cargo build --release --locked -q
  hoist=target/release/hoist
fi
exec python3 bench/expand.py "$hoist" "${1:-1000000}" "${2:-8}" "${3:-3}"
