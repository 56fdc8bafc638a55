#!/usr/bin/env bash
# Notification queue: throughput on SQLite and PostgreSQL (queued, and dispatched to the
# console channel), and a critical message overtaking 100,000 queued normal messages.
# Needs PostgreSQL (KREKI_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres).
# Extra arguments go to the tool (--messages N --backlog N --criticals N).
# Raw output: docs/bench/notify.txt
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked -p kreki-bench-notify >/dev/null 2>&1
{
  echo "# $(date -u +%FT%TZ) $(nproc) cores, $(git rev-parse --short HEAD)"
  for engine in sqlite postgres; do
    "$target/release/notify-bench" --engine "$engine" "$@"
  done
} 2>&1 | tee docs/bench/notify.txt
