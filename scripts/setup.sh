#!/usr/bin/env bash
# Idempotent set-up of what the build and the tests need beyond Rust itself.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
  echo "error: Rust (cargo) is required: https://rustup.rs" >&2
  exit 1
fi
# Nothing else is needed yet: every crate is pure Rust (rustls with ring, bundled SQLite).
