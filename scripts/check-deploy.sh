#!/usr/bin/env bash
# Render and validate the deployment kit (no cluster needed):
#   1. every kustomize overlay of deploy/kubernetes/ rendered with `kubectl kustomize`, and
#      again with Debian's pinned kubernetes-client (kustomize v2), which must agree;
#   2. the built-in kinds validated strictly against the Kubernetes schemas (PyPI
#      kubernetes-validate, pinned in deploy/requirements-check.txt; the schemas ship in the
#      package) for the oldest and the newest Kubernetes the kit supports;
#   3. deploy/nginx.conf through `nginx -t` (with a throw-away certificate);
#   4. the Prometheus configuration and rules of deploy/observability/ with `promtool check`,
#      the rules' unit tests with `promtool test rules`, the Prometheus Operator's copy of the
#      rules in step (scripts/gen-prometheus-rules.py --check).
# What a schema cannot see (probes, drain, Secrets by reference, the Ingress and nginx
# against `kreki routes`, CloudNativePG, NATS, monitoring) is checked by the Rust tests:
#   cargo nextest run -p kreki -E 'test(deploy::)'
#
# Installs what it needs, once (idempotent): Debian packages nginx and prometheus (for
# promtool), kubectl's fallback (kubernetes-client, unpacked, not installed), and a Python
# virtualenv under $KREKI_DEPLOY_TOOLS (default ~/.cache/kreki-deploy).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${KREKI_DEPLOY_TOOLS:-$HOME/.cache/kreki-deploy}"
# Kubernetes versions to validate against: the oldest the kit supports (preStop `sleep`
# needs 1.30) and a recent one.
K8S_VERSIONS="${KREKI_K8S_VERSIONS:-1.30.0 1.34.0}"
OVERLAYS="cluster base single-node production"
mkdir -p "$TOOLS"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
started=$(date +%s)

say() { printf '\n== %s\n' "$*"; }

APT_UPDATED=0
apt_install() {
    if [ "$(id -u)" != 0 ]; then
        echo "missing $*: install it (apt-get install $*) or run as root" >&2
        exit 1
    fi
    if [ "$APT_UPDATED" = 0 ]; then
        apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- tools ---------------------------------------------------------------------------------
say "tools"
command -v nginx >/dev/null 2>&1 || apt_install nginx
command -v promtool >/dev/null 2>&1 || apt_install prometheus

# The fallback renderer: Debian's kubernetes-client (kubectl 1.20, kustomize v2.0.3),
# unpacked into the tools folder so it never replaces an installed kubectl.
PINNED_KUBECTL="$TOOLS/kubernetes-client/usr/bin/kubectl"
if [ ! -x "$PINNED_KUBECTL" ]; then
    if [ "$(id -u)" = 0 ] && [ "$APT_UPDATED" = 0 ]; then apt-get update -qq; APT_UPDATED=1; fi
    (cd "$WORK" && apt-get download kubernetes-client >/dev/null 2>&1)
    dpkg -x "$WORK"/kubernetes-client_*.deb "$TOOLS/kubernetes-client"
fi
KUBECTL="${KREKI_KUSTOMIZE:-}"
if [ -z "$KUBECTL" ]; then
    if command -v kubectl >/dev/null 2>&1; then KUBECTL=kubectl; else KUBECTL="$PINNED_KUBECTL"; fi
fi

VENV="$TOOLS/venv"
REQ="$ROOT/deploy/requirements-check.txt"
if [ ! -x "$VENV/bin/kubernetes-validate" ] || ! cmp -s "$REQ" "$VENV/.requirements"; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ"
    cp "$REQ" "$VENV/.requirements"
fi
echo "kubectl: $($KUBECTL version --client 2>/dev/null | head -1)"
echo "pinned renderer: $($PINNED_KUBECTL version --client 2>/dev/null | grep -o 'GitVersion:"[^"]*"')"
echo "kubernetes-validate: $("$VENV/bin/kubernetes-validate" --version)"
echo "nginx: $(nginx -v 2>&1)"
echo "promtool: $(promtool --version 2>&1 | head -1)"

# --- 1. render -----------------------------------------------------------------------------
# Every object in a canonical form, one per line: generated names' hash suffixes removed
# (the two kustomize versions hash differently), empty maps dropped, keys sorted.
canonical() {
    "$VENV/bin/python" - "$1" <<'PY'
import json, re, sys, yaml
SUFFIX = re.compile(r"^(kreki-config|kreki-nats-config)-[a-z0-9]{10}$")
def norm(v):
    if isinstance(v, dict):
        out = {k: norm(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x != {} and x is not None}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, str):
        m = SUFFIX.match(v)
        return m.group(1) if m else v
    return v
docs = [norm(d) for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for d in sorted(docs, key=lambda d: (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])):
    print(json.dumps(d, sort_keys=True))
PY
}
for o in $OVERLAYS; do
    say "render $o"
    "$KUBECTL" kustomize "$ROOT/deploy/kubernetes/$o" >"$WORK/$o.yaml" 2>"$WORK/$o.err" || {
        cat "$WORK/$o.err" >&2
        exit 1
    }
    "$PINNED_KUBECTL" kustomize "$ROOT/deploy/kubernetes/$o" >"$WORK/$o.pinned.yaml"
    canonical "$WORK/$o.yaml" >"$WORK/$o.objects"
    canonical "$WORK/$o.pinned.yaml" >"$WORK/$o.pinned.objects"
    if ! cmp -s "$WORK/$o.objects" "$WORK/$o.pinned.objects"; then
        diff -u <(tr ',' '\n' <"$WORK/$o.objects") <(tr ',' '\n' <"$WORK/$o.pinned.objects") | head -60 >&2
        echo "kubectl's kustomize and the pinned one render $o differently" >&2
        exit 1
    fi
    echo "$(wc -l <"$WORK/$o.objects") objects, the same from both renderers"
done

# --- 2. validate ---------------------------------------------------------------------------
for v in $K8S_VERSIONS; do
    for o in $OVERLAYS; do
        say "validate $o against Kubernetes $v (built-in kinds; CRDs: Rust tests)"
        "$VENV/bin/kubernetes-validate" --strict --quiet --no-warn -k "$v" "$WORK/$o.yaml"
    done
done

# --- 3. nginx ------------------------------------------------------------------------------
say "nginx -t deploy/nginx.conf"
mkdir -p "$WORK/nginx"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=help.kreki.or.id \
    -keyout "$WORK/nginx/key.pem" -out "$WORK/nginx/cert.pem" >/dev/null 2>&1
sed -e "s|/etc/ssl/kreki/fullchain.pem|$WORK/nginx/cert.pem|" \
    -e "s|/etc/ssl/kreki/privkey.pem|$WORK/nginx/key.pem|" \
    "$ROOT/deploy/nginx.conf" >"$WORK/nginx/site.conf"
cat >"$WORK/nginx/nginx.conf" <<EOF
pid $WORK/nginx/nginx.pid;
error_log stderr;
events {}
http {
    access_log off;
    client_body_temp_path $WORK/nginx;
    proxy_temp_path $WORK/nginx;
    fastcgi_temp_path $WORK/nginx;
    uwsgi_temp_path $WORK/nginx;
    scgi_temp_path $WORK/nginx;
    include $WORK/nginx/site.conf;
}
EOF
nginx -t -q -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx"
echo "ok"

# --- 4. Prometheus rules -------------------------------------------------------------------
OBS="$ROOT/deploy/observability"
if [ -d "$OBS" ]; then
    say "promtool check rules / test rules"
    promtool check rules "$OBS"/rules/*.yml
    (cd "$OBS" && promtool check config --syntax-only prometheus.yml)
    "$VENV/bin/python" -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' "$OBS/scrape-kubernetes.yml"
    (cd "$OBS" && promtool test rules tests/*.yml)
    "$VENV/bin/python" "$ROOT/scripts/gen-prometheus-rules.py" --check
    "$VENV/bin/python" -c 'import json, sys; [json.load(open(f)) for f in sys.argv[1:]]' "$OBS"/grafana/*.json
    echo "PrometheusRule in step, dashboards are JSON"
fi

say "deployment kit ok in $(($(date +%s) - started)) s"
