#!/usr/bin/env bash
# End to end: `kreki serve emergency` on PostgreSQL + NATS JetStream with 10 000 volunteer
# WebSockets sending locations every 3 s while panics arrive; panic HTTP latency, panic →
# first offer on a volunteer socket, server memory. Needs PostgreSQL (KREKI_TEST_DATABASE_URL,
# default postgres://postgres@127.0.0.1:5432/postgres) and NATS with JetStream on 127.0.0.1:4222.
# Extra arguments go to the tool (--volunteers N --panics-per-s R --duration-s S).
# Raw output: docs/bench/load.txt
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked -p kreki -p kreki-bench-load >/dev/null 2>&1
"$target/release/load-bench" --kreki "$target/release/kreki" "$@" | tee docs/bench/load.txt
