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

# Independent test peers of the notify service (PyPI, pinned): http-ece + PyJWT check Web
# Push payloads and VAPID tokens, aiosmtpd receives our e-mail.
if ! python3 -c "import http_ece, jwt, aiosmtpd" 2>/dev/null; then
  echo "== installing the notify test peers (PyPI: crates/notify/service/tests/peers/requirements.txt)"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    sudo_cmd=""
    if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-pip >/dev/null
  fi
  reqs=crates/notify/service/tests/peers/requirements.txt
  python3 -m pip install --quiet --disable-pip-version-check -r "$reqs" 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages -r "$reqs"
fi
