#!/usr/bin/env bash
# All checks: formatting, clippy (warnings are errors) and every test.
# Then the browser end-to-end tests of the web apps (web/tests/run.mjs) in Chromium against
# the debug binary. Tests that need PostgreSQL (KREKI_TEST_DATABASE_URL, default 127.0.0.1:5432) and NATS
# JetStream (KREKI_TEST_NATS_URL, default 127.0.0.1:4222) run against those servers; with
# CI=true a missing server fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
echo "== browser tests (web/tests/run.mjs, Chromium)"
cargo build --locked --bin kreki
node web/tests/run.mjs "${CARGO_TARGET_DIR:-target}/debug/kreki"
