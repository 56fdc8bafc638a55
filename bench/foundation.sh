#!/usr/bin/env bash
# Foundation figures of `kreki up` (release build): start-up time on a fresh and on an
# existing data directory (spawn → /readyz answering 200), and idle memory (RSS).
# Usage: bench/foundation.sh [runs]   (raw output: docs/bench/foundation.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release --bin kreki >/dev/null 2>&1
bin=target/release/kreki
dir=$(mktemp -d)
port=18555
echo "# kreki up start-up and idle memory — $(date -u +%FT%TZ) — $(nproc) cores — $(uname -m)"
start_once() {
  local t0 t1 pid
  t0=$(date +%s%N)
  KREKI_LOG__LEVEL=warn $bin up --data-dir "$dir/data" --port $port >/dev/null 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.005; done
  t1=$(date +%s%N)
  echo "$pid $(( (t1 - t0) / 1000000 ))"
}
read -r pid ms < <(start_once)
echo "fresh data dir: ready in ${ms} ms (creates and migrates 7 SQLite databases)"
sleep 3
echo "idle RSS after 3 s: $(ps -o rss= -p "$pid" | tr -d ' ') KiB"
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
for i in $(seq 1 "$runs"); do
  read -r pid ms < <(start_once)
  echo "existing data dir, run $i: ready in ${ms} ms"
  if [ "$i" = "$runs" ]; then
    sleep 10
    echo "idle RSS after 10 s: $(ps -o rss= -p "$pid" | tr -d ' ') KiB"
    for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; done
    echo "RSS after 200 readiness checks: $(ps -o rss= -p "$pid" | tr -d ' ') KiB"
  fi
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
done
rm -rf "$dir"
