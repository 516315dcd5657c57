#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input with cargo-fuzz (libFuzzer): fuzz/fuzz_targets/*.rs.
#
#   scripts/fuzz.sh [--seconds N]
#
# Installs cargo-fuzz when missing (cargo install from crates.io; it runs on the stable toolchain with
# RUSTC_BOOTSTRAP=1), replays the committed corpus fuzz/corpus/TARGET of every target (-runs=0), then fuzzes
# every target for N seconds in total (default 60, split evenly), printing libFuzzer's progress lines.
# New inputs go to fuzz/target/corpus-new/TARGET (not committed). Exits non-zero on a crash, naming the input
# file and the command that reproduces it.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_TOTAL=60
while [ $# -gt 0 ]; do
    case $1 in
        --seconds) SECONDS_TOTAL=${2:?--seconds needs a number}; shift 2 ;;
        -h | --help) sed -n 2,10p "$0"; exit 0 ;;
        *) echo "[fuzz] error: unknown argument $1; usage: scripts/fuzz.sh [--seconds N]" >&2; exit 2 ;;
    esac
done
say() { printf '[fuzz] %s\n' "$*"; }

export RUSTC_BOOTSTRAP=1
# The fuzz workspace has its own target directory (sanitizer builds), whatever the caller's is.
export CARGO_TARGET_DIR=$ROOT/fuzz/target
if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz (cargo install cargo-fuzz --locked; a few minutes, once)"
    cargo install cargo-fuzz --locked || { say "error: could not install cargo-fuzz: check access to crates.io, then rerun"; exit 1; }
fi
cd "$ROOT/fuzz" || exit 1
TARGETS=$(cargo fuzz list) || { say "error: cargo fuzz list failed in fuzz/"; exit 1; }
COUNT=$(echo "$TARGETS" | wc -w)
PER_TARGET=$(( SECONDS_TOTAL / COUNT ))
[ "$PER_TARGET" -lt 1 ] && PER_TARGET=1
say "building $COUNT targets ($(echo $TARGETS)) with sanitizers in fuzz/target (the first build takes minutes)"
cargo fuzz build -O || { say "error: the fuzz build failed; see the compiler output above"; exit 1; }

crashed() { # TARGET LOG
    local input
    input=$(grep -o 'Test unit written to [^ ]*' "$2" | tail -1 | sed 's/Test unit written to //')
    say "CRASH in $1: input ${input:-(see $2)}"
    say "reproduce: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O $1 ${input:-ARTIFACT}"
    say "then add it as a regression test in common/ and fix the decoder; log: $2"
}

LOGS=$ROOT/fuzz/target/logs
mkdir -p "$LOGS"
for target in $TARGETS; do
    say "replaying the committed corpus of $target"
    log=$LOGS/$target-replay.log
    if ! cargo fuzz run -O "$target" "corpus/$target" -- -runs=0 >"$log" 2>&1; then
        tail -20 "$log"; crashed "$target" "$log"; exit 1
    fi
    grep -E 'INITED|DONE' "$log" | sed "s/^/[fuzz]   /"
done
for target in $TARGETS; do
    say "fuzzing $target for ${PER_TARGET}s"
    log=$LOGS/$target.log
    new=$ROOT/fuzz/target/corpus-new/$target
    mkdir -p "$new"
    # Progress: libFuzzer's pulse lines (#N execs, cov, exec/s), every few seconds.
    cargo fuzz run -O "$target" "$new" "corpus/$target" -- -max_total_time="$PER_TARGET" -print_final_stats=1 \
        2>&1 | tee "$log" | grep --line-buffered -E 'pulse|INITED|DONE|ERROR|panicked' | sed -u "s/^/[fuzz]   /"
    if [ "${PIPESTATUS[0]}" != 0 ]; then
        tail -30 "$log"; crashed "$target" "$log"; exit 1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    say "$target: ${runs:-?} executions in ${PER_TARGET}s, no crash"
done
say "no crash in $COUNT targets"
