#!/usr/bin/env bash
# Idempotent set-up of what the build and the tests need beyond Rust itself.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
  echo "error: Rust (cargo) is required: https://rustup.rs" >&2
  exit 1
fi

# webauthn-rs (KREKI ID passkeys) links the system OpenSSL: its headers and pkg-config.
if ! pkg-config --exists openssl 2>/dev/null; then
  echo "== installing libssl-dev and pkg-config (Debian packages)"
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq libssl-dev pkg-config >/dev/null
fi

# The LMS tests check certificate credentials with an independent JOSE library (npm `jose`,
# installed by the test from crates/lms/service/tests/jose/package-lock.json): node and npm.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "== installing nodejs and npm (Debian packages)"
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq nodejs npm >/dev/null
fi
