# shellcheck shell=bash
# shellcheck disable=SC2034 # SJ_PREFIX and PG_BIN are read by the scripts that source this file
# Helpers shared by deploy/local/cluster.sh, deploy/local/stop.sh and scripts/test.sh. Source it; don't run it.
#
# Installs what is missing with apt-get (Debian/Ubuntu), finds the PostgreSQL binaries, checks for cargo and
# picks free TCP ports on 127.0.0.1. Every failure says what to do next.

SJ_PREFIX=${SJ_PREFIX:-sendjay}

say() { printf '[%s] %s\n' "$SJ_PREFIX" "$*"; }
warn() { printf '[%s] warning: %s\n' "$SJ_PREFIX" "$*" >&2; }
die() {
    printf '[%s] error: %s\n' "$SJ_PREFIX" "$*" >&2
    exit 1
}

is_root() { [ "$(id -u)" = 0 ]; }

# Runs a command as root: directly when we are root, else through sudo (which may ask for a password).
as_root() {
    if is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $*; run this script as root or install sudo"
    fi
}

SJ_APT_UPDATED=0
# apt_install PKG... — installs packages, running `apt-get update` first (once per script run).
apt_install() {
    [ "$#" -gt 0 ] || return 0
    command -v apt-get >/dev/null 2>&1 ||
        die "missing packages: $*; this script installs them with apt-get (Debian/Ubuntu) — install them with your package manager and run it again"
    if [ "$SJ_APT_UPDATED" = 0 ]; then
        say "apt-get update (needed to install: $*)"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
            die "apt-get update failed; check the network or /etc/apt/sources.list, then run this again"
        SJ_APT_UPDATED=1
    fi
    say "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" ||
        die "apt-get install $* failed; fix the apt error above (or install the packages by hand), then run this again"
}

# Sets PG_BIN to the directory holding initdb, pg_ctl and postgres: from PATH (symlinks resolved), else the newest
# /usr/lib/postgresql/<version>/bin. Returns 1 if there is none.
find_pg_bin() {
    local initdb dir best="" v bestv=0
    if initdb=$(command -v initdb 2>/dev/null); then
        dir=$(dirname "$(readlink -f "$initdb")")
        if [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
            PG_BIN=$dir
            return 0
        fi
    fi
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ] || continue
        v=$(basename "$(dirname "$dir")")
        v=${v%%.*}
        case $v in '' | *[!0-9]*) continue ;; esac
        if [ "$v" -gt "$bestv" ]; then
            bestv=$v
            best=$dir
        fi
    done
    [ -n "$best" ] || return 1
    PG_BIN=$best
}

find_redis_server() {
    REDIS_SERVER=$(command -v redis-server 2>/dev/null || true)
    if [ -z "$REDIS_SERVER" ]; then
        for c in /usr/bin/redis-server /usr/local/bin/redis-server; do
            if [ -x "$c" ]; then
                REDIS_SERVER=$c
                break
            fi
        done
    fi
    [ -n "$REDIS_SERVER" ]
}

# Installs PostgreSQL, Redis and curl when their programs are missing (and util-linux's runuser/setsid).
ensure_runtime_deps() {
    local missing=()
    find_pg_bin || missing+=(postgresql)
    find_redis_server || missing+=(redis-server)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    { command -v setsid >/dev/null 2>&1 && { ! is_root || command -v runuser >/dev/null 2>&1; }; } ||
        missing+=(util-linux)
    if [ "${#missing[@]}" -gt 0 ]; then
        apt_install "${missing[@]}"
    fi
    find_pg_bin || die "PostgreSQL's initdb/pg_ctl/postgres are still missing after installing postgresql; put its bin directory on PATH and run this again"
    find_redis_server || die "redis-server is still missing after installing redis-server; put it on PATH and run this again"
    command -v curl >/dev/null 2>&1 || die "curl is still missing; apt-get install curl, then run this again"
    if is_root; then
        id -u postgres >/dev/null 2>&1 ||
            die "running as root, but there is no 'postgres' OS user to run PostgreSQL as (it refuses to run as root): create it with 'useradd --system --home /var/lib/postgresql postgres' or run as a normal user"
    fi
}

# Makes sure moto_server (the S3-compatible server of the file storage tests, Python package moto[server]) is on
# PATH: uses one already there, else installs it into a virtualenv under .local/moto-venv (apt-get python3-venv
# first when needed; Debian's pip refuses system-wide installs).
ensure_moto() {
    command -v moto_server >/dev/null 2>&1 && return 0
    local venv="$ROOT/.local/moto-venv"
    if [ ! -x "$venv/bin/moto_server" ]; then
        python3 -m venv --help >/dev/null 2>&1 || apt_install python3 python3-venv
        python3 -m venv "$venv" || die "cannot create a Python virtualenv in $venv; apt-get install python3-venv and run this again"
        "$venv/bin/pip" install --quiet 'moto[server]' ||
            die "cannot install moto[server] from PyPI into $venv; check the network and run this again"
    fi
    export PATH="$venv/bin:$PATH"
}

# Makes sure cargo is on PATH (also looks in ~/.cargo/bin) and that a C linker exists.
ensure_cargo() {
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        cat >&2 <<'EOF'
[sendjay] error: cargo (Rust) is not installed. sendjay needs Rust 1.80 or newer (Debian's own rustc is too old).
Install it with rustup, then run this script again:

    apt-get install -y curl build-essential
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y
    . "$HOME/.cargo/env"

EOF
        exit 1
    fi
    if ! command -v cc >/dev/null 2>&1; then
        apt_install gcc libc6-dev
    fi
    # Web Push encryption (the `ece` crate under `web-push`) links OpenSSL's libcrypto.
    if ! { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists openssl 2>/dev/null; }; then
        apt_install pkg-config libssl-dev
    fi
}

# port_busy PORT — true when something on this machine listens on PORT (127.0.0.1 or any address).
port_busy() {
    local port=$1
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ] && return 0
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

SJ_TAKEN_PORTS=" "
# take_port DEFAULT — sets PICKED to DEFAULT when it is free, else to the next free port above it, never one this
# shell took before (nor 5432/6379). Call it directly, not in $(...), so that it remembers what it handed out.
take_port() {
    local port=$1 tries=0
    while [ "$tries" -lt 200 ]; do
        case "$SJ_TAKEN_PORTS" in *" $port "*) ;; *)
            if [ "$port" != 5432 ] && [ "$port" != 6379 ] && ! port_busy "$port"; then
                SJ_TAKEN_PORTS="$SJ_TAKEN_PORTS$port "
                PICKED=$port
                return 0
            fi
            ;;
        esac
        port=$((port + 1))
        tries=$((tries + 1))
    done
    die "no free TCP port found in $1..$port on 127.0.0.1; stop something or pass other ports"
}

# pick_port DEFAULT — prints what take_port picks (for one port; use take_port for several).
pick_port() {
    take_port "$1"
    echo "$PICKED"
}

# pid_is PID NAME — true when PID is alive and its command line mentions NAME (guards against recycled PIDs).
pid_is() {
    local pid=$1 name=$2
    [ -n "$pid" ] && pid_alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name"
}

# pid_alive PID — true when PID runs (a zombie, exited but not yet reaped by its parent, counts as gone). A thread
# of another process whose thread id happens to equal PID (thread ids share the PID space, and pid_max is often
# 32 768) is not PID: `kill -0` and /proc/PID answer for threads too, so the thread group id must be PID itself.
pid_alive() {
    local state tgid
    kill -0 "$1" 2>/dev/null || return 1
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
    [ "$state" != Z ] || return 1
    tgid=$(sed -n 's/^Tgid:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null)
    [ -z "$tgid" ] || [ "$tgid" = "$1" ]
}

# wait_gone PID SECONDS — waits until PID has exited; false if it is still there after SECONDS.
wait_gone() {
    local pid=$1 deadline=$((SECONDS + $2))
    while pid_alive "$pid"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}
