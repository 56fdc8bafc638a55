#!/usr/bin/env bash
# A production-shaped KREKI on one machine (what deploy/kubernetes/production describes):
# three nats-server processes clustered with JetStream (streams replicated 3 times), the
# PostgreSQL server (one database per service), two Emergency Core replicas and one process of
# every other service (`kreki serve`), nginx in front (upstreams with keepalive, WebSocket
# upgrade, `/metrics` denied, panics retried on the other replica — they carry an
# Idempotency-Key). For the failure tests (apps/kreki/tests/kreki/cluster.rs) and for trying
# failures by hand.
#
#   scripts/cluster-local.sh up        start everything, wait until every process is ready
#   scripts/cluster-local.sh status    what runs where
#   scripts/cluster-local.sh kill NAME...  kill -9 processes (identity, volunteers, lms,
#                                          notify, bridge, emergency-a, emergency-b, nats-1..3)
#   scripts/cluster-local.sh start NAME... start them again with the same commands
#   scripts/cluster-local.sh restart NAME  SIGTERM, wait for the drain, start, wait until ready
#   scripts/cluster-local.sh down      stop everything, drop the databases and the folder
#
# Environment: CLUSTER_KREKI (default target/debug/kreki), CLUSTER_DIR (default
# /tmp/kreki-cluster), PG_URL (default postgres://postgres@127.0.0.1:5432), and for tests that
# sign their own tokens KREKI_AUTH__JWKS_URL / KREKI_AUTH__ISSUER (default: the cluster's own
# KREKI ID). Needs nats-server and nginx (Debian packages; installed here when missing and
# running as root), python3, curl, psql. State: $CLUSTER_DIR/cluster.json.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir=${CLUSTER_DIR:-/tmp/kreki-cluster}
pg_url=${PG_URL:-postgres://postgres@127.0.0.1:5432}
services="identity volunteers lms notify bridge emergency-a emergency-b"

die() { echo "cluster-local: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
state() { python3 -c "import json,sys; print(json.load(open('$dir/cluster.json'))$1)"; }
pid_of() { cat "$dir/pids/$1" 2>/dev/null || true; }
alive() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

need_tools() {
  local missing=()
  command -v nats-server >/dev/null || missing+=(nats-server)
  command -v nginx >/dev/null || missing+=(nginx)
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing ${missing[*]}: apt-get install ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# start NAME: runs $dir/cmd/NAME.sh in the background, records its pid.
start_one() {
  local name=$1
  [ -f "$dir/cmd/$name.sh" ] || die "unknown process $name"
  alive "$name" && return 0
  setsid bash "$dir/cmd/$name.sh" >>"$dir/logs/$name.log" 2>&1 < /dev/null &
  echo $! >"$dir/pids/$name"
}

wait_ready() { # NAME URL [seconds]
  local name=$1 url=$2 secs=${3:-60} i
  for i in $(seq 1 $((secs * 10))); do
    curl -fs -o /dev/null "$url" && return 0
    alive "$name" || { tail -20 "$dir/logs/$name.log" >&2; die "$name exited"; }
    sleep 0.1
  done
  tail -20 "$dir/logs/$name.log" >&2
  die "$name not ready at $url after ${secs} s"
}

ready_url() { # NAME
  case $1 in
    nats-*) echo "http://127.0.0.1:$(state "['nats']['$1']['monitor']")/healthz?js-enabled-only=true" ;;
    *) echo "http://127.0.0.1:$(state "['services']['$1']['port']")/readyz" ;;
  esac
}

cmd_up() {
  need_tools
  [ -x "${CLUSTER_KREKI:-target/debug/kreki}" ] || die "no kreki binary at ${CLUSTER_KREKI:-target/debug/kreki} (cargo build --bin kreki)"
  local kreki
  kreki=$(realpath "${CLUSTER_KREKI:-target/debug/kreki}")
  [ -e "$dir/cluster.json" ] && die "$dir holds a cluster: scripts/cluster-local.sh down first"
  mkdir -p "$dir/cmd" "$dir/pids" "$dir/logs" "$dir/nginx"
  local id
  id=$(python3 -c 'import secrets; print(secrets.token_hex(4))')

  # Ports for everything, recorded first.
  python3 - "$dir" "$id" "$services" >"$dir/cluster.json" <<'EOF'
import json, socket, sys
d, cid, services = sys.argv[1], sys.argv[2], sys.argv[3].split()
socks = []
def port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s); return s.getsockname()[1]
st = {"id": cid, "dir": d, "nginx": port(),
      "nats": {f"nats-{i}": {"client": port(), "cluster": port(), "monitor": port()} for i in (1, 2, 3)},
      "services": {s: {"port": port(), "db": f"kreki_cl_{cid}_{s.split('-')[0]}"} for s in services},
      "stream": f"KREKI_CL_{cid.upper()}", "prefix": f"cl{cid}"}
st["nats_url"] = ",".join(f"nats://127.0.0.1:{n['client']}" for n in st["nats"].values())
st["base_url"] = f"http://127.0.0.1:{st['nginx']}"
print(json.dumps(st, indent=2))
EOF

  # NATS: three clustered JetStream servers.
  local routes
  routes=$(python3 -c "import json; s=json.load(open('$dir/cluster.json')); print(','.join('nats://127.0.0.1:%d' % n['cluster'] for n in s['nats'].values()))")
  for i in 1 2 3; do
    mkdir -p "$dir/nats-$i"
    cat >"$dir/cmd/nats-$i.sh" <<EOF
exec nats-server -n kreki-local-$i -a 127.0.0.1 -p $(state "['nats']['nats-$i']['client']") \\
  -m $(state "['nats']['nats-$i']['monitor']") -js -sd $dir/nats-$i \\
  --cluster_name kreki-local --cluster nats://127.0.0.1:$(state "['nats']['nats-$i']['cluster']") \\
  --routes $routes
EOF
    start_one "nats-$i"
  done
  for i in 1 2 3; do wait_ready "nats-$i" "$(ready_url "nats-$i")" 30; done

  # One database per service on the PostgreSQL server.
  local svc db
  for svc in identity volunteers lms notify bridge emergency; do
    db="kreki_cl_${id}_$svc"
    psql "$pg_url/postgres" -qXc "CREATE DATABASE $db" >/dev/null
  done

  # The services. Tokens: the cluster's own KREKI ID unless the caller brings a key set.
  local identity_port jwks issuer base
  identity_port=$(state "['services']['identity']['port']")
  base=$(state "['base_url']")
  jwks=${KREKI_AUTH__JWKS_URL:-http://127.0.0.1:$identity_port/.well-known/jwks.json}
  issuer=${KREKI_AUTH__ISSUER:-$base}
  # The caller's other KREKI_* settings reach every process, also when restarted later.
  export -p | grep -E '^declare -x KREKI_' | grep -vE '^declare -x KREKI_(AUTH__JWKS_URL|AUTH__ISSUER)=' >"$dir/env.sh" || true
  for name in $services; do
    svc=${name%%-*}
    cat >"$dir/cmd/$name.sh" <<EOF
source $dir/env.sh
export KREKI_PUBLIC_BASE_URL=$base
export KREKI_HTTP__TRUST_PROXY=true
export KREKI_HTTP__METRICS_PORT=0
export KREKI_HTTP__RATE_LIMIT_PER_MINUTE=\${KREKI_HTTP__RATE_LIMIT_PER_MINUTE:-100000}
export KREKI_BUS__STREAM=$(state "['stream']")
export KREKI_BUS__SUBJECT_PREFIX=$(state "['prefix']")
export KREKI_BUS__REPLICAS=3
export KREKI_AUTH__JWKS_URL=$jwks
export KREKI_AUTH__ISSUER=$issuer
export KREKI_LOG__LEVEL=\${KREKI_LOG__LEVEL:-warn}
export KREKI_NOTIFY__CONSOLE=on
export KREKI_NOTIFY__CONSOLE_FILE=$dir/console.jsonl
exec $kreki serve $svc --port $(state "['services']['$name']['port']") \\
  --database-url $pg_url/$(state "['services']['$name']['db']") --bus-url $(state "['nats_url']")
EOF
    # Migrations run at start; the two Emergency Core replicas must not race the first one.
    start_one "$name"
    [ "$name" = emergency-a ] && wait_ready "$name" "$(ready_url "$name")" 120
  done
  for name in $services; do wait_ready "$name" "$(ready_url "$name")" 120; done

  # nginx in front, from `kreki routes` (one source of truth for path ownership).
  "$kreki" routes --format json >"$dir/routes.json"
  python3 - "$dir" >"$dir/nginx/nginx.conf" <<'EOF'
import json, sys
d = sys.argv[1]
st = json.load(open(f"{d}/cluster.json"))
routes = json.load(open(f"{d}/routes.json"))
private = routes["private"]
routes = routes["routes"]
ports = {}
for name, s in st["services"].items():
    ports.setdefault(name.split("-")[0], []).append(s["port"])
out = [f"pid {d}/nginx/nginx.pid;", f"error_log {d}/logs/nginx-error.log warn;",
       "worker_processes 1;", "events { worker_connections 4096; }", "http {",
       "  access_log off;", f"  client_body_temp_path {d}/nginx/body;",
       f"  proxy_temp_path {d}/nginx/proxy;", f"  fastcgi_temp_path {d}/nginx/fcgi;",
       f"  uwsgi_temp_path {d}/nginx/uwsgi;", f"  scgi_temp_path {d}/nginx/scgi;",
       "  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }"]
for svc, ps in ports.items():
    out.append(f"  upstream kreki_{svc} {{")
    if len(ps) > 1:
        out.append("    least_conn;")
    # Never marked down: a request that finds a process gone (connection refused, fast on
    # one host) is passed to the next server, so a restarted replica takes traffic again at
    # once and two replicas restarted one after the other are never both "down" to nginx.
    out += [f"    server 127.0.0.1:{p} max_fails=0;" for p in ps]
    out += ["    keepalive 32;", "  }"]
out += ["  server {", f"    listen 127.0.0.1:{st['nginx']};", "    client_max_body_size 12m;",
       ] + [f"    location = {p} {{ return 404; }}" for p in private]
seen = set()
for r in routes:
    if r["availability"] not in ("served", "planned") or r["service"] not in ports:
        continue
    for prefix in [r["prefix"]]:
        if prefix in seen:
            continue
        seen.add(prefix)
        svc = r["service"]
        loc = f"location = {prefix}" if prefix == "/status" else f"location {prefix}"
        out.append(f"    {loc} {{")
        out += [f"      proxy_pass http://kreki_{svc};", "      proxy_http_version 1.1;",
                "      proxy_set_header Host $host;",
                "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
                "      proxy_set_header X-Forwarded-Proto $scheme;"]
        if r.get("websocket"):
            out += ["      proxy_set_header Upgrade $http_upgrade;",
                    "      proxy_set_header Connection $connection_upgrade;",
                    "      proxy_read_timeout 3600s;"]
        else:
            out.append('      proxy_set_header Connection "";')
        if svc == "emergency":
            # A panic carries an Idempotency-Key: retrying it on the other replica is safe.
            out += ["      proxy_next_upstream error timeout http_502 http_503 non_idempotent;",
                    "      proxy_next_upstream_tries 2;", "      proxy_connect_timeout 1s;"]
        out.append("    }")
out += ["  }", "}"]
print("\n".join(out))
EOF
  mkdir -p "$dir/nginx/body" "$dir/nginx/proxy" "$dir/nginx/fcgi" "$dir/nginx/uwsgi" "$dir/nginx/scgi"
  nginx -t -q -c "$dir/nginx/nginx.conf" -p "$dir/nginx" 2>"$dir/logs/nginx-test.log" ||
    { cat "$dir/logs/nginx-test.log" >&2; die "nginx configuration refused"; }
  echo "exec nginx -c $dir/nginx/nginx.conf -p $dir/nginx -g 'daemon off;'" >"$dir/cmd/nginx.sh"
  start_one nginx
  wait_ready nginx "$base/api/emergency/v1/readyz" 30
  echo "cluster $id up: $base (state: $dir/cluster.json)"
}

cmd_status() {
  [ -f "$dir/cluster.json" ] || die "no cluster in $dir"
  local name
  for name in nats-1 nats-2 nats-3 $services nginx; do
    if alive "$name"; then echo "$name running (pid $(pid_of "$name"))"; else echo "$name stopped"; fi
  done
}

cmd_kill() { # NAME...: kill -9 them all at once
  local name p pids=()
  for name in "$@"; do
    p=$(pid_of "$name")
    [ -n "$p" ] || die "unknown process $name"
    kill -9 "$p" 2>/dev/null || true
    pids+=("$p")
  done
  for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done
}

cmd_start() { # NAME...: start them all, then wait until each is ready
  local name
  for name in "$@"; do start_one "$name"; done
  for name in "$@"; do
    case $name in nginx) ;; *) wait_ready "$name" "$(ready_url "$name")" 120 ;; esac
  done
}

cmd_restart() {
  local name=$1 p
  p=$(pid_of "$name")
  [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 600); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$p" 2>/dev/null || true
  cmd_start "$name"
}

cmd_down() {
  [ -f "$dir/cluster.json" ] || { rm -rf "$dir"; return 0; }
  local name p id
  for name in nginx $services nats-1 nats-2 nats-3; do
    p=$(pid_of "$name")
    [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
  done
  sleep 0.5
  for name in nginx $services nats-1 nats-2 nats-3; do
    p=$(pid_of "$name")
    [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true
  done
  id=$(state "['id']")
  for svc in identity volunteers lms notify bridge emergency; do
    psql "$pg_url/postgres" -qXc "DROP DATABASE IF EXISTS kreki_cl_${id}_$svc WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$dir"
}

case ${1:-} in
  up) cmd_up ;;
  status) cmd_status ;;
  kill) shift; [ $# -gt 0 ] || die "kill NAME..."; cmd_kill "$@" ;;
  start) shift; [ $# -gt 0 ] || die "start NAME..."; cmd_start "$@" ;;
  restart) cmd_restart "${2:?name}" ;;
  down) cmd_down ;;
  *) sed -n '2,25p' "$0"; exit 2 ;;
esac
