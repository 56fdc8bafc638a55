#!/usr/bin/env bash
# All checks: formatting, clippy (warnings are errors), the deployment kit (rendered and
# validated: scripts/check-deploy.sh), every test. Then the browser end-to-end tests of the
# web apps (web/tests/run.mjs) in Chromium against the debug binary, and schemathesis over
# every OpenAPI document (scripts/schemathesis.sh). Tests that need
# PostgreSQL (KREKI_TEST_DATABASE_URL, default 127.0.0.1:5432) and NATS JetStream
# (KREKI_TEST_NATS_URL, default 127.0.0.1:4222) run against those servers; with CI=true a
# missing server fails the run instead of skipping. Each stage prints its time.
set -euo pipefail
cd "$(dirname "$0")/.."

run_started=$(date +%s)
stage_started=$run_started
stage_name=""
stage() {
  local now
  now=$(date +%s)
  if [ -n "$stage_name" ]; then
    echo "-- stage '$stage_name' took $((now - stage_started)) s"
  fi
  stage_name="$1"
  stage_started=$now
  [ -n "$1" ] && echo "== $1"
  return 0
}

stage "setup (scripts/setup.sh)"
scripts/setup.sh

stage "cargo fmt --check"
cargo fmt --all -- --check
stage "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
stage "deployment kit (scripts/check-deploy.sh)"
scripts/check-deploy.sh
stage "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
stage "browser tests (web/tests/run.mjs, Chromium)"
cargo build --locked --bin kreki
node web/tests/run.mjs "${CARGO_TARGET_DIR:-target}/debug/kreki"
stage "API fuzzing (scripts/schemathesis.sh: schemathesis over the six OpenAPI documents)"
scripts/schemathesis.sh "${CARGO_TARGET_DIR:-target}/debug/kreki"
stage ""
echo "== all checks passed in $(($(date +%s) - run_started)) s"
