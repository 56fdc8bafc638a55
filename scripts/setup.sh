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

# The browser apps (web/): Node.js 20 with npm builds them; the browser tests drive Debian's
# Chromium (never a downloaded browser).
apt_install() {
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  if [ -z "${apt_updated:-}" ]; then $sudo_cmd apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@" >/dev/null
}
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "== installing nodejs and npm (Debian packages)"
  apt_install nodejs npm
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'; then
  echo "error: Node.js 18 or newer is needed for web/ (found $(node --version))" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (Debian package, for the browser tests)"
  apt_install chromium
fi
# npm ci only when the lockfile changed since the last install.
if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  echo "== npm ci (web/)"
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "== building the web apps (web/dist)"
(cd web && node build.mjs)

# Independent test peers of the notify service (PyPI, pinned): http-ece + PyJWT check Web
# Push payloads and VAPID tokens, aiosmtpd receives our e-mail.
if ! python3 -c "import http_ece, jwt, aiosmtpd" 2>/dev/null; then
  echo "== installing the notify test peers (PyPI: crates/notify/service/tests/peers/requirements.txt)"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    apt_install python3-pip
  fi
  reqs=crates/notify/service/tests/peers/requirements.txt
  python3 -m pip install --quiet --disable-pip-version-check -r "$reqs" 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages -r "$reqs"
fi

# The LMS tests check certificate credentials with an independent JOSE library (npm `jose`).
if [ ! -d crates/lms/service/tests/jose/node_modules/jose ]; then
  echo "== npm ci (crates/lms/service/tests/jose)"
  (cd crates/lms/service/tests/jose && npm ci --no-audit --no-fund --loglevel=error)
fi
