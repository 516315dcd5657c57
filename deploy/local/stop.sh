#!/usr/bin/env bash
# Stops the local cluster started by deploy/local/cluster.sh, in order: nodes first (SIGTERM: they drain,
# telling clients to move), then the router, Redis and PostgreSQL. Safe to run twice, or for a half-started
# cluster. Leaves the data (PostgreSQL) and the logs in place, unless --purge is given (then the data goes).
#
#   bash deploy/local/stop.sh [--state-dir DIR] [--purge]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SJ_PREFIX=stop
# shellcheck source=scripts/lib/common.sh
. "$ROOT/scripts/lib/common.sh"

STATE=${SENDJAY_CLUSTER_DIR:-$ROOT/.local/cluster}
PURGE=0
while [ "$#" -gt 0 ]; do
    case $1 in
    --state-dir)
        STATE=${2:-}
        shift 2 || die "--state-dir needs a directory"
        ;;
    --state-dir=*)
        STATE=${1#*=}
        shift
        ;;
    --purge) PURGE=1 && shift ;;
    -h | --help)
        echo "usage: bash deploy/local/stop.sh [--state-dir DIR] [--purge]   (default DIR: .local/cluster; --purge deletes the data)"
        exit 0
        ;;
    *) die "unknown option $1; usage: bash deploy/local/stop.sh [--state-dir DIR] [--purge]" ;;
    esac
done
PIDS=$STATE/pids
ENV_FILE=$STATE/cluster.env
if [ ! -f "$ENV_FILE" ] && [ ! -d "$PIDS" ]; then
    say "no cluster state in $STATE; nothing to stop"
    exit 0
fi
PG_DATA=""
PG_BIN=""
PG_RUN_AS=""
DRAIN_GRACE_SECS=5
if [ -f "$ENV_FILE" ]; then
    # shellcheck disable=SC1090
    . "$ENV_FILE"
fi

# stop_group EXPECTED-COMMAND WAIT-SECS PIDFILE... — SIGTERM to each live process, wait, SIGKILL what is left.
stop_group() {
    local expect=$1 wait=$2 f pid name
    shift 2
    local live=()
    for f in "$@"; do
        [ -e "$f" ] || continue
        pid=$(cat "$f" 2>/dev/null || true)
        name=$(basename "$f" .pid)
        if pid_is "$pid" "$expect"; then
            say "stopping $name (PID $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            live+=("$f")
        else
            rm -f "$f"
        fi
    done
    for f in "${live[@]}"; do
        pid=$(cat "$f")
        name=$(basename "$f" .pid)
        if ! wait_gone "$pid" "$wait"; then
            warn "$name (PID $pid) did not stop within $wait s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || warn "$name (PID $pid) is still there; kill it by hand: kill -9 $pid"
        fi
        rm -f "$f"
    done
}

shopt -s nullglob
# Nodes drain for up to DRAIN_GRACE_SECS (clients get a `reconnect` push), then exit.
stop_group sendjay-node $((DRAIN_GRACE_SECS + 15)) "$PIDS"/node-*.pid
stop_group sendjay-router 15 "$PIDS"/router.pid
stop_group redis-server 15 "$PIDS"/redis.pid

if [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
    pid=$(head -n 1 "$PG_DATA/postmaster.pid")
    if pid_alive "$pid"; then
        say "stopping PostgreSQL (PID $pid)"
        run=()
        [ -n "$PG_RUN_AS" ] && is_root && run=(runuser -u "$PG_RUN_AS" --)
        if ! (cd / && "${run[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null); then
            warn "pg_ctl stop failed; killing PostgreSQL (PID $pid)"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || warn "PostgreSQL (PID $pid) is still there; kill it by hand: kill -9 $pid"
        fi
    fi
fi
left=("$PIDS"/*.pid)
[ "${#left[@]}" -eq 0 ] || warn "PID files left in $PIDS: ${left[*]}"
if [ "$PURGE" = 1 ]; then
    # The PostgreSQL data sits in STATE/pg, or in /var/tmp/sendjay-cluster-* when STATE was closed to postgres.
    pg_base=${PG_DATA%/data}
    case $pg_base in
    "$STATE/pg" | /var/tmp/sendjay-cluster-*) rm -rf "$pg_base" ;;
    "") ;;
    *) warn "not deleting $pg_base: not a directory this script created" ;;
    esac
    rm -rf "$STATE/redis" "$STATE/jwt-secret" "$STATE/alice.token"
    say "cluster stopped and its data deleted (logs kept in $STATE/logs)"
else
    say "cluster stopped (data and logs kept in $STATE; 'bash deploy/local/cluster.sh --fresh' starts over)"
fi
