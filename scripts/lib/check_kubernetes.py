#!/usr/bin/env python3
"""Checks the rendered Kubernetes manifests of deploy/kubernetes (used by scripts/deploy-test.sh).

    python3 scripts/lib/check_kubernetes.py RENDERED.yaml [--rules-out FILE] [--secret-external]

The built-in kinds are validated against the Kubernetes OpenAPI schemas by kubernetes-validate (run by the
caller). This script covers what a schema cannot:

* the Prometheus Operator kinds (ServiceMonitor, PrometheusRule) against the models generated from the
  operator's CRDs (PyPI cloudcoil.models.prometheus_operator), strictly: a field the model does not know fails;
* the PrometheusRule carries exactly the groups of deploy/prometheus/alerts.yml (written to --rules-out for
  `promtool check rules`);
* the requirements of issue #7 and the references between objects: probes (/readyz, /healthz), a preStop hook
  and a termination grace period that covers the drain, resource requests, PDBs and HPAs that target existing
  workloads, Services and an Ingress whose selectors and ports exist, WebSocket timeouts on the Ingress, the
  migration Job, every ConfigMap and Secret referenced exists (with --secret-external, the Secret
  sendjay-secrets may be created outside the manifests), the node id and public URL of the nodes.

Prints one line per problem and exits 1 if there is any.
"""

import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
problems = []


def problem(text):
    problems.append(text)
    print(f"  problem: {text}")


def containers(obj):
    return obj["spec"]["template"]["spec"]["containers"]


def pod_labels(obj):
    return obj["spec"]["template"]["metadata"].get("labels", {})


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def strict_crd(obj):
    """Validates a Prometheus Operator object; unknown fields are caught by a round trip through the model."""
    from cloudcoil.models.prometheus_operator import v1

    model = getattr(v1, obj["kind"])
    try:
        parsed = model.model_validate(obj)
    except Exception as e:  # pydantic.ValidationError
        problem(f"{obj['kind']}/{obj['metadata']['name']}: {e}")
        return
    dumped = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")

    def diff(a, b, path):
        if isinstance(a, dict) and isinstance(b, dict):
            for k in a:
                if k not in b:
                    problem(f"{obj['kind']}/{obj['metadata']['name']}: unknown field {path}.{k}")
                else:
                    diff(a[k], b[k], f"{path}.{k}")
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                diff(x, y, f"{path}[{i}]")
        elif a != b and str(a) != str(b):
            problem(f"{obj['kind']}/{obj['metadata']['name']}: {path} reads back as {b!r}, not {a!r}")

    diff(obj, dumped, "")


def main():
    args = sys.argv[1:]
    rules_out = None
    secret_external = False
    if "--rules-out" in args:
        i = args.index("--rules-out")
        rules_out = args[i + 1]
        del args[i : i + 2]
    if "--secret-external" in args:
        args.remove("--secret-external")
        secret_external = True
    [path] = args
    docs = [d for d in yaml.safe_load_all(open(path, encoding="utf-8")) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d

    def get(kind, name):
        return by_kind.get(kind, {}).get(name)

    print(f"{path}: {len(docs)} objects: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(by_kind.items())))
    for kind in ("ServiceMonitor", "PrometheusRule"):
        for obj in by_kind.get(kind, {}).values():
            strict_crd(obj)

    # --- workloads ---
    node = get("StatefulSet", "sendjay-node")
    router = get("Deployment", "sendjay-router")
    gateway = get("Deployment", "sendjay-gateway")
    job = get("Job", "sendjay-migrate")
    for name, obj in [("StatefulSet sendjay-node", node), ("Deployment sendjay-router", router),
                      ("Deployment sendjay-gateway", gateway), ("Job sendjay-migrate", job)]:
        if obj is None:
            problem(f"missing {name}")
    if problems:
        return 1
    config_maps = by_kind.get("ConfigMap", {})
    settings = {}
    for cm in config_maps.values():
        if cm["metadata"]["name"].startswith("sendjay-config"):
            settings = cm.get("data", {})
    if not settings:
        problem("no ConfigMap sendjay-config with the settings")

    for obj in (node, router):
        kind_name = f"{obj['kind']}/{obj['metadata']['name']}"
        c = containers(obj)[0]
        ready = c.get("readinessProbe", {}).get("httpGet", {}).get("path")
        live = c.get("livenessProbe", {}).get("httpGet", {}).get("path")
        if ready != "/readyz":
            problem(f"{kind_name}: readiness probe is {ready!r}, not /readyz")
        if live != "/healthz":
            problem(f"{kind_name}: liveness probe is {live!r}, not /healthz")
        req = c.get("resources", {}).get("requests", {})
        if not req.get("cpu") or not req.get("memory"):
            problem(f"{kind_name}: no cpu and memory requests")
        if "preStop" not in c.get("lifecycle", {}):
            problem(f"{kind_name}: no preStop hook")
        sc = obj["spec"]["template"]["spec"].get("securityContext", {})
        if not sc.get("runAsNonRoot"):
            problem(f"{kind_name}: does not require runAsNonRoot")

    # The drain: preStop SIGTERM + SENDJAY_DRAIN_GRACE_SECS + ~3 s must fit in the termination grace period.
    drain = int(settings.get("SENDJAY_DRAIN_GRACE_SECS", 20))
    grace = node["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
    if grace < drain + 10:
        problem(f"node terminationGracePeriodSeconds {grace} < SENDJAY_DRAIN_GRACE_SECS {drain} + 10")
    else:
        print(f"  node: terminationGracePeriodSeconds {grace} covers the drain ({drain} s + 10 s)")
    pre = " ".join(containers(node)[0]["lifecycle"]["preStop"].get("exec", {}).get("command", []))
    if "kill -TERM 1" not in pre:
        problem(f"node preStop does not start the drain (SIGTERM to PID 1): {pre!r}")
    env = {e["name"]: e for e in containers(node)[0].get("env", [])}
    if env.get("SENDJAY_NODE_ID", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "metadata.name":
        problem("node: SENDJAY_NODE_ID must be the pod name (fieldRef metadata.name)")
    public = settings.get("SENDJAY_PUBLIC_URL", "")
    if not re.fullmatch(r"wss?://[^/]+/n/\{node_id\}/v1/ws", public):
        problem(f"SENDJAY_PUBLIC_URL {public!r} is not ws[s]://<host>/n/{{node_id}}/v1/ws")
    ingress = get("Ingress", "sendjay")
    if ingress and public:
        host = ingress["spec"]["rules"][0].get("host")
        if host and f"//{host}/" not in public:
            problem(f"SENDJAY_PUBLIC_URL {public!r} does not point at the Ingress host {host}")
    if node["spec"].get("serviceName") != "sendjay-node" or not get("Service", "sendjay-node"):
        problem("node: the StatefulSet's serviceName must be the headless Service sendjay-node")
    elif get("Service", "sendjay-node")["spec"].get("clusterIP") != "None":
        problem("Service sendjay-node must be headless (clusterIP: None)")
    if job and containers(job)[0].get("command", [])[-1:] != ["migrate"]:
        problem("Job sendjay-migrate does not run `sendjay-node migrate`")

    # --- ConfigMaps and Secrets referenced ---
    for obj in (node, router, gateway, job):
        spec = obj["spec"]["template"]["spec"]
        refs = []
        for c in spec["containers"]:
            for ef in c.get("envFrom", []):
                if "configMapRef" in ef:
                    refs.append(("ConfigMap", ef["configMapRef"]["name"]))
                if "secretRef" in ef:
                    refs.append(("Secret", ef["secretRef"]["name"]))
        for v in spec.get("volumes", []):
            if "configMap" in v:
                refs.append(("ConfigMap", v["configMap"]["name"]))
        for kind, name in refs:
            if get(kind, name):
                continue
            if kind == "Secret" and name == "sendjay-secrets" and secret_external:
                continue
            problem(f"{obj['kind']}/{obj['metadata']['name']} uses {kind} {name}, which is not in the manifests")

    # --- Services, PDBs, HPAs, Ingress, ServiceMonitor ---
    workloads = [node, router, gateway]
    for svc in by_kind.get("Service", {}).values():
        sel = svc["spec"].get("selector", {})
        pods = [w for w in workloads if matches(sel, pod_labels(w))]
        if not pods:
            problem(f"Service {svc['metadata']['name']} selects no pod")
            continue
        ports = {p.get("name") for p in containers(pods[0])[0].get("ports", [])}
        for p in svc["spec"]["ports"]:
            if isinstance(p.get("targetPort"), str) and p["targetPort"] not in ports:
                problem(f"Service {svc['metadata']['name']}: targetPort {p['targetPort']} is not a container port")
    for pdb in by_kind.get("PodDisruptionBudget", {}).values():
        sel = pdb["spec"]["selector"].get("matchLabels", {})
        if not any(matches(sel, pod_labels(w)) for w in workloads):
            problem(f"PodDisruptionBudget {pdb['metadata']['name']} selects no pod")
    if not get("PodDisruptionBudget", "sendjay-node"):
        problem("no PodDisruptionBudget for the nodes")
    for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
        ref = hpa["spec"]["scaleTargetRef"]
        if not get(ref["kind"], ref["name"]):
            problem(f"HPA {hpa['metadata']['name']} targets a missing {ref['kind']} {ref['name']}")
    for name in ("sendjay-node", "sendjay-router"):
        if not get("HorizontalPodAutoscaler", name):
            problem(f"no HorizontalPodAutoscaler {name}")
    if not ingress:
        problem("no Ingress sendjay")
    else:
        ann = ingress["metadata"].get("annotations", {})
        for key in ("proxy-read-timeout", "proxy-send-timeout"):
            value = int(ann.get(f"nginx.ingress.kubernetes.io/{key}", "0"))
            if value < 3600:
                problem(f"Ingress: {key} is {value}, WebSockets need long timeouts (>= 3600)")
        paths = {}
        for rule in ingress["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                backend = p["backend"]["service"]
                paths[p["path"]] = backend["name"]
                svc = get("Service", backend["name"])
                if not svc:
                    problem(f"Ingress path {p['path']} goes to a missing Service {backend['name']}")
                elif backend["port"].get("name") not in {x.get("name") for x in svc["spec"]["ports"]}:
                    problem(f"Ingress path {p['path']}: Service {backend['name']} has no port {backend['port']}")
        if paths.get("/v1/") != "sendjay-router" or paths.get("/n/") != "sendjay-gateway":
            problem(f"Ingress must send /v1/ to the routers and /n/ to the gateway, not {paths}")
    for sm in by_kind.get("ServiceMonitor", {}).values():
        exprs = sm["spec"]["selector"].get("matchExpressions", [])
        names = set()
        for e in exprs:
            if e["key"] == "app.kubernetes.io/name" and e["operator"] == "In":
                names |= set(e["values"])
        for wanted in ("sendjay-node", "sendjay-router"):
            svc = get("Service", wanted)
            if wanted not in names or not svc or svc["metadata"]["labels"].get("app.kubernetes.io/name") != wanted:
                problem(f"ServiceMonitor {sm['metadata']['name']} does not scrape the Service {wanted}")
        if sm["spec"].get("jobLabel") != "app.kubernetes.io/name":
            problem("ServiceMonitor: jobLabel must be app.kubernetes.io/name (job=sendjay-node|sendjay-router)")

    # --- gateway template agrees with the StatefulSet ---
    template = next((v for cm in config_maps.values() for k, v in cm.get("data", {}).items()
                     if k == "default.conf.template"), None)
    if template is None:
        problem("no ConfigMap with the gateway's default.conf.template")
    elif f"(?<sendjay_node>{node['metadata']['name']}-[0-9]" not in template or \
            f".{node['spec']['serviceName']}.${{POD_NAMESPACE}}.svc" not in template:
        problem("the gateway template does not route /n/<pod>/ to the StatefulSet's pods via its headless Service")

    # --- alert rules ---
    rule = get("PrometheusRule", "sendjay")
    alerts = yaml.safe_load(open(ROOT / "deploy/prometheus/alerts.yml", encoding="utf-8"))
    if not rule:
        problem("no PrometheusRule sendjay")
    elif rule["spec"].get("groups") != alerts["groups"]:
        problem("PrometheusRule groups differ from deploy/prometheus/alerts.yml (run deploy/kubernetes/generate.py)")
    else:
        n = sum(len(g["rules"]) for g in alerts["groups"])
        print(f"  PrometheusRule: the {n} rules of deploy/prometheus/alerts.yml")
        if rules_out:
            with open(rules_out, "w", encoding="utf-8") as f:
                yaml.safe_dump({"groups": rule["spec"]["groups"]}, f, sort_keys=False)
    print(f"  {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
