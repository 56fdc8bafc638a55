#!/usr/bin/env bash
# PostgreSQL backup and restore drill for `kreki serve` (docs/operations.md, "PostgreSQL backup
# drill"): a base backup plus archived WAL, replayed into a fresh cluster, with the Emergency
# Core on top, measuring what was lost (RPO) and how long the way back took (RTO).
#
# It never touches the shared PostgreSQL server: it creates its own throw-away cluster with
# `initdb` on a free port, run as the `postgres` user, in a temporary folder, and removes it.
#
#   1. cluster A: initdb, WAL archiving on (archive_command copies each segment to an archive
#      folder — in production CloudNativePG's barmanObjectStore does this), started;
#   2. `kreki serve emergency` on A takes N1 panics (each answered 201 = acknowledged);
#   3. base backup of A with pg_basebackup while the service runs;
#   4. N2 more panics, then the current WAL segment is switched and archived (what
#      `archive_timeout` does in production at the latest every 5 min);
#   5. N3 more panics after the last archived segment (the RPO window), then disaster: A is
#      stopped with `-m immediate` and its data folder deleted (the disk is gone);
#   6. restore: the base backup into a new folder, `restore_command` reading the archive,
#      `recovery.signal`; cluster B started on another port; wait until it is promoted; then
#      `kreki serve emergency` on B until `/readyz` answers; B takes a new panic;
#   7. checks: every panic of N1 and N2 is in B; the N3 panics (after the last archived
#      segment) are reported as the measured loss window.
#
# Usage: scripts/pg-backup-drill.sh [path/to/kreki]   (default: the debug build)
# Needs: root (to run the cluster as `postgres`), PostgreSQL's server binaries
# (/usr/lib/postgresql/<version>/bin), curl, python3. Exit 0 only if every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."
kreki=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/debug/kreki}")
n1=${DRILL_N1:-20}
n2=${DRILL_N2:-20}
n3=${DRILL_N3:-5}

[ -x "$kreki" ] || { echo "drill: no kreki binary at $kreki (cargo build --bin kreki)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "drill: run as root (the throw-away cluster runs as the postgres user)" >&2; exit 2; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$pgbin" ] && [ -x "$pgbin/initdb" ] || { echo "drill: PostgreSQL server binaries not found under /usr/lib/postgresql" >&2; exit 2; }
id postgres >/dev/null 2>&1 || { echo "drill: no postgres user" >&2; exit 2; }

work=$(mktemp -d /tmp/kreki-pg-drill.XXXXXX)
chmod 755 "$work"
kpid=""
cleanup() {
  [ -n "$kpid" ] && { kill "$kpid" 2>/dev/null || true; wait "$kpid" 2>/dev/null || true; }
  for d in a b; do
    [ -f "$work/$d/postmaster.pid" ] && runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/$d" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }
as_pg() { runuser -u postgres -- "$@"; }
psql_on() { local port=$1; shift; "$pgbin/psql" -X -h 127.0.0.1 -p "$port" -U postgres -Atq "$@"; }

say() { printf '== %s\n' "$*"; }

# --- 1. cluster A with WAL archiving ------------------------------------------------------
port_a=$(free_port)
port_b=$(free_port)
mkdir -p "$work/archive" "$work/a" "$work/sock"
chown postgres: "$work/archive" "$work/a" "$work/sock"
as_pg "$pgbin/initdb" -D "$work/a" -U postgres --auth=trust -E UTF8 >/dev/null
cat >>"$work/a/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port_a
unix_socket_directories = '$work/sock'
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $work/archive/%f && cp %p $work/archive/%f'
archive_timeout = 0
max_wal_senders = 3
fsync = on
EOF
as_pg "$pgbin/pg_ctl" -D "$work/a" -l "$work/a/server.log" -w start >/dev/null
psql_on "$port_a" -c "CREATE DATABASE kreki_emergency"
say "cluster A: PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port_a, WAL archived to $work/archive"

# --- the Emergency Core on a cluster -------------------------------------------------------
start_kreki() { # port of the cluster
  local db="postgres://postgres@127.0.0.1:$1/kreki_emergency"
  KREKI_LOG__LEVEL=warn KREKI_HTTP__METRICS_PORT=0 KREKI_HTTP__RATE_LIMIT_PER_MINUTE=1000000 \
    "$kreki" serve emergency --port 0 --database-url "$db" --bus-url nats://127.0.0.1:9 \
    >"$work/kreki.log" 2>&1 &
  kpid=$!
  base=""
  for _ in $(seq 1 200); do
    base=$(grep -o 'listening on http://[0-9.:]*' "$work/kreki.log" | head -1 | sed 's/listening on //') || true
    [ -n "$base" ] && curl -fs -o /dev/null "$base/api/emergency/v1/readyz" && return 0
    kill -0 "$kpid" 2>/dev/null || { cat "$work/kreki.log"; echo "drill: kreki serve emergency died" >&2; exit 1; }
    sleep 0.1
  done
  cat "$work/kreki.log"
  echo "drill: kreki serve emergency not ready" >&2
  exit 1
}
stop_kreki() {
  kill "$kpid" 2>/dev/null || true
  wait "$kpid" 2>/dev/null || true
  kpid=""
}
# panic <tag> <n>: n panics, each must be answered 201; their case ids appended to ids-<tag>.
panic() {
  local tag=$1 n=$2 i out code
  for i in $(seq 1 "$n"); do
    seq_no=$((seq_no + 1))
    out=$(curl -s -w '\n%{http_code}' -H 'content-type: application/json' \
      -H "Idempotency-Key: drill-$tag-$i" \
      --data-raw "{\"latitude\":-6.2$i,\"longitude\":106.8$i,\"accuracy_m\":15,\"severity\":\"critical\",\"type\":\"cardiac_arrest\",\"caller_phone\":\"+62813$(printf '%08d' "$((40000000 + seq_no))")\"}" \
      "$base/api/emergency/v1/panic")
    code=$(tail -1 <<<"$out")
    [ "$code" = 201 ] || { echo "drill: panic $tag-$i answered $code: $(head -1 <<<"$out")" >&2; exit 1; }
    head -1 <<<"$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["id"])' >>"$work/ids-$tag"
  done
}

seq_no=0
start_kreki "$port_a"
panic n1 "$n1"
say "$n1 panics acknowledged on A"

# --- 3. base backup while the service runs ------------------------------------------------
t=$(now_ms)
mkdir -p "$work/base" && chown postgres: "$work/base"
as_pg "$pgbin/pg_basebackup" -h 127.0.0.1 -p "$port_a" -U postgres -D "$work/base" -X stream -c fast
say "base backup: $(du -sh "$work/base" | cut -f1) in $(($(now_ms) - t)) ms"

# --- 4. more panics, the segment archived --------------------------------------------------
panic n2 "$n2"
seg=$(psql_on "$port_a" -c "SELECT pg_walfile_name(pg_switch_wal())")
for _ in $(seq 1 100); do
  [ -f "$work/archive/$seg" ] && break
  sleep 0.1
done
[ -f "$work/archive/$seg" ] || { echo "drill: WAL segment $seg was not archived" >&2; exit 1; }
archived_at=$(now_ms)
say "$n2 more panics acknowledged; WAL up to $seg archived"

# --- 5. the RPO window, then disaster -----------------------------------------------------
panic n3 "$n3"
lost_window_ms=$(($(now_ms) - archived_at))
say "$n3 panics acknowledged after the last archived segment (${lost_window_ms} ms of commits)"
stop_kreki
as_pg "$pgbin/pg_ctl" -D "$work/a" -m immediate stop >/dev/null
rm -rf "$work/a"
say "disaster: cluster A stopped (immediate) and its data folder deleted"

# --- 6. restore into cluster B -----------------------------------------------------------
t0=$(now_ms)
cp -a "$work/base" "$work/b"
touch "$work/b.server.log" && chown postgres: "$work/b.server.log"
cat >>"$work/b/postgresql.conf" <<EOF
port = $port_b
unix_socket_directories = '$work/sock'
archive_mode = off
restore_command = 'cp $work/archive/%f %p'
recovery_target_timeline = 'latest'
EOF
touch "$work/b/recovery.signal"
chown -R postgres: "$work/b"
chmod 700 "$work/b"
as_pg "$pgbin/pg_ctl" -D "$work/b" -l "$work/b.server.log" -w -t 120 start >/dev/null ||
  { tail -20 "$work/b.server.log"; echo "drill: B did not start" >&2; exit 1; }
for _ in $(seq 1 600); do
  [ "$(psql_on "$port_b" -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && break
  sleep 0.1
done
[ "$(psql_on "$port_b" -c 'SELECT pg_is_in_recovery()')" = f ] || { tail -20 "$work/b.server.log"; echo "drill: B did not finish recovery" >&2; exit 1; }
t_db=$(now_ms)
start_kreki "$port_b"
t_ready=$(now_ms)
panic after 1
say "cluster B recovered in $((t_db - t0)) ms; kreki serve emergency ready on B $((t_ready - t0)) ms after the restore began; B takes a new panic"

# --- 7. checks ------------------------------------------------------------------------------
count_in_b() { # file of ids
  local list
  list=$(sed "s/.*/'&'/" "$1" | paste -sd, -)
  psql_on "$port_b" -d kreki_emergency -c "SELECT count(*) FROM cases WHERE id IN ($list)"
}
have1=$(count_in_b "$work/ids-n1")
have2=$(count_in_b "$work/ids-n2")
have3=$(count_in_b "$work/ids-n3")
stop_kreki
echo "panics acknowledged before the base backup:            $n1, restored $have1"
echo "panics acknowledged before the last archived segment:  $n2, restored $have2"
echo "panics acknowledged after it (the RPO window):          $n3, restored $have3 (window ${lost_window_ms} ms)"
echo "RTO (restore began → database promoted):                $((t_db - t0)) ms"
echo "RTO (restore began → Emergency Core ready on it):       $((t_ready - t0)) ms"
[ "$have1" = "$n1" ] && [ "$have2" = "$n2" ] || { echo "drill: FAILED — acknowledged panics covered by the archive are missing" >&2; exit 1; }
[ "$have3" -le "$n3" ] || exit 1
echo "drill passed: every panic covered by the base backup and the archived WAL is back"
