#!/usr/bin/env python3
"""Checks deploy/docker beyond the Compose schema (used by scripts/deploy-test.sh; Docker cannot run here).

    python3 scripts/lib/check_compose.py

* compose.yaml: the services issue #7 asks for (PostgreSQL, Redis, Prometheus, Grafana, the balancer, 2 routers,
  3 nodes, the migrations), every file it mounts, its env_file and build context exist, nodes are named like
  the balancer's upstreams and announce URLs through it, stop grace periods cover the drain, health checks
  exist, Prometheus scrapes every router and node with the job names the dashboards use;
* Dockerfile: multi-stage, the final stage runs as a non-root numeric user, every COPY source exists and is not
  excluded by Dockerfile.dockerignore, the two binaries are copied.

Prints one line per problem and exits 1 if there is any.
"""

import fnmatch
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DIR = ROOT / "deploy" / "docker"
problems = []


def problem(text):
    problems.append(text)
    print(f"  problem: {text}")


def env_of(service):
    env = {}
    for f in [service.get("env_file")] if isinstance(service.get("env_file"), str) else service.get("env_file", []):
        for line in (DIR / f).read_text().splitlines():
            if line.strip() and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k.strip()] = v.strip()
    e = service.get("environment", {})
    if isinstance(e, list):
        e = dict(x.split("=", 1) for x in e)
    env.update(e)
    return env


def check_compose():
    compose = yaml.safe_load((DIR / "compose.yaml").read_text())
    services = compose["services"]
    wanted = ["postgres", "redis", "migrate", "router-1", "router-2", "node-1", "node-2", "node-3", "lb",
              "prometheus", "grafana"]
    for name in wanted:
        if name not in services:
            problem(f"compose.yaml: no service {name}")
    for name, s in services.items():
        for v in s.get("volumes", []):
            src = v.split(":", 1)[0] if isinstance(v, str) else v.get("source", "")
            if src.startswith((".", "/")) and not (DIR / src).exists():
                problem(f"compose.yaml: {name} mounts {src}, which does not exist")
        ef = s.get("env_file")
        if ef and not (DIR / ef).exists():
            problem(f"compose.yaml: {name}: env_file {ef} does not exist")
        b = s.get("build")
        if b:
            ctx = DIR / b["context"]
            if not (ctx / b["dockerfile"]).exists():
                problem(f"compose.yaml: {name}: {b['dockerfile']} not found in the build context {ctx}")
        for dep in s.get("depends_on", {}):
            if dep not in services:
                problem(f"compose.yaml: {name} depends on a missing service {dep}")
    upstreams = (DIR / "nginx" / "upstreams.conf").read_text()
    for i in (1, 2, 3):
        name = f"node-{i}"
        s = services.get(name, {})
        env = env_of(s)
        if env.get("SENDJAY_NODE_ID") != name:
            problem(f"{name}: SENDJAY_NODE_ID is {env.get('SENDJAY_NODE_ID')!r}, not the service name")
        if not re.fullmatch(r"ws://\$\{SENDJAY_PUBLIC_HOST:-localhost:8080\}/n/\{node_id\}/v1/ws",
                            env.get("SENDJAY_PUBLIC_URL", "")):
            problem(f"{name}: SENDJAY_PUBLIC_URL does not point through the balancer: {env.get('SENDJAY_PUBLIC_URL')}")
        if f"server {name}:7400" not in upstreams or f"{name}  sendjay-node-{name};" not in upstreams:
            problem(f"nginx/upstreams.conf has no upstream and map entry for {name}")
        drain = int(env.get("SENDJAY_DRAIN_GRACE_SECS", "20"))
        grace = int(str(s.get("stop_grace_period", "10s")).rstrip("s"))
        if grace < drain + 5:
            problem(f"{name}: stop_grace_period {grace}s does not cover the drain ({drain} s + 5)")
        if "healthcheck" not in s or "/readyz" not in " ".join(s["healthcheck"]["test"]):
            problem(f"{name}: no /readyz health check")
    for i in (1, 2):
        s = services.get(f"router-{i}", {})
        if f"server router-{i}:7300" not in upstreams:
            problem(f"nginx/upstreams.conf does not balance router-{i}")
        if "healthcheck" not in s:
            problem(f"router-{i}: no health check")
    prom = yaml.safe_load((DIR / "prometheus.yml").read_text())
    jobs = {j["job_name"]: [t for sc in j["static_configs"] for t in sc["targets"]] for j in prom["scrape_configs"]}
    if sorted(jobs.get("sendjay-router", [])) != ["router-1:7300", "router-2:7300"]:
        problem(f"prometheus.yml: job sendjay-router scrapes {jobs.get('sendjay-router')}")
    if sorted(jobs.get("sendjay-node", [])) != ["node-1:7480", "node-2:7480", "node-3:7480"]:
        problem(f"prometheus.yml: job sendjay-node scrapes {jobs.get('sendjay-node')}")
    g = services.get("grafana", {})
    mounts = " ".join(g.get("volumes", []))
    if "grafana/provisioning:/etc/grafana/provisioning" not in mounts or \
            "grafana/dashboards:/var/lib/grafana/dashboards/sendjay" not in mounts:
        problem("grafana: the provisioning and dashboards of grafana/ are not mounted")
    if "SENDJAY_PROMETHEUS_URL" not in g.get("environment", {}):
        problem("grafana: SENDJAY_PROMETHEUS_URL (the data source) is not set")
    print(f"  compose.yaml: {len(services)} services: {', '.join(services)}")


def check_dockerfile():
    text = (DIR / "Dockerfile").read_text()
    lines = [l.strip() for l in text.replace("\\\n", " ").splitlines() if l.strip() and not l.startswith("#")]
    stages = [l for l in lines if l.upper().startswith("FROM ")]
    if len(stages) < 2:
        problem("Dockerfile: not multi-stage")
    final = lines[lines.index(stages[-1]):]
    users = [l.split()[1] for l in final if l.upper().startswith("USER ")]
    if not users or users[-1].split(":")[0] in ("0", "root") or not users[-1].split(":")[0].isdigit():
        problem(f"Dockerfile: the final stage must run as a numeric non-root USER, not {users}")
    ignore = [l.strip() for l in (DIR / "Dockerfile.dockerignore").read_text().splitlines()
              if l.strip() and not l.startswith("#")]

    def ignored(path):
        result = False
        for pat in ignore:
            neg = pat.startswith("!")
            p = pat[1:] if neg else pat
            if fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/"):
                result = not neg
        return result

    for l in lines:
        if l.upper().startswith("COPY ") and "--from=" not in l:
            parts = [p for p in l.split()[1:] if not p.startswith("--")]
            for src in parts[:-1]:
                if not (ROOT / src).exists():
                    problem(f"Dockerfile: COPY source {src} does not exist")
                elif ignored(src):
                    problem(f"Dockerfile: COPY source {src} is excluded by Dockerfile.dockerignore")
    for b in ("sendjay-node", "sendjay-router"):
        if f"/out/{b}" not in text:
            problem(f"Dockerfile: {b} is not copied into the image")
    print(f"  Dockerfile: {len(stages)} stages, final user {users[-1] if users else '?'}")


check_compose()
check_dockerfile()
print(f"  {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
