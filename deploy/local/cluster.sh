#!/usr/bin/env bash
# Runs a complete sendjay cluster on this machine, on 127.0.0.1 only:
# a private PostgreSQL and a private Redis (own data, own ports — never the machine's 5432/6379),
# migrations, a demo organisation, one router (serving the web app at /) and N nodes. Ctrl-C (or SIGTERM) stops everything.
#
#   bash deploy/local/cluster.sh              # build, start, print how to connect, run until Ctrl-C
#   bash deploy/local/cluster.sh --detach     # start and return; stop later with deploy/local/stop.sh
#
# Run with --help for the options. Logs go to .local/cluster/logs/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SJ_PREFIX=cluster
# shellcheck source=scripts/lib/common.sh
. "$ROOT/scripts/lib/common.sh"
# shellcheck source=scripts/lib/web.sh
. "$ROOT/scripts/lib/web.sh"

usage() {
    cat <<EOF
usage: bash deploy/local/cluster.sh [options]

  --nodes N         number of nodes (default 2)
  --detach          start the cluster and return; stop it with: bash deploy/local/stop.sh
  --fresh           wipe the cluster's PostgreSQL data first (default: keep it between runs)
  --users N         generated demo users besides alice, bob, carol and dave (default 20)
  --debug           build and run debug binaries (faster to build, slower to run)
  --no-build        do not run cargo build; use the binaries already in target/ (and web/app/dist as it is)
  --no-web          do not build or serve the web app (the router answers / with 404)
  --state-dir DIR   where data, logs and PIDs go (default .local/cluster; env SENDJAY_CLUSTER_DIR)
  -h, --help        this text

Env SENDJAY_BIN_DIR=DIR runs sendjay-node and sendjay-router from DIR instead of target/ (with --no-build:
e.g. to compare two builds in one sitting).

Ports: router 7300, nodes 7401.., PostgreSQL 55432, Redis 56379 when free, else the next free ones.
EOF
}

NODES=2
DETACH=0
FRESH=0
USERS=20
PROFILE=release
BUILD=1
WEB=1
STATE=${SENDJAY_CLUSTER_DIR:-$ROOT/.local/cluster}
while [ "$#" -gt 0 ]; do
    case $1 in
    --nodes)
        NODES=${2:-}
        shift 2 || die "--nodes needs a number"
        ;;
    --nodes=*)
        NODES=${1#*=}
        shift
        ;;
    --users)
        USERS=${2:-}
        shift 2 || die "--users needs a number"
        ;;
    --users=*)
        USERS=${1#*=}
        shift
        ;;
    --state-dir)
        STATE=${2:-}
        shift 2 || die "--state-dir needs a directory"
        ;;
    --state-dir=*)
        STATE=${1#*=}
        shift
        ;;
    --detach) DETACH=1 && shift ;;
    --fresh) FRESH=1 && shift ;;
    --debug) PROFILE=debug && shift ;;
    --no-build) BUILD=0 && shift ;;
    --no-web) WEB=0 && shift ;;
    -h | --help) usage && exit 0 ;;
    *)
        usage >&2
        die "unknown option $1"
        ;;
    esac
done
case $NODES in '' | *[!0-9]* | 0) die "--nodes takes a number from 1 to 50, not '$NODES'" ;; esac
[ "$NODES" -le 50 ] || die "--nodes takes a number from 1 to 50, not '$NODES'"
case $USERS in '' | *[!0-9]*) die "--users takes a number, not '$USERS'" ;; esac
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
LOGS=$STATE/logs
PIDS=$STATE/pids
ENV_FILE=$STATE/cluster.env
BIN=${SENDJAY_BIN_DIR:-$ROOT/target/$PROFILE}
STOP="bash $ROOT/deploy/local/stop.sh"
[ "$STATE" = "$ROOT/.local/cluster" ] || STOP="$STOP --state-dir $STATE"
# Nodes wait this long for clients to move away when stopped (docs/protocol.md §12); short for a local cluster.
DRAIN_GRACE_SECS=${SENDJAY_DRAIN_GRACE_SECS:-5}

TOTAL_STEPS=8
step() { say "[$1/$TOTAL_STEPS] $2"; }

# --- refuse to start twice -------------------------------------------------------------------------------
if [ -d "$PIDS" ]; then
    for f in "$PIDS"/*.pid; do
        [ -e "$f" ] || continue
        pid=$(cat "$f" 2>/dev/null || true)
        if [ -n "$pid" ] && pid_alive "$pid"; then
            router=$(sed -n "s/^ROUTER_URL=//p" "$ENV_FILE" 2>/dev/null || true)
            die "a cluster from $STATE is already running (router ${router:-?}, $(basename "$f" .pid) PID $pid); use it, or stop it first with: $STOP"
        fi
    done
fi

# --- 1. packages and toolchain ---------------------------------------------------------------------------
step 1 "checking packages (PostgreSQL, Redis, curl) and the Rust toolchain"
ensure_runtime_deps
ensure_cargo
say "PostgreSQL binaries: $PG_BIN; Redis: $REDIS_SERVER; $(cargo --version)"

# --- 2. build --------------------------------------------------------------------------------------------
if [ "$BUILD" = 1 ]; then
    step 2 "building $PROFILE binaries (the first build takes several minutes)"
    build=(cargo build -p sendjay-node -p sendjay-router -p sendjay-loadtest -p sendjay-client)
    [ "$PROFILE" = release ] && build+=(--release)
    (cd "$ROOT" && "${build[@]}") || die "the build failed (see the errors above); fix them, or run with --no-build to use the binaries already in target/$PROFILE"
else
    step 2 "skipping the build (--no-build)"
fi
for b in sendjay-node sendjay-router sendjay-loadtest sendjay-chat; do
    [ -x "$BIN/$b" ] || die "$BIN/$b is missing; run without --no-build (or: cargo build$([ "$PROFILE" = release ] && echo ' --release') -p sendjay-node -p sendjay-router -p sendjay-loadtest -p sendjay-client)"
done

# --- 3. the web app --------------------------------------------------------------------------------------
WEB_DIR=$ROOT/web/app/dist
if [ "$WEB" = 0 ]; then
    step 3 "skipping the web app (--no-web)"
elif [ "$BUILD" = 1 ] || [ ! -f "$WEB_DIR/index.html" ]; then
    step 3 "building the web app (Node.js; npm ci in web/client and web/app, npm run build in web/app)"
    mkdir -p "$STATE/logs"
    build_web_app "$STATE/logs/web-build.log"
    say "web app built into $WEB_DIR"
else
    step 3 "using the web app already built in $WEB_DIR (--no-build)"
fi

# --- everything started from here is stopped on failure, Ctrl-C or SIGTERM ------------------------------
mkdir -p "$LOGS" "$PIDS" "$STATE/redis"
STARTED=0
cleanup() {
    local rc=$?
    trap - EXIT
    trap '' INT TERM # a second Ctrl-C must not cut the shutdown short (stop.sh has its own time limits)
    if [ "$STARTED" = 1 ]; then
        echo
        say "stopping the cluster"
        bash "$ROOT/deploy/local/stop.sh" --state-dir "$STATE" || true
    fi
    exit "$rc"
}
on_signal() { exit 130; }
trap cleanup EXIT
trap on_signal INT TERM

# start_bg NAME LOG CMD... — starts CMD in its own session (so a Ctrl-C reaches only this script, which then
# stops things in order), output to LOG; its PID goes to pids/NAME.pid.
start_bg() {
    local name=$1 log=$2 pidfile="$PIDS/$1.pid"
    shift 2
    rm -f "$pidfile"
    setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$pidfile" "$@" >>"$log" 2>&1 </dev/null &
    local i
    for i in $(seq 100); do
        [ -s "$pidfile" ] && return 0
        sleep 0.05
    done
    die "$name did not start; see $log"
}

# Each server gets a few tries: another program may take a port between our check and the server's bind.
PORT_ATTEMPTS=5
log_size() { stat -c %s "$1" 2>/dev/null || echo 0; }
# port_lost LOG OFFSET — true when what LOG got after byte OFFSET says the port was already taken.
port_lost() { tail -c "+$(($2 + 1))" "$1" 2>/dev/null | grep -qiE 'address already in use|address in use|os error 98'; }

# fail_with_log NAME LOG MESSAGE — prints the end of a log and dies.
fail_with_log() {
    warn "last lines of $2:"
    tail -n 25 "$2" >&2 2>/dev/null || true
    die "$3"
}

# write_env KEY VALUE — records a setting in cluster.env (read by stop.sh and scripts/test.sh).
write_env() { printf '%s=%q\n' "$1" "$2" >>"$ENV_FILE"; }

# --- 4. PostgreSQL ---------------------------------------------------------------------------------------
step 4 "starting a private PostgreSQL (127.0.0.1 only, trust auth)"
PG_RUN=()
if is_root; then
    PG_RUN=(runuser -u postgres --)
fi
# The data directory lives in the state dir, unless (as root) the postgres OS user cannot reach it because a
# parent directory is closed to it (e.g. a checkout under a 0700 home or mktemp directory).
PG_BASE=$STATE/pg
mkdir -p "$PG_BASE"
if is_root; then
    chown postgres:postgres "$PG_BASE"
    chmod 700 "$PG_BASE"
    if ! (cd / && runuser -u postgres -- test -w "$PG_BASE" -a -x "$PG_BASE"); then
        fallback=/var/tmp/sendjay-cluster-$(printf '%s' "$STATE" | cksum | cut -d' ' -f1)
        say "the postgres OS user cannot reach $PG_BASE (a parent directory is closed to it); using $fallback instead"
        rmdir "$PG_BASE" 2>/dev/null || true
        PG_BASE=$fallback
        mkdir -p "$PG_BASE"
        chown postgres:postgres "$PG_BASE"
        chmod 700 "$PG_BASE"
        (cd / && runuser -u postgres -- test -w "$PG_BASE") ||
            die "the postgres OS user cannot write $PG_BASE either; check the permissions of /var/tmp"
    fi
fi
PG_DATA=$PG_BASE/data
pg() { (cd "$PG_BASE" && "${PG_RUN[@]}" "$@"); }

rm -f "$ENV_FILE"
write_env STATE_DIR "$STATE"
write_env PG_BIN "$PG_BIN"
write_env PG_DATA "$PG_DATA"
write_env PG_RUN_AS "$(is_root && echo postgres || true)"
write_env DRAIN_GRACE_SECS "$DRAIN_GRACE_SECS"

if [ -f "$PG_DATA/postmaster.pid" ]; then
    old=$(head -n 1 "$PG_DATA/postmaster.pid")
    if pid_alive "$old"; then
        die "a PostgreSQL (PID $old) already runs on $PG_DATA; stop it with: $STOP"
    fi
fi
pg_major=$("$PG_BIN/postgres" --version | sed -n 's/.* \([0-9][0-9]*\).*/\1/p')
if [ "$FRESH" = 1 ] && [ -d "$PG_DATA" ]; then
    say "--fresh: removing the old data in $PG_DATA"
    rm -rf "$PG_DATA"
fi
if [ -f "$PG_DATA/PG_VERSION" ] && [ "$(cat "$PG_DATA/PG_VERSION")" != "$pg_major" ]; then
    die "$PG_DATA was created by PostgreSQL $(cat "$PG_DATA/PG_VERSION"), but $PG_BIN is version $pg_major; run with --fresh to start over"
fi
STARTED=1
if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    rm -rf "$PG_DATA"
    pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$LOGS/initdb.log" 2>&1 ||
        fail_with_log initdb "$LOGS/initdb.log" "initdb failed; fix the cause above, then run this again (with --fresh)"
    cat >>"$PG_DATA/postgresql.conf" <<'EOF'

# sendjay local cluster (deploy/local/cluster.sh): loopback TCP only, no Unix socket; the port is given at start.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
include_if_exists = 'sendjay-tuning.conf'
EOF
    say "initialised a new database cluster in $PG_DATA"
else
    say "reusing the data in $PG_DATA (--fresh starts over)"
    grep -q "sendjay-tuning.conf" "$PG_DATA/postgresql.conf" ||
        echo "include_if_exists = 'sendjay-tuning.conf'" >>"$PG_DATA/postgresql.conf"
fi
# The write-path settings of docs/operations.md "PostgreSQL settings", copied at every start so a reused data
# directory gets the current ones. Durable: every commit is flushed before its ack (no synchronous_commit = off).
cp "$ROOT/deploy/postgres/sendjay-tuning.conf" "$PG_DATA/sendjay-tuning.conf"
is_root && chown postgres:postgres "$PG_DATA/sendjay-tuning.conf"
touch "$PG_BASE/postgres.log"
is_root && chown postgres:postgres "$PG_BASE/postgres.log"
ln -sfn "$PG_BASE/postgres.log" "$LOGS/postgres.log"
take_port "${SENDJAY_PG_PORT:-55432}"
for attempt in $(seq "$PORT_ATTEMPTS"); do
    PG_PORT=$PICKED
    offset=$(log_size "$PG_BASE/postgres.log")
    if pg setsid -w "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_BASE/postgres.log" -o "-p $PG_PORT" -w -t 60 start >>"$LOGS/pg_ctl.log" 2>&1; then
        break
    fi
    if [ "$attempt" -lt "$PORT_ATTEMPTS" ] && port_lost "$PG_BASE/postgres.log" "$offset"; then
        say "port $PG_PORT was taken meanwhile; trying another"
        take_port $((PG_PORT + 1))
        continue
    fi
    fail_with_log postgres "$LOGS/postgres.log" "PostgreSQL did not start on port $PG_PORT; see $LOGS/postgres.log and $LOGS/pg_ctl.log"
done
write_env PG_PORT "$PG_PORT"
PG_DB=sendjay
if [ -x "$PG_BIN/createdb" ]; then
    if ! out=$("$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$PG_DB" 2>&1); then
        case $out in
        *"already exists"*) ;;
        *) die "cannot create the database $PG_DB: $out; see $LOGS/postgres.log" ;;
        esac
    fi
else
    PG_DB=postgres # no createdb (PostgreSQL client programs missing): use the default database
fi
DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB"
write_env DATABASE_URL "$DATABASE_URL"
say "PostgreSQL is up: $DATABASE_URL (log $LOGS/postgres.log)"

# --- 5. Redis --------------------------------------------------------------------------------------------
step 5 "starting a private Redis (127.0.0.1 only, no persistence)"
redis_ping() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf 'PING\r\n' >&3
        IFS= read -r -t 2 line <&3 || exit 1
        case $line in +PONG*) exit 0 ;; *) exit 1 ;; esac
    ) 2>/dev/null
}
# redis_up PORT — 0 when it answers PING, 1 when the process exited; dies after 10 s.
redis_up() {
    for _ in $(seq 100); do
        redis_ping "$1" && return 0
        pid_alive "$(cat "$PIDS/redis.pid")" || return 1
        sleep 0.1
    done
    fail_with_log redis "$LOGS/redis.log" "redis-server does not answer PING on port $1; see $LOGS/redis.log"
}
take_port "${SENDJAY_REDIS_PORT:-56379}"
for attempt in $(seq "$PORT_ATTEMPTS"); do
    REDIS_PORT=$PICKED
    offset=$(log_size "$LOGS/redis.log")
    start_bg redis "$LOGS/redis.log" "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save "" \
        --appendonly no --daemonize no --dir "$STATE/redis" --logfile ""
    redis_up "$REDIS_PORT" && break
    if [ "$attempt" -lt "$PORT_ATTEMPTS" ] && port_lost "$LOGS/redis.log" "$offset"; then
        say "port $REDIS_PORT was taken meanwhile; trying another"
        take_port $((REDIS_PORT + 1))
        continue
    fi
    fail_with_log redis "$LOGS/redis.log" "redis-server exited; see $LOGS/redis.log"
done
write_env REDIS_PORT "$REDIS_PORT"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
write_env REDIS_URL "$REDIS_URL"
say "Redis is up: $REDIS_URL (log $LOGS/redis.log)"

# --- 6. schema and demo data -----------------------------------------------------------------------------
step 6 "applying migrations and seeding the demo organisation"
# The signing secret stays in a 0600 file and reaches the servers through the environment, not argv (ps).
if [ ! -s "$STATE/jwt-secret" ]; then
    (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$STATE/jwt-secret")
fi
SENDJAY_JWT_SECRET=$(cat "$STATE/jwt-secret")
export SENDJAY_JWT_SECRET
# Web Push (docs/operations.md#notifications-web-push-and-fcm): a VAPID key of this cluster's own, kept like the
# secret, unless the caller brings one. The web client then offers "Notify me when sendjay is closed".
if [ -z "${SENDJAY_VAPID_PRIVATE_KEY:-}" ]; then
    if [ ! -s "$STATE/vapid-key" ]; then
        (umask 077 && "$BIN/sendjay-node" vapid-key >"$STATE/vapid-key") ||
            die "could not make a Web Push key with $BIN/sendjay-node vapid-key"
    fi
    SENDJAY_VAPID_PRIVATE_KEY=$(cat "$STATE/vapid-key")
fi
export SENDJAY_VAPID_PRIVATE_KEY
export NO_COLOR=1 # plain log files
"$BIN/sendjay-node" migrate --database-url "$DATABASE_URL" >>"$LOGS/migrate.log" 2>&1 ||
    fail_with_log migrate "$LOGS/migrate.log" "the migrations failed; see $LOGS/migrate.log"
tail -n 1 "$LOGS/migrate.log" | sed "s/^/[$SJ_PREFIX] migrate: /"
"$BIN/sendjay-router" admin seed-demo --database-url "$DATABASE_URL" --users "$USERS" >>"$LOGS/seed.log" 2>&1 ||
    fail_with_log seed "$LOGS/seed.log" "seeding the demo data failed; see $LOGS/seed.log"
tail -n 1 "$LOGS/seed.log" | sed "s/^/[$SJ_PREFIX] seed: /"

# --- 7. router and nodes ---------------------------------------------------------------------------------
step 7 "starting 1 router and $NODES node(s)"
# launch NAME PORT — starts the router (NAME=router) or node NAME, listening on 127.0.0.1:PORT.
launch() {
    local name=$1 port=$2
    if [ "$name" = router ]; then
        local web=()
        [ "$WEB" = 1 ] && web=(--web-dir "$WEB_DIR")
        # Every local client (chat, loadtest storms, the browser tests) comes from 127.0.0.1: lift the
        # per-address login limits.
        start_bg router "$LOGS/router.log" env SENDJAY_LOGIN_ATTEMPTS_PER_SOURCE_PER_MIN=1000000 \
            SENDJAY_LOGIN_MAX_FAILURES_PER_SOURCE=1000000 \
            "$BIN/sendjay-router" serve --listen "127.0.0.1:$port" \
            --database-url "$DATABASE_URL" --redis-url "$REDIS_URL" "${web[@]}"
    else
        start_bg "$name" "$LOGS/$name.log" env SENDJAY_DRAIN_GRACE_SECS="$DRAIN_GRACE_SECS" \
            SENDJAY_FILES_URL="${SENDJAY_FILES_URL:-file://$STATE/files}" \
            "$BIN/sendjay-node" --listen "127.0.0.1:$port" --node-id "$name" \
            --database-url "$DATABASE_URL" --redis-url "$REDIS_URL" serve
    fi
}
# http_up NAME PORT — 0 when /readyz answers 200, 1 when the process exited; dies after 30 s.
http_up() {
    local i
    for i in $(seq 150); do
        curl -fsS -m 2 "http://127.0.0.1:$2/readyz" >/dev/null 2>&1 && return 0
        pid_alive "$(cat "$PIDS/$1.pid")" || return 1
        sleep 0.2
    done
    fail_with_log "$1" "$LOGS/$1.log" "$1 is not ready after 30 s ($(curl -sS -m 2 "http://127.0.0.1:$2/readyz" 2>&1 || true)); see $LOGS/$1.log"
}
NAMES=(router)
declare -A PORT_OF OFFSET_OF
take_port "${SENDJAY_ROUTER_PORT:-7300}"
PORT_OF[router]=$PICKED
for i in $(seq "$NODES"); do
    NAMES+=("node-$i")
    take_port $((${SENDJAY_NODE_PORT:-7401} + i - 1))
    PORT_OF[node-$i]=$PICKED
done
for name in "${NAMES[@]}"; do # all at once: they start in parallel
    OFFSET_OF[$name]=$(log_size "$LOGS/$name.log")
    launch "$name" "${PORT_OF[$name]}"
done
for name in "${NAMES[@]}"; do
    attempt=1
    until http_up "$name" "${PORT_OF[$name]}"; do
        log=$LOGS/$name.log
        if [ "$attempt" -lt "$PORT_ATTEMPTS" ] && port_lost "$log" "${OFFSET_OF[$name]}"; then
            say "port ${PORT_OF[$name]} was taken meanwhile; starting $name on another"
            take_port $((${PORT_OF[$name]} + 1))
            PORT_OF[$name]=$PICKED
            OFFSET_OF[$name]=$(log_size "$log")
            launch "$name" "${PORT_OF[$name]}"
            attempt=$((attempt + 1))
            continue
        fi
        fail_with_log "$name" "$log" "$name exited during startup; see $log"
    done
    url=http://127.0.0.1:${PORT_OF[$name]}
    if [ "$name" = router ]; then
        say "router ready at $url"
    else
        say "$name ready at $url (WebSocket ${url/http:/ws:}/v1/ws)"
    fi
done
ROUTER_URL=http://127.0.0.1:${PORT_OF[router]}
NODE_URLS=()
for i in $(seq "$NODES"); do
    NODE_URLS+=("http://127.0.0.1:${PORT_OF[node-$i]}")
done
write_env ROUTER_URL "$ROUTER_URL"
write_env WEB_APP_URL "$([ "$WEB" = 1 ] && echo "$ROUTER_URL/")"
write_env NODE_URLS "${NODE_URLS[*]}"

# --- 8. how to connect -----------------------------------------------------------------------------------
step 8 "logging in the demo users through the router"
login() { # USER -> JSON on stdout
    curl -sS -m 10 -X POST "$ROUTER_URL/v1/login" -H 'Content-Type: application/json' \
        -d "{\"user_id\": \"$1\", \"password\": \"sendjay\", \"device\": \"web\"}"
}
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
ALICE_JSON=""
for _ in $(seq 50); do
    ALICE_JSON=$(login alice 2>&1 || true)
    case $ALICE_JSON in *'"token"'*) break ;; esac
    sleep 0.2 # the router may not have seen the nodes' announcements yet
done
ALICE_TOKEN=$(printf '%s' "$ALICE_JSON" | json_field token)
[ -n "$ALICE_TOKEN" ] || die "logging in alice failed: $ALICE_JSON; see $LOGS/router.log"
ASSIGNED=""
for u in alice bob carol dave; do
    node=$(login "$u" | sed -n 's/.*"node":{"id":"\([^"]*\)".*/\1/p' || true)
    ASSIGNED="$ASSIGNED $u→${node:-?}"
    write_env "NODE_OF_$(echo "$u" | tr a-z A-Z)" "${node:-}"
done
(umask 077 && printf '%s\n' "$ALICE_TOKEN" >"$STATE/alice.token")
CHAT="$(realpath --relative-to="$PWD" "$BIN/sendjay-chat" 2>/dev/null || echo "$BIN/sendjay-chat") --router $ROUTER_URL"

cat <<EOF

  sendjay is running (state and logs in $STATE).
$(if [ "$WEB" = 1 ]; then printf '\n  Open %s/ in a browser (the web messenger; log in as alice, password sendjay).\n' "$ROUTER_URL"; fi)

  router      $ROUTER_URL          (the web app at /, POST /v1/login, GET /v1/assign, /readyz, /metrics)
$(for i in $(seq "$NODES"); do printf '  node-%-5s  %s/v1/ws   (/readyz, /metrics on %s)\n' "$i" "${NODE_URLS[$((i - 1))]/http:/ws:}" "${NODE_URLS[$((i - 1))]}"; done)
  PostgreSQL  $DATABASE_URL
  Redis       $REDIS_URL

  demo users  alice, bob, carol, dave (password: sendjay) and user0001..user$(printf '%04d' "$USERS")
  assignment $ASSIGNED   (rendezvous hash over the live nodes)

  alice's token (also in $STATE/alice.token):
    $ALICE_TOKEN

  chat — two terminals (alice and dave are on different nodes when the ids are node-1/node-2):
    $CHAT --user alice
    $CHAT --user dave
  then '/room General' in both (or '/room N' with a number from the list), and type. '/help' lists the
  commands; alice and bob also share a direct room.

  without a terminal (dave waits for a message, alice sends one to the General room):
    $CHAT --user dave --room General --expect hello --wait-secs 30 &
    $CHAT --user alice --room General --send 'hello from alice'

  log in with curl:
    curl -s -X POST $ROUTER_URL/v1/login -H 'Content-Type: application/json' \\
      -d '{"user_id": "alice", "password": "sendjay", "device": "web"}'

EOF

if [ "$DETACH" = 1 ]; then
    STARTED=0 # leave it running
    trap - EXIT INT TERM
    say "detached; stop it with: $STOP"
    exit 0
fi

say "running; press Ctrl-C to stop (logs: $LOGS)"
while true; do
    for f in "$PIDS"/*.pid; do
        pid=$(cat "$f" 2>/dev/null || true)
        if [ -n "$pid" ] && ! pid_alive "$pid"; then
            name=$(basename "$f" .pid)
            fail_with_log "$name" "$LOGS/$name.log" "$name exited unexpectedly; see $LOGS/$name.log (stopping the rest)"
        fi
    done
    if [ -f "$PG_DATA/postmaster.pid" ]; then
        pid_alive "$(head -n 1 "$PG_DATA/postmaster.pid")" ||
            fail_with_log postgres "$LOGS/postgres.log" "PostgreSQL exited unexpectedly; see $LOGS/postgres.log (stopping the rest)"
    else
        fail_with_log postgres "$LOGS/postgres.log" "PostgreSQL exited unexpectedly; see $LOGS/postgres.log (stopping the rest)"
    fi
    sleep 1 &
    wait $! || true
done
