# shellcheck shell=bash
# Process handling shared by the run-local.sh scripts (deploy/nginx, deploy/prometheus) that run a private
# server beside a local cluster: read the cluster's URLs, stop a server by its PID file, and stay in the
# foreground until the server exits. Source it after scripts/lib/common.sh; don't run it.

# load_cluster_env STATE — sets ROUTER_URL and NODE_URLS from STATE/cluster.env, or stops with what to do.
load_cluster_env() {
    local state=$1
    [ -f "$state/cluster.env" ] ||
        die "no cluster in $state (no cluster.env); start one first: bash deploy/local/cluster.sh --detach"
    ROUTER_URL=""
    NODE_URLS=""
    # shellcheck disable=SC1091
    . "$state/cluster.env"
    if [ -z "$ROUTER_URL" ] || [ -z "$NODE_URLS" ]; then
        die "$state/cluster.env names no router or nodes"
    fi
}

# stop_by_pidfile PIDFILE NAME SIGNAL GRACE_SECS — sends SIGNAL to the NAME process of PIDFILE, waits up to
# GRACE_SECS for it to go, then TERM (5 s) and KILL; removes the PID file.
stop_by_pidfile() {
    local pidfile=$1 name=$2 signal=$3 grace=$4 pid
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if pid_is "$pid" "$name"; then
        say "stopping $name (PID $pid)"
        kill "-$signal" "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" "$grace"; then
            kill -TERM "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

# refuse_second_instance PIDFILE NAME STOP_HINT — stops with STOP_HINT when PIDFILE names a running NAME.
refuse_second_instance() {
    local old
    old=$(cat "$1" 2>/dev/null || true)
    if pid_is "$old" "$2"; then
        die "a $2 (PID $old) already runs for this cluster; stop it with: $3"
    fi
}

# stay_in_foreground PIDFILE STOP_FUNCTION LOG — runs until the server of PIDFILE exits (then fails, naming
# LOG) or Ctrl-C / TERM arrives (then calls STOP_FUNCTION and exits 0).
stay_in_foreground() {
    local pidfile=$1 stop=$2 log=$3
    # shellcheck disable=SC2064 # the function name is fixed now, on purpose
    trap "$stop; exit 0" INT TERM
    say "running; press Ctrl-C to stop"
    while pid_alive "$(cat "$pidfile" 2>/dev/null || echo 0)"; do
        sleep 1 &
        wait $! || true
    done
    die "the server exited; see $log"
}
