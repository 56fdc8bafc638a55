#!/usr/bin/env bash
# KREKI ID (`kreki serve identity`, release build) against the reference OIDC provider, npm
# `oidc-provider` v9 (bench/identity/provider.mjs, Node.js, in-memory adapter), on the same
# machine with the same load tool (autocannon, bench/identity/load.mjs): client-credentials
# grants per second and latency at 10 and 50 connections, token introspection at 10
# connections, idle and loaded RSS of the server process; password login throughput for
# KREKI ID only. Every load run must answer 2xx only, else the script fails.
# Needs PostgreSQL (postgres@127.0.0.1:5432, override with PG_URL) and NATS (127.0.0.1:4222,
# override with NATS_URL) for KREKI ID, and Node.js + npm for the reference and the load tool.
# Usage: bench/identity.sh                 (both; raw output: docs/bench/identity.txt)
#        ONLY=reference bench/identity.sh  (or ONLY=ours: one half, no summary)
#        RUN_SECONDS=20 WARMUP_SECONDS=5   (defaults; shorter only for trying the script)
set -euo pipefail
cd "$(dirname "$0")/.."

only=${ONLY:-}
case "$only" in '' | ours | reference) ;; *) echo "ONLY must be empty, 'ours' or 'reference'" >&2; exit 2 ;; esac
run_s=${RUN_SECONDS:-20}
warm_s=${WARMUP_SECONDS:-5}
pg_url=${PG_URL:-postgres://postgres@127.0.0.1:5432}
nats_url=${NATS_URL:-nats://127.0.0.1:4222}
ours_port=18301
ref_port=18302
client_id=bench-client
client_secret=bench-secret-0123456789abcdefghijklmnopqrstuvwxyz
basic="Basic $(printf '%s:%s' "$client_id" "$client_secret" | base64 | tr -d '\n')"
form=application/x-www-form-urlencoded
grant_body='grant_type=client_credentials&scope=bench'
bench_email=bench@example.org
bench_password='Bench-Pass-2026!x'
here=bench/identity

tmp=$(mktemp -d)
db=""
server_pid=""
sampler_pid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$sampler_pid" ] && { kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; }
  [ -n "$server_pid" ] && stop_server "$server_pid"
  if [ -n "$db" ]; then
    psql "$pg_url/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
      echo "warning: could not drop database $db" >&2
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
  echo "FAILED: $*"
  echo "FAILED: $*" >&2
  exit 1
}

stop_server() { # pid: TERM, up to 5 s, then KILL
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ "$pid" = "$server_pid" ] && server_pid=""
  return 0
}

port_free() { # port
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    die "port $1 is already in use on 127.0.0.1 (a stale server?); stop it first"
  fi
}

wait_ready() { # url pid log seconds
  local url=$1 pid=$2 log=$3 limit=$4 code
  for _ in $(seq 1 $((limit * 10))); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null || true)
    [ "$code" = 200 ] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$log" >&2 || true
      die "server (pid $pid) exited before $url answered 200"
    fi
    sleep 0.1
  done
  tail -n 40 "$log" >&2 || true
  die "$url did not answer 200 within $limit s"
}

rss_kib() { ps -o rss= -p "$1" 2>/dev/null | tr -d ' ' || true; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || true; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }

sampler_start() { # pid out: max RSS every 0.5 s while the process lives
  local pid=$1 out=$2
  echo 0 >"$out"
  (
    max=0
    while kill -0 "$pid" 2>/dev/null; do
      r=$(ps -o rss= -p "$pid" 2>/dev/null | tr -d ' ' || true)
      if [ -n "$r" ] && [ "$r" -gt "$max" ]; then max=$r; echo "$max" >"$out"; fi
      sleep 0.5
    done
  ) &
  sampler_pid=$!
}
sampler_stop() {
  [ -n "$sampler_pid" ] || return 0
  kill "$sampler_pid" 2>/dev/null || true
  wait "$sampler_pid" 2>/dev/null || true
  sampler_pid=""
}

# JSON field of stdin (strings bare, others as JSON); fails when absent.
jget() {
  node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      let v; try { v = JSON.parse(s)[process.argv[1]]; } catch { process.exit(1); }
      if (v === undefined) process.exit(1);
      console.log(typeof v === "string" ? v : JSON.stringify(v));
    });' "$1"
}
# Protected header of a JWS (compact JSON), fails when the token is not a JWT.
jwt_header() {
  node -e 'const [h, p, s] = process.argv[1].split(".");
    if (!h || !p || !s) process.exit(1);
    console.log(JSON.stringify(JSON.parse(Buffer.from(h, "base64url").toString())));' "$1"
}
num() { node -p "require(process.argv[1])[process.argv[2]]" "$1" "$2"; } # file key

# One load run: label url connections seconds content-type body authorization [json-out];
# prints one line.
load() {
  node "$here/load.mjs" "$1" "$2" "$3" "$4" "$5" "$6" "$7" "${8:-$tmp/discard.json}" ||
    die "load run '$1' against $2 failed (non-2xx responses or errors, see above)"
}
# The same, with its line kept off the report (warm-up runs; still must be all 2xx).
warmup() {
  node "$here/load.mjs" "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$tmp/discard.json" >"$tmp/warmup.out" ||
    { cat "$tmp/warmup.out"; die "warm-up run '$1' against $2 failed"; }
}

post_form() { # url body -> response body; fails on non-2xx
  curl -sS --fail-with-body -u "$client_id:$client_secret" -H "content-type: $form" --data-raw "$2" "$1"
}

# Grants at 10 and 50 connections, introspection at 10; RSS. Sets <prefix>_* figures.
# name prefix pid token_url introspect_url introspect_body
measure() {
  local name=$1 p=$2 pid=$3 token_url=$4 intro_url=$5 intro_body=$6 idle loaded hwm
  sleep 3
  idle=$(rss_kib "$pid")
  sampler_start "$pid" "$tmp/$p.rss"
  warmup "$name warm-up" "$token_url" 10 "$warm_s" "$form" "$grant_body" "$basic"
  echo "client-credentials grants (POST $token_url, Basic auth, scope=bench), ${run_s} s each, after a ${warm_s} s warm-up:"
  load "$name grants, 10 connections" "$token_url" 10 "$run_s" "$form" "$grant_body" "$basic" "$tmp/$p.g10.json"
  load "$name grants, 50 connections" "$token_url" 50 "$run_s" "$form" "$grant_body" "$basic" "$tmp/$p.g50.json"
  echo "token introspection (POST $intro_url, Basic auth, token obtained beforehand), ${run_s} s:"
  warmup "$name introspection warm-up" "$intro_url" 10 3 "$form" "$intro_body" "$basic"
  load "$name introspection, 10 connections" "$intro_url" 10 "$run_s" "$form" "$intro_body" "$basic" "$tmp/$p.i10.json"
  sampler_stop
  loaded=$(cat "$tmp/$p.rss")
  hwm=$(hwm_kib "$pid")
  echo "memory of the server process (pid $pid):"
  echo "  idle RSS (ready + 3 s): $idle KiB ($(mib "$idle"))"
  echo "  loaded RSS (max of 0.5 s samples during the runs above): $loaded KiB ($(mib "$loaded")); VmHWM: ${hwm:-?} KiB"
  printf -v "${p}_idle" '%s' "$idle"
  printf -v "${p}_loaded" '%s' "$loaded"
  printf -v "${p}_g10" '%s' "$(num "$tmp/$p.g10.json" rps)"
  printf -v "${p}_g50" '%s' "$(num "$tmp/$p.g50.json" rps)"
  printf -v "${p}_i10" '%s' "$(num "$tmp/$p.i10.json" rps)"
}

# --- set-up -----------------------------------------------------------------------------
echo "# KREKI ID vs oidc-provider: client credentials, introspection, memory — $(date -u +%FT%TZ) — $(nproc) cores — $(uname -m)"
if [ ! -d "$here/node_modules" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >"$tmp/npm.log" 2>&1) ||
    { cat "$tmp/npm.log" >&2; die "npm ci in $here failed"; }
fi
ref_version=$(node -p 'require("./bench/identity/node_modules/oidc-provider/package.json").version')
ac_version=$(node -p 'require("./bench/identity/node_modules/autocannon/package.json").version')
echo "load: autocannon $ac_version (Node.js $(node --version)) on the same machine, HTTP/1.1 keep-alive, POST, pipelining 1;"
echo "      req/s = 2xx responses / run time; latency in ms; every run must be 2xx only"
if [ "$only" != reference ]; then
  cargo build --release --bin kreki >"$tmp/cargo.log" 2>&1 || { tail -n 60 "$tmp/cargo.log" >&2; die "cargo build failed"; }
  echo "ours: kreki $(git rev-parse --short HEAD 2>/dev/null || echo '?') release build, serve identity, PostgreSQL $(psql "$pg_url/postgres" -Atc 'SHOW server_version' 2>/dev/null || echo '?'), NATS"
fi
if [ "$only" != ours ]; then
  echo "reference: oidc-provider $ref_version on Node.js $(node --version), NODE_ENV=production, in-memory adapter, one process"
fi

# --- ours: KREKI ID ---------------------------------------------------------------------
if [ "$only" != reference ]; then
  echo
  echo "## ours: KREKI ID (kreki serve identity) on 127.0.0.1:$ours_port"
  port_free "$ours_port"
  db="kreki_bench_identity_$$_$(date +%s)"
  psql "$pg_url/postgres" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$db\"" >/dev/null ||
    die "could not create database $db on $pg_url"
  cat >"$tmp/kreki.toml" <<EOF
public_base_url = "http://127.0.0.1:$ours_port"
[http]
port = $ours_port
rate_limit_per_minute = 100000000
rate_limit_store = "local"
[log]
level = "warn"
[[identity.clients]]
client_id = "$client_id"
client_secret = "$client_secret"
name = "Benchmark"
confidential = true
grant_types = ["client_credentials"]
scopes = ["bench"]
EOF
  target/release/kreki --config "$tmp/kreki.toml" serve identity \
    --database-url "$pg_url/$db" --bus-url "$nats_url" >"$tmp/kreki.log" 2>&1 &
  server_pid=$!
  wait_ready "http://127.0.0.1:$ours_port/readyz" "$server_pid" "$tmp/kreki.log" 120
  ours_pid=$server_pid
  ours_token_url="http://127.0.0.1:$ours_port/oauth2/token"
  ours_intro_url="http://127.0.0.1:$ours_port/oauth2/introspect"
  resp=$(post_form "$ours_token_url" "$grant_body") || die "ours: token request failed: $resp"
  ours_token=$(jget access_token <<<"$resp") || die "ours: no access_token in $resp"
  header=$(jwt_header "$ours_token") || die "ours: access token is not a JWT: $ours_token"
  alg=$(jget alg <<<"$header") || die "ours: access token header has no alg: $header"
  echo "access token: JWT, header $header"
  [ "$alg" = ES256 ] || echo "  note: expected alg ES256, got $alg"
  resp=$(post_form "$ours_intro_url" "token=$ours_token") || die "ours: introspection failed: $resp"
  [ "$(jget active <<<"$resp" || true)" = true ] || die "ours: introspection did not answer active=true: $resp"
  measure "ours" ours "$ours_pid" "$ours_token_url" "$ours_intro_url" "token=$ours_token"

  echo "password login throughput (ours only; POST /api/auth/v1/login, JSON, 10 connections, ${run_s} s):"
  api="http://127.0.0.1:$ours_port/api/auth/v1"
  code=$(curl -s -o "$tmp/register.out" -w '%{http_code}' -H 'content-type: application/json' \
    --data-raw "{\"email\":\"$bench_email\",\"password\":\"$bench_password\",\"full_name\":\"Bench User\",\"role\":\"public\"}" \
    "$api/register" || true)
  login_body="{\"email\":\"$bench_email\",\"password\":\"$bench_password\"}"
  # 202 since registration answers alike for new and taken addresses (security finding 11).
  if [ "$code" != 201 ] && [ "$code" != 202 ]; then
    echo "  skipped: POST $api/register answered $code (expected 202): $(head -c 500 "$tmp/register.out")"
  else
    code=$(curl -s -o "$tmp/login.out" -w '%{http_code}' -H 'content-type: application/json' \
      --data-raw "$login_body" "$api/login" || true)
    if [ "${code:0:1}" != 2 ]; then
      echo "  skipped: a single POST $api/login answered $code: $(head -c 500 "$tmp/login.out")"
    else
      sampler_start "$ours_pid" "$tmp/ours.login.rss"
      load "ours password login, 10 connections" "$api/login" 10 "$run_s" application/json "$login_body" ""
      sampler_stop
      echo "  RSS during the login run (max of 0.5 s samples): $(cat "$tmp/ours.login.rss") KiB ($(mib "$(cat "$tmp/ours.login.rss")"))"
    fi
  fi
  echo "(RSS is the kreki process alone; PostgreSQL and NATS run beside it and are not counted)"
  stop_server "$ours_pid"
fi

# --- reference: oidc-provider -----------------------------------------------------------
if [ "$only" != ours ]; then
  echo
  echo "## reference: oidc-provider $ref_version (Node.js, NODE_ENV=production) on 127.0.0.1:$ref_port"
  port_free "$ref_port"
  NODE_ENV=production node "$here/provider.mjs" "$ref_port" >"$tmp/reference.log" 2>&1 &
  server_pid=$!
  ref_base="http://127.0.0.1:$ref_port"
  wait_ready "$ref_base/.well-known/openid-configuration" "$server_pid" "$tmp/reference.log" 30
  ref_pid=$server_pid
  discovery=$(curl -sS --fail "$ref_base/.well-known/openid-configuration") || die "reference: no discovery document"
  ref_token_url=$(jget token_endpoint <<<"$discovery") || die "reference: discovery has no token_endpoint"
  ref_intro_url=$(jget introspection_endpoint <<<"$discovery") || die "reference: discovery has no introspection_endpoint"
  resp=$(post_form "$ref_token_url" "$grant_body") || die "reference: token request failed: $resp"
  ref_token=$(jget access_token <<<"$resp") || die "reference: no access_token in $resp"
  header=$(jwt_header "$ref_token") || die "reference: access token is not a JWT: $ref_token"
  alg=$(jget alg <<<"$header") || die "reference: access token header has no alg: $header"
  [ "$alg" = RS256 ] || die "reference: access token alg is $alg, expected RS256"
  echo "access token: JWT, header $header"
  # oidc-provider neither stores nor introspects JWT access tokens ("Structured JWT Tokens
  # cannot be introspected"), so introspection gets an opaque token of the same client and
  # scope, for the resource urn:kreki:bench:opaque, looked up in its in-memory adapter.
  resp=$(post_form "$ref_token_url" "$grant_body&resource=urn:kreki:bench:opaque") ||
    die "reference: opaque token request failed: $resp"
  ref_opaque=$(jget access_token <<<"$resp") || die "reference: no access_token in $resp"
  resp=$(post_form "$ref_intro_url" "token=$ref_opaque") || die "reference: introspection failed: $resp"
  [ "$(jget active <<<"$resp" || true)" = true ] || die "reference: introspection did not answer active=true: $resp"
  echo "introspected token: opaque (oidc-provider does not introspect JWT access tokens)"
  measure "reference" ref "$ref_pid" "$ref_token_url" "$ref_intro_url" "token=$ref_opaque"
  stop_server "$ref_pid"
fi

# --- summary ------------------------------------------------------------------------------
# shellcheck disable=SC2154 # ours_* and ref_* are set by measure (printf -v)
if [ -z "$only" ]; then
  echo
  echo "## summary (ours / reference)"
  printf '  grants/s, 10 connections: %.1f / %.1f = %s\n' "$ours_g10" "$ref_g10" "$(ratio "$ours_g10" "$ref_g10")"
  printf '  grants/s, 50 connections: %.1f / %.1f = %s\n' "$ours_g50" "$ref_g50" "$(ratio "$ours_g50" "$ref_g50")"
  printf '  introspections/s, 10 connections: %.1f / %.1f = %s\n' "$ours_i10" "$ref_i10" "$(ratio "$ours_i10" "$ref_i10")"
  echo "  idle RSS: $ours_idle KiB / $ref_idle KiB = $(ratio "$ours_idle" "$ref_idle")"
  echo "  loaded RSS: $ours_loaded KiB / $ref_loaded KiB = $(ratio "$ours_loaded" "$ref_loaded")"
fi
