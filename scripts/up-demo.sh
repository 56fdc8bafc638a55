#!/usr/bin/env bash
# Build the platform (release) and start every service with demo data on
# http://127.0.0.1:8119. Extra arguments go to `kreki up`, e.g. --port 9000 --demo-sim off.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh   # also builds the web apps into web/dist (served at /, /relawan/, /ops/)
cargo build --release --bin kreki
exec "${CARGO_TARGET_DIR:-target}/release/kreki" up --demo "$@"
