#!/usr/bin/env python3
"""CPU cores used per program (PostgreSQL, Redis, the nodes, the router, the load generator) over a window.

docs/benchmarks.md reports these beside its figures. The generator reports only its own CPU and the nodes';
this adds PostgreSQL's and Redis's, read from /proc/*/stat of every process whose name starts with postgres,
redis or sendjay, summed per name.

    python3 scripts/cpu-by-program.py WAIT SECONDS
        waits WAIT seconds (to skip a run's seeding and connecting), then prints the cores each program used
        over the next SECONDS, e.g. `postgres=1.00 redis-server=0.11 sendjay-loadtes=0.29 sendjay-node=0.58`
        (names are the kernel's, cut to 15 characters). Start it beside the load generator.
"""
import os
import sys
import time

PROGRAMS = ("postgres", "redis", "sendjay")


def cpu_seconds():
    """CPU seconds (user + system) so far, per program name."""
    tick = os.sysconf("SC_CLK_TCK")
    total = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # the process ended meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")].split(":")[0]
        if not name.startswith(PROGRAMS):
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total[name] = total.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return total


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: cpu-by-program.py WAIT SECONDS (see the top of this file)")
    wait, seconds = float(sys.argv[1]), float(sys.argv[2])
    if seconds <= 0:
        sys.exit("SECONDS must be above 0: it is the window the CPU is averaged over")
    time.sleep(wait)
    before = cpu_seconds()
    time.sleep(seconds)
    after = cpu_seconds()
    print(" ".join(f"{k}={(after[k] - before.get(k, 0.0)) / seconds:.2f}" for k in sorted(after)))


if __name__ == "__main__":
    main()
