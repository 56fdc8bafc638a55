#!/usr/bin/env bash
# Property-based API tests of every OpenAPI document with schemathesis (PyPI, pinned in
# scripts/schemathesis/requirements.txt, installed once into ~/.cache/kreki-schemathesis).
# Starts `kreki up --demo` (the binary given, default the debug build) on a free port with
# every webhook channel configured, then runs schemathesis over the six segments' documents,
# anonymously and with a signed-in Ops Admin's token (password + TOTP through the JSON API):
# no 5xx, no undocumented status code, no answer outside its schema or content type.
# Bounded: --max-examples per operation and a wall-clock cap per run; destructive operations
# (erasing the account, rotating keys, logging the token out) are excluded.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-${CARGO_TARGET_DIR:-target}/debug/kreki}
examples=${SCHEMATHESIS_EXAMPLES:-10}
cap_s=${SCHEMATHESIS_CAP_S:-240}
started=$(date +%s)

venv=$HOME/.cache/kreki-schemathesis/venv
reqs=scripts/schemathesis/requirements.txt
if [ ! -x "$venv/bin/schemathesis" ] || ! cmp -s "$reqs" "$venv/requirements.txt"; then
  echo "== installing schemathesis (PyPI, $reqs)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$reqs"
  cp "$reqs" "$venv/requirements.txt"
fi

work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
# Every webhook is configured (an unconfigured one answers 404 by design); sends go nowhere;
# the general per-IP limit is lifted so that the examples reach the handlers (429 is documented).
KREKI_EMERGENCY__SMS_WEBHOOK_SECRET=schemathesis-sms-secret \
KREKI_NOTIFY__SMS__URL=http://127.0.0.1:9/sms \
KREKI_NOTIFY__SMS__API_KEY=schemathesis \
KREKI_NOTIFY__SMS__WEBHOOK_SECRET=schemathesis-receipts \
KREKI_HTTP__METRICS_PORT=0 \
KREKI_HTTP__RATE_LIMIT_PER_MINUTE=1000000 \
KREKI_LOG__LEVEL=warn \
  "$bin" up --demo --demo-sim off --data-dir "$work/data" --port "$port" >"$work/up.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
  curl -fsS "$base/api/emergency/v1/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/up.log"; echo "kreki up died" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "$base/api/emergency/v1/readyz" >/dev/null || { tail -50 "$work/up.log"; exit 1; }
token=$(python3 scripts/schemathesis/token.py "$base" ops@demo.kreki.id 'Demo-Kreki-119!' \
  KREKIOPSADMINDEMOSEED234567ABCDE)

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
failed=()
run() {
  local seg=$1 who=$2
  shift 2
  echo "== schemathesis /api/$seg/v1 ($who)"
  # From the temporary folder: schemathesis keeps its cache (.schemathesis/) in the working one.
  if ! (cd "$work" && timeout "$cap_s" "$venv/bin/schemathesis" run "$base/api/$seg/v1/openapi.json" \
      --url "$base" --checks "$checks" --max-examples "$examples" \
      --phases examples,coverage,fuzzing --seed 119 --no-color \
      --exclude-name 'DELETE /api/auth/v1/me' --exclude-name 'POST /api/auth/v1/logout' \
      --exclude-name 'POST /api/auth/v1/admin/keys/rotate' \
      "$@" >"$work/st.txt" 2>&1); then
    failed+=("$seg ($who)")
    cat "$work/st.txt"
  else
    grep -A1 '^Test cases:' "$work/st.txt" | tail -1 || tail -3 "$work/st.txt"
  fi
}
for seg in auth emergency volunteers lms notify satusehat; do
  run "$seg" anonymous
  run "$seg" ops -H "Authorization: Bearer $token"
done
echo "== schemathesis took $(($(date +%s) - started)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "schemathesis found problems in: ${failed[*]}" >&2
  exit 1
fi
echo "== schemathesis: no 5xx, no undocumented status code, no schema violation"
