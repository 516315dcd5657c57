#!/usr/bin/env bash
# The observability test (issue #5): a real Prometheus scrapes a real local cluster under a short generated load,
# and through Prometheus's HTTP API every dashboard panel query and variable, every alert expression (its signal,
# the left-hand side of the comparison) must parse and return data, and /metrics must expose every metric that
# docs/operations.md lists (and nothing it does not). A dashboard panel that shows nothing fails the test.
#
#   bash scripts/observability-test.sh
#
# Steps: install prometheus (Debian package) when missing; check the Prometheus files with promtool; build the
# debug binaries; start a private cluster (deploy/local/cluster.sh --detach, 1 router + 2 nodes, own state dir
# and ports) and a private Prometheus scraping it every second (deploy/prometheus/run-local.sh); run the Rust
# test node/tests/observability.rs (load + assertions); stop everything. Exits non-zero on any failure; the
# last line is "N passed, M failed".
#
# Environment: SENDJAY_OBS_PROFILE=release uses release binaries (default debug); SENDJAY_OBS_KEEP=1 leaves the
# cluster and Prometheus running for a look (stop: deploy/local/stop.sh and run-local.sh --stop, with
# --state-dir .local/observability).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
# shellcheck disable=SC2034 # read by scripts/lib/common.sh
SJ_PREFIX=observability
# shellcheck source=lib/common.sh
. "$ROOT/scripts/lib/common.sh"

STATE=$ROOT/.local/observability
PROFILE=${SENDJAY_OBS_PROFILE:-debug}
SCRAPE_SECS=1
USERS=12
PASSED=0
FAILED=0
STARTED=0
PROM_STARTED=0

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
    [ "${SENDJAY_OBS_KEEP:-0}" = 1 ] && return 0
    if [ "$PROM_STARTED" = 1 ]; then
        PROM_STARTED=0
        bash "$ROOT/deploy/prometheus/run-local.sh" --stop --state-dir "$STATE" >/dev/null 2>&1 || true
    fi
    if [ "$STARTED" = 1 ]; then
        STARTED=0
        bash "$ROOT/deploy/local/stop.sh" --state-dir "$STATE" >"$STATE/stop.out" 2>&1 || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

install_prometheus() {
    local missing=()
    command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    [ "${#missing[@]}" = 0 ] || apt_install "${missing[@]}"
    command -v prometheus >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1
}

promtool_checks() {
    # Debian's Prometheus is built without Kubernetes service discovery, so the Kubernetes file is only
    # checked as YAML (by the parse of podmonitor/prometheus files below) and for the job names.
    promtool check rules deploy/prometheus/alerts.yml &&
        promtool check config deploy/prometheus/prometheus.local.yml &&
        grep -q 'job_name: sendjay-node' deploy/prometheus/kubernetes/prometheus.yml &&
        grep -q 'job_name: sendjay-router' deploy/prometheus/kubernetes/prometheus.yml
}

dashboards_are_generated() {
    # The committed JSON must be what grafana/generate.py writes.
    local tmp
    tmp=$(mktemp -d)
    cp -r grafana "$tmp/" && python3 "$tmp/grafana/generate.py" >/dev/null &&
        diff -r grafana/dashboards "$tmp/grafana/dashboards"
    local rc=$?
    rm -rf "$tmp"
    return "$rc"
}

build() {
    local args=(build -p sendjay-node -p sendjay-router -p sendjay-loadtest -p sendjay-client)
    [ "$PROFILE" = release ] && args+=(--release)
    cargo "${args[@]}"
}

start_cluster() {
    rm -rf "$STATE/logs" # cluster.sh appends; the log checks must see this run only
    mkdir -p "$STATE"
    local flags=(--detach --fresh --no-build --no-web --users "$USERS" --state-dir "$STATE")
    [ "$PROFILE" = debug ] && flags+=(--debug)
    STARTED=1
    if SENDJAY_LOG_FORMAT=json SENDJAY_LOG=debug \
        bash "$ROOT/deploy/local/cluster.sh" "${flags[@]}" >"$STATE/cluster.out" 2>&1; then
        # shellcheck disable=SC1091
        . "$STATE/cluster.env"
        return 0
    fi
    tail -n 40 "$STATE/cluster.out"
    return 1
}

start_prometheus() {
    PROM_STARTED=1
    if bash "$ROOT/deploy/prometheus/run-local.sh" --detach --fresh --state-dir "$STATE" \
        --scrape-interval "${SCRAPE_SECS}s" >"$STATE/prometheus.out" 2>&1; then
        # shellcheck disable=SC1091
        . "$STATE/prometheus/prometheus.env"
        return 0
    fi
    cat "$STATE/prometheus.out"
    return 1
}

run_test() {
    local args=(test -p sendjay-node --test observability)
    [ "$PROFILE" = release ] && args+=(--release)
    SENDJAY_OBS_ROUTER_URL=$ROUTER_URL SENDJAY_OBS_NODE_URLS=$NODE_URLS \
        SENDJAY_OBS_PROMETHEUS_URL=$PROMETHEUS_URL SENDJAY_OBS_SCRAPE_SECS=$SCRAPE_SECS SENDJAY_OBS_USERS=$USERS \
        cargo "${args[@]}" -- --include-ignored --nocapture
}

logs_are_structured() {
    # The cluster runs with SENDJAY_LOG_FORMAT=json and SENDJAY_LOG=debug: every log line of the router and the
    # nodes (their stdout banner aside) must be a JSON event, the nodes' session events must carry their
    # conn{user, device} span, and even at debug no message body or token may appear in any log.
    python3 - "$STATE"/logs/router.log "$STATE"/logs/node-*.log <<'PY' || return 1
import json, sys
for path in sys.argv[1:]:
    events = in_conn_span = 0
    for n, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        assert "level" in event and "message" in event and "target" in event, f"{path}:{n}: {line}"
        events += 1
        spans = event.get("spans", [])
        if any(s.get("name") == "conn" and "user" in s and "device" in s for s in spans):
            in_conn_span += 1
    assert events > 0, f"{path}: no JSON log event"
    if "node-" in path:
        assert in_conn_span > 0, f"{path}: no event inside a conn{user, device} span"
    print(f"{path}: {events} JSON events, {in_conn_span} inside a connection span")
PY
    if grep -l "observability test message" "$STATE"/logs/*.log; then
        echo "message bodies appear in the logs above"
        return 1
    fi
    if grep -lE 'eyJ[A-Za-z0-9_-]{10,}\.' "$STATE"/logs/*.log; then
        echo "tokens appear in the logs above"
        return 1
    fi
}

check "prometheus, promtool and python3 are installed (Debian packages)" install_prometheus
check "promtool accepts deploy/prometheus/alerts.yml and prometheus.local.yml" promtool_checks
check "grafana/dashboards/*.json are what grafana/generate.py writes" dashboards_are_generated
if check "cargo build ($PROFILE) of node, router and loadtest" build &&
    check "local cluster starts (deploy/local/cluster.sh --detach, 1 router + 2 nodes)" start_cluster &&
    check "Prometheus starts and scrapes it (deploy/prometheus/run-local.sh)" start_prometheus; then
    check "under load, every panel, variable, alert signal and documented metric has data" run_test
    check "logs: JSON events (debug level), no message bodies or tokens" logs_are_structured
fi
cleanup
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
