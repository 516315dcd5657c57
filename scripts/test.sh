#!/usr/bin/env bash
# sendjay's test command (also what CI runs, through .ci/run):
#
#   1. installs what the tests need when it is missing (PostgreSQL, Redis, curl; apt-get on Debian; Node.js and
#      npm ci in testkit/oidc for the OpenID provider of the single sign-on tests)
#   2. cargo test --workspace --all-targets           (the unit and integration tests)
#   3. an end-to-end smoke test: a local cluster (deploy/local/cluster.sh --detach) with 2 nodes, the terminal
#      chat client as alice sending and as bob and dave receiving, then deploy/local/stop.sh
#      then the observability check (scripts/observability-test.sh: a real Prometheus scraping a local cluster;
#      skip with SENDJAY_SKIP_OBSERVABILITY=1)
#      then the web client (web/client, web/app): npm ci, lint, unit tests, build, and the browser tests in
#      headless Chromium against their own cluster (skip with SENDJAY_SKIP_WEB=1)
#   4. cargo clippy -D warnings and cargo fmt --check (skip with SENDJAY_SKIP_LINT=1)
#
# Exits non-zero when anything failed. The last line is "N passed, M failed" for the smoke checks.
#
# Environment: SENDJAY_SKIP_LINT=1 skips step 4; SENDJAY_SKIP_SMOKE=1 skips step 3; SENDJAY_SKIP_CARGO_TEST=1
# skips step 2's tests (it still builds the binaries, to rerun the later steps alone);
# SENDJAY_SMOKE_PROFILE=release runs the smoke cluster on release binaries (default: debug, already built by
# step 2, which saves a release build).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
SJ_PREFIX="test"
# shellcheck source=scripts/lib/common.sh
. "$ROOT/scripts/lib/common.sh"
# shellcheck source=scripts/lib/web.sh
. "$ROOT/scripts/lib/web.sh"

section() { printf '\n===== %s =====\n' "$*"; }
if [ "${CI:-}" = true ]; then
    export CARGO_TERM_COLOR=never
fi

# --- 1. dependencies -------------------------------------------------------------------------------------
section "1/4 dependencies"
ensure_runtime_deps
ensure_cargo
ensure_moto
# The single sign-on tests (router/tests/sso.rs) sign in at a real OpenID provider: oidc-provider under Node.js
# (testkit/oidc, started by testkit/src/oidc.rs).
ensure_node
npm_ci "$ROOT/testkit/oidc"
npm_ci "$ROOT/testkit/push"
# HOOK (prometheus): the observability check below (scripts/observability-test.sh) installs the Debian package
# prometheus itself when it is missing. Set SENDJAY_NEEDS_PROMETHEUS=1 to install it here up front instead.
if [ "${SENDJAY_NEEDS_PROMETHEUS:-0}" = 1 ]; then
    command -v prometheus >/dev/null 2>&1 || apt_install prometheus
fi
say "PostgreSQL: $PG_BIN; Redis: $REDIS_SERVER; $(cargo --version); $(rustc --version)"

# --- 2. unit and integration tests -----------------------------------------------------------------------
section "2/4 cargo test --workspace --all-targets"
TEST_RC=0
if [ "${SENDJAY_SKIP_CARGO_TEST:-0}" = 1 ]; then
    # The smoke steps below still need the debug binaries that cargo test would have built.
    cargo build --workspace --bins || TEST_RC=$?
    say "cargo test: skipped (SENDJAY_SKIP_CARGO_TEST=1); binaries built (exit $TEST_RC)"
else
    cargo test --workspace --all-targets --no-fail-fast
    TEST_RC=$?
    if [ "$TEST_RC" = 0 ]; then
        say "cargo test: ok"
    else
        say "cargo test: FAILED (exit $TEST_RC); see the failures above"
    fi
fi

# --- 3. end-to-end smoke test ----------------------------------------------------------------------------
section "3/4 smoke test: local cluster + terminal chat client"
PASSED=0
FAILED=0
FAILED_NAMES=()
check() { # NAME COMMAND... — runs one smoke check
    local name=$1
    shift
    if "$@"; then
        PASSED=$((PASSED + 1))
        say "PASS  $name"
    else
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("$name")
        say "FAIL  $name"
    fi
}

SMOKE=$ROOT/.local/smoke-cluster
PROFILE=${SENDJAY_SMOKE_PROFILE:-debug}
CHAT_BIN=$ROOT/target/$PROFILE/sendjay-chat
SMOKE_STARTED=0
stop_smoke() {
    if [ "$SMOKE_STARTED" = 1 ]; then
        SMOKE_STARTED=0
        bash "$ROOT/deploy/local/stop.sh" --state-dir "$SMOKE" --purge >"$SMOKE/stop.out" 2>&1
    fi
}
trap 'stop_smoke' EXIT
trap 'exit 130' INT TERM

smoke_start() {
    mkdir -p "$SMOKE"
    local flags=(--detach --fresh --no-web --users 0 --state-dir "$SMOKE") # the web step below tests the app
    [ "$PROFILE" = debug ] && flags+=(--debug)
    SMOKE_STARTED=1
    if bash "$ROOT/deploy/local/cluster.sh" "${flags[@]}" >"$SMOKE/cluster.out" 2>&1; then
        # shellcheck disable=SC1091
        . "$SMOKE/cluster.env"
        return 0
    fi
    cat "$SMOKE/cluster.out"
    return 1
}

all_ready() {
    local url
    for url in "$ROUTER_URL" $NODE_URLS; do
        curl -fsS -m 5 "$url/readyz" >/dev/null || {
            echo "$url/readyz is not ready"
            return 1
        }
    done
}

users_on_both_nodes() {
    say "assignment: alice→$NODE_OF_ALICE bob→$NODE_OF_BOB carol→$NODE_OF_CAROL dave→$NODE_OF_DAVE"
    local distinct
    distinct=$(printf '%s\n' "$NODE_OF_ALICE" "$NODE_OF_BOB" "$NODE_OF_CAROL" "$NODE_OF_DAVE" | sort -u | grep -c .)
    [ "$distinct" -ge 2 ]
}

chat() { "$CHAT_BIN" --router "$ROUTER_URL" "$@"; }

# wait_for_line FILE TEXT SECONDS
wait_for_line() {
    local deadline=$((SECONDS + $3))
    until grep -qF -- "$2" "$1" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

chat_round() {
    TEXT="smoke-$$-$RANDOM hello from alice"
    local logs=$SMOKE/logs
    # bob shares a node with alice, dave has the other one (rendezvous hash of node-1/node-2): both must see it.
    chat --user bob --room General --expect "$TEXT" --wait-secs 40 >"$logs/chat-bob.out" 2>&1 &
    BOB_PID=$!
    chat --user dave --room General --expect "$TEXT" --wait-secs 40 >"$logs/chat-dave.out" 2>&1 &
    DAVE_PID=$!
    if ! wait_for_line "$logs/chat-bob.out" "-- waiting" 30 || ! wait_for_line "$logs/chat-dave.out" "-- waiting" 30; then
        echo "the receivers did not get ready:"
        cat "$logs/chat-bob.out" "$logs/chat-dave.out"
    fi
    chat --user alice --room General --send "$TEXT" >"$logs/chat-alice.out" 2>&1
    ALICE_RC=$?
    wait "$BOB_PID"
    BOB_RC=$?
    wait "$DAVE_PID"
    DAVE_RC=$?
    for who in alice bob dave; do
        echo "--- chat output of $who:"
        cat "$logs/chat-$who.out"
    done
}

alice_sent() { [ "$ALICE_RC" = 0 ] && grep -qF "alice: $TEXT" "$SMOKE/logs/chat-alice.out"; }
got_it() { # USER RC
    [ "$2" = 0 ] && grep -qF "alice: $TEXT" "$SMOKE/logs/chat-$1.out"
}

piped_stdin() {
    local out=$SMOKE/logs/chat-carol.out
    printf '/rooms\n/room General\n/history 5\nhi from carol via stdin\n/quit\n' | chat --user carol >"$out" 2>&1
    local rc=$?
    echo "--- chat output of carol:"
    cat "$out"
    [ "$rc" = 0 ] && grep -q "rooms of carol" "$out" && grep -qF "alice: $TEXT" "$out" &&
        grep -qF "carol: hi from carol via stdin" "$out"
}

loadtest_smoke() { # every loadtest scenario's smoke version, thresholds decide
    local nodes out=$SMOKE/logs/loadtest-smoke.out rc
    nodes=$(printf '%s\n' $NODE_URLS | sed 's#^http://\(.*\)$#ws://\1/v1/ws#' | paste -sd, -)
    SENDJAY_JWT_SECRET=$(cat "$SMOKE/jwt-secret") "$ROOT/target/$PROFILE/sendjay-loadtest" smoke \
        --router "$ROUTER_URL" --nodes "$nodes" --database-url "$DATABASE_URL" \
        --seed-command "$ROOT/target/$PROFILE/sendjay-router" >"$out" 2>&1
    rc=$?
    echo "--- loadtest smoke (last lines; all of it in $out):"
    tail -n 60 "$out"
    return "$rc"
}

all_stopped() {
    local f pid program bad=0 pids=()
    for f in "$SMOKE"/pids/*.pid; do
        [ -e "$f" ] && pids+=("$(basename "$f" .pid):$(cat "$f")")
    done
    [ -f "$PG_DATA/postmaster.pid" ] && pids+=("postgres:$(head -n 1 "$PG_DATA/postmaster.pid")")
    stop_smoke
    cat "$SMOKE/stop.out"
    for f in "${pids[@]}"; do
        pid=${f#*:}
        # By program, not PID alone: the cargo tests start thousands of processes and threads (pid_max is often
        # 32 768), so a stopped process's PID can soon belong to another program (pid_alive already ignores a
        # thread of another process whose id equals it).
        case ${f%%:*} in
        node-*) program=sendjay-node ;;
        router) program=sendjay-router ;;
        redis) program=redis-server ;;
        postgres) program=postgres ;;
        *) program= ;;
        esac
        if pid_is "$pid" "$program"; then
            echo "still running: ${f%%:*} PID $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120))"
            bad=1
        fi
    done
    for url in "$ROUTER_URL" $NODE_URLS; do
        if curl -s -m 2 -o /dev/null "$url/healthz"; then
            echo "$url still answers"
            bad=1
        fi
    done
    [ "$bad" = 0 ]
}

if [ "${SENDJAY_SKIP_SMOKE:-0}" = 1 ]; then
    say "skipped (SENDJAY_SKIP_SMOKE=1)"
elif check "local cluster starts (deploy/local/cluster.sh --detach, 1 router + 2 nodes)" smoke_start; then
    check "router and both nodes answer /readyz" all_ready
    check "the router spreads the demo users over both nodes" users_on_both_nodes
    chat_round
    check "alice sends to General through the chat client ($NODE_OF_ALICE)" alice_sent
    check "bob receives it live on the same node ($NODE_OF_BOB)" got_it bob "$BOB_RC"
    check "dave receives it live across nodes via Redis ($NODE_OF_DAVE)" got_it dave "$DAVE_RC"
    check "piped stdin: carol lists rooms, opens General, sees the history, sends, quits" piped_stdin
    check "loadtest smoke: every scenario's short run meets its thresholds" loadtest_smoke
    check "deploy/local/stop.sh leaves no process behind" all_stopped
else
    stop_smoke
    say "logs of the failed start: $SMOKE/logs"
fi

# --- observability (issue #5; owned by the observability work, see docs/operations.md) --------------------
# A real Prometheus scrapes its own private local cluster under load; every dashboard panel, alert signal and
# documented metric must have data. It installs the Debian package prometheus when missing. Counts as one smoke
# check. SENDJAY_SKIP_OBSERVABILITY=1 skips it.
section "observability: Prometheus + dashboards + alerts (scripts/observability-test.sh)"
if [ "${SENDJAY_SKIP_OBSERVABILITY:-0}" = 1 ]; then
    say "skipped (SENDJAY_SKIP_OBSERVABILITY=1)"
else
    check "observability: every panel, alert and documented metric has data in Prometheus" \
        bash "$ROOT/scripts/observability-test.sh"
fi

# --- deployment (issue #7): nginx in front of the cluster, systemd units, Kubernetes, compose, settings -----
# Counts as one smoke check. SENDJAY_SKIP_DEPLOY=1 skips it.
section "deployment: load balancer, systemd, Kubernetes, compose, configuration (scripts/deploy-test.sh)"
if [ "${SENDJAY_SKIP_DEPLOY:-0}" = 1 ]; then
    say "skipped (SENDJAY_SKIP_DEPLOY=1)"
else
    check "deployment: behind nginx, unit files, manifests, compose and settings all check out" \
        bash "$ROOT/scripts/deploy-test.sh"
fi

# --- fuzzing (issue 12): the client-frame and server-frame decoders under cargo-fuzz ---------------------
# Replays the committed corpus, then fuzzes every target for about 60 s in total. Counts as one smoke check.
# SENDJAY_SKIP_FUZZ=1 skips it.
section "fuzz: codec decoders under cargo-fuzz (scripts/fuzz.sh)"
if [ "${SENDJAY_SKIP_FUZZ:-0}" = 1 ]; then
    say "skipped (SENDJAY_SKIP_FUZZ=1)"
else
    check "fuzz: the committed corpus replays and 60 s of fuzzing find no crash" \
        bash "$ROOT/scripts/fuzz.sh" --seconds 60
fi

# --- web (issue #14): the protocol package and the app, then the browser tests ---------------------------
# Node.js/npm and chromium come from apt-get when missing. Three checks: web/client (npm ci, lint, unit tests),
# web/app (npm ci, lint, build), the browser tests (playwright-core + /usr/bin/chromium, their own cluster on the
# debug binaries built by cargo test above, at most 5 minutes). SENDJAY_SKIP_WEB=1 skips it.
section "web: web/client and web/app (npm ci, lint, unit tests, build, browser tests)"
WEB_OUT=$ROOT/.local/web-test
web_client() {
    (
        ensure_node
        npm_ci "$ROOT/web/client"
        cd "$ROOT/web/client" && npm run --silent lint && npm test --silent
    )
}
web_app() {
    (
        ensure_node
        npm_ci "$ROOT/web/client"
        npm_ci "$ROOT/web/app"
        cd "$ROOT/web/app" && npm run --silent lint && npm run --silent build
    )
}
web_browser() {
    (
        ensure_chromium
        mkdir -p "$WEB_OUT"
        local rc=0
        cd "$ROOT/web/app" &&
            SENDJAY_E2E_PROFILE=${SENDJAY_SMOKE_PROFILE:-debug} SENDJAY_E2E_SCREENSHOTS=$WEB_OUT/screenshots \
                SENDJAY_E2E_STATE_DIR=$WEB_OUT/cluster timeout -k 10 420 node --test e2e/ || rc=$?
        [ "$rc" = 124 ] && say "the browser tests took over 7 minutes and were stopped"
        # The tests stop their cluster themselves; this catches one left by a run that was killed.
        bash "$ROOT/deploy/local/stop.sh" --state-dir "$WEB_OUT/cluster" --purge >/dev/null 2>&1 || true
        bash "$ROOT/deploy/local/stop.sh" --state-dir "$WEB_OUT/cluster-sso" --purge >/dev/null 2>&1 || true
        bash "$ROOT/deploy/local/stop.sh" --state-dir "$WEB_OUT/cluster-push" --purge >/dev/null 2>&1 || true
        return "$rc"
    )
}
if [ "${SENDJAY_SKIP_WEB:-0}" = 1 ]; then
    say "skipped (SENDJAY_SKIP_WEB=1)"
else
    check "web/client: npm ci, lint (tsc + eslint), unit tests" web_client
    if check "web/app: npm ci, lint (tsc + eslint), build" web_app; then
        check "web: browser tests (headless Chromium, alice and dave on two nodes; screenshots in .local/web-test)" web_browser
    else
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("web: browser tests (not run: the app did not build)")
        say "FAIL  web: browser tests (not run: the app did not build)"
    fi
fi

# --- 4. lint ---------------------------------------------------------------------------------------------
section "4/4 lint: cargo clippy -D warnings, cargo fmt --check"
LINT_RC=0
if [ "${SENDJAY_SKIP_LINT:-0}" = 1 ]; then
    say "skipped (SENDJAY_SKIP_LINT=1)"
else
    if cargo clippy --version >/dev/null 2>&1; then
        cargo clippy --workspace --all-targets -- -D warnings || LINT_RC=1
    else
        warn "cargo clippy is not installed (rustup component add clippy); skipping it"
    fi
    if cargo fmt --version >/dev/null 2>&1; then
        cargo fmt --all -- --check || LINT_RC=1
    else
        warn "cargo fmt is not installed (rustup component add rustfmt); skipping it"
    fi
    [ "$LINT_RC" = 0 ] && say "lint: ok" || say "lint: FAILED (see above; SENDJAY_SKIP_LINT=1 skips it)"
fi

section "summary"
say "cargo test: $([ "$TEST_RC" = 0 ] && echo ok || echo "FAILED (exit $TEST_RC)")"
say "lint: $([ "${SENDJAY_SKIP_LINT:-0}" = 1 ] && echo skipped || { [ "$LINT_RC" = 0 ] && echo ok || echo FAILED; })"
say "smoke checks:"
RC=0
[ "$TEST_RC" = 0 ] || RC=1
[ "$LINT_RC" = 0 ] || RC=1
[ "$FAILED" = 0 ] || RC=1
for name in "${FAILED_NAMES[@]}"; do
    say "failed: $name (its output is above, under its section)"
done
echo "$PASSED passed, $FAILED failed"
exit "$RC"
