#!/usr/bin/env bash
# Nearest-volunteer search: PostGIS (standards' SQL and KNN), Redis GEOSEARCH and the
# Emergency Core's grid on the same 1,000,000 volunteers; then ingest rates.
# Needs PostgreSQL (KREKI_TEST_DATABASE_URL) and Redis on 127.0.0.1:6379; installs PostGIS
# from Debian if missing. Raw output: docs/bench/geo.txt
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
  ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-${ver}-postgis-3" >/dev/null
fi
cargo build --release -p kreki-bench-geo >/dev/null 2>&1
target/release/geo-bench "$@" | tee docs/bench/geo.txt
