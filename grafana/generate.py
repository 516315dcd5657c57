#!/usr/bin/env python3
"""Writes the sendjay Grafana dashboards (grafana/dashboards/*.json) from the panel lists below.

The JSON files are committed; edit this file and run `python3 grafana/generate.py` to change them, so that the
three dashboards keep one layout and one style. Every panel title and query is documented in
docs/operations.md, and the observability test (scripts/observability-test.sh) runs every query against a
real Prometheus scraping a loaded local cluster: a panel that shows nothing fails the test.

Queries may use `$__rate_interval` and the dashboard variables (`$instance` on the node drill-down).
"""

import json
import pathlib

OUT = pathlib.Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
RI = "$__rate_interval"


def q(expr, legend=""):
    return {"expr": expr, "legend": legend}


def rate(metric, selector="", by=None):
    inner = f"rate({metric}{{{selector}}}[{RI}])" if selector else f"rate({metric}[{RI}])"
    return f"sum by ({by}) ({inner})" if by else f"sum({inner})"


def quantile(p, metric, selector="", by=None):
    sel = f"{{{selector}}}" if selector else ""
    group = f"{by}, le" if by else "le"
    return f"histogram_quantile({p}, sum by ({group}) (rate({metric}_bucket{sel}[{RI}])))"


# A panel: (kind, title, unit, [queries], width). kind: "stat", "ts" (time series), "table"; "row" starts a row.
def stat(title, unit, *queries, w=6):
    return ("stat", title, unit, list(queries), w)


def ts(title, unit, *queries, w=12):
    return ("ts", title, unit, list(queries), w)


def table(title, *queries, w=24):
    return ("table", title, "", list(queries), w)


def row(title):
    return ("row", title, "", [], 24)


DROP_BUS = 'reason=~"bus_lagged|publish_failed|bad_bus_message"'
NODES = 'job="sendjay-node"'
ANY = 'job=~"sendjay-node|sendjay-router"'

OVERVIEW = [
    row("Traffic"),
    stat("Open connections", "short", q("sum(sendjay_connections)", "connections")),
    stat("Nodes up", "short", q(f"sum(up{{{NODES}}})", "nodes up")),
    stat("Live nodes in the ring", "short", q("max(sendjay_router_live_nodes)", "live nodes")),
    stat(
        "Delivery p99",
        "s",
        q(quantile(0.99, "sendjay_delivery_duration_seconds"), "p99"),
    ),
    ts(
        "Connections by device class",
        "short",
        q("sum by (device) (sendjay_connections)", "{{device}}"),
    ),
    ts(
        "Connections opened and closed",
        "ops",
        q(rate("sendjay_connections_accepted_total"), "opened"),
        q(rate("sendjay_connections_closed_total", by="reason"), "closed: {{reason}}"),
    ),
    ts(
        "Messages in and out",
        "ops",
        q(rate("sendjay_messages_received_total"), "received from clients"),
        q(rate("sendjay_messages_persisted_total"), "persisted"),
        q(rate("sendjay_bus_published_total"), "published to the bus"),
        q(rate("sendjay_bus_received_total", 'channel="room"'), "received from the bus (rooms)"),
        q(rate("sendjay_pushes_written_total"), "pushes written to sockets"),
    ),
    ts(
        "Delivery latency (commit to socket)",
        "s",
        q(quantile(0.5, "sendjay_delivery_duration_seconds"), "p50"),
        q(quantile(0.99, "sendjay_delivery_duration_seconds"), "p99"),
    ),
    ts("Requests by op", "reqps", q(rate("sendjay_requests_total", by="op"), "{{op}}")),
    ts(
        "Request latency p99 by op",
        "s",
        q(quantile(0.99, "sendjay_request_duration_seconds", by="op"), "{{op}}"),
    ),
    row("Errors"),
    ts(
        "Errors by fault",
        "ops",
        q(rate("sendjay_errors_total", by="fault"), "{{fault}}"),
        q(rate("sendjay_router_http_requests_total", 'status="5xx"'), "router 5xx"),
    ),
    ts(
        "Error ratio (server faults)",
        "percentunit",
        q(
            f'sum(rate(sendjay_errors_total{{fault!="client"}}[{RI}])) / sum(rate(sendjay_requests_total[{RI}]))',
            "node requests",
        ),
    ),
    ts(
        "Authentication failures by reason",
        "ops",
        q(rate("sendjay_auth_failures_total", by="reason"), "{{reason}}"),
    ),
    ts(
        "Dropped pushes by reason",
        "ops",
        q(rate("sendjay_dropped_total", by="reason"), "{{reason}}"),
    ),
    ts(
        "Evictions and slow consumers",
        "ops",
        q(rate("sendjay_evictions_total"), "evictions"),
        q(rate("sendjay_connections_closed_total", 'reason="slow_consumer"'), "slow-consumer disconnects"),
        q(rate("sendjay_rebalanced_users_total"), "users moved by a rebalance"),
    ),
    row("Saturation"),
    ts(
        "Outbound queue, longest per node",
        "short",
        q("max by (instance) (sendjay_outbound_queue_longest_frames)", "{{instance}}"),
    ),
    ts(
        "PostgreSQL pool use",
        "percentunit",
        q(
            'sum by (job, instance) (sendjay_db_pool_connections{state="in_use"}) / sum by (job, instance) (sendjay_db_pool_max_connections)',
            "{{job}} {{instance}}",
        ),
    ),
    ts(
        "Bus receive backlog",
        "short",
        q("max by (instance) (sendjay_bus_receive_backlog)", "{{instance}}"),
    ),
    ts(
        "CPU",
        "percentunit",
        q(f"sum by (job, instance) (rate(process_cpu_seconds_total{{{ANY}}}[{RI}]))", "{{job}} {{instance}}"),
    ),
    ts(
        "Resident memory",
        "bytes",
        q(f"process_resident_memory_bytes{{{ANY}}}", "{{job}} {{instance}}"),
    ),
    ts(
        "Open file descriptors",
        "short",
        q(f"process_open_fds{{{ANY}}}", "{{job}} {{instance}}"),
    ),
    row("Router"),
    ts(
        "Logins by result",
        "reqps",
        q(rate("sendjay_router_logins_total", by="result"), "{{result}}"),
    ),
    ts(
        "Assignments and redirects",
        "reqps",
        q(rate("sendjay_router_assignments_total", by="route"), "assigned at {{route}}"),
        q(rate("sendjay_router_redirects_total"), "redirects"),
    ),
    ts(
        "Router latency p99 by route",
        "s",
        q(quantile(0.99, "sendjay_router_http_request_duration_seconds", by="route"), "{{route}}"),
    ),
    ts(
        "Router errors by code",
        "reqps",
        q(rate("sendjay_router_http_errors_total", by="error"), "{{error}}"),
    ),
    table(
        "Versions",
        q(f"max by (job, instance, version, commit) (sendjay_build_info{{{ANY}}})", ""),
    ),
]

INST = 'instance="$instance"'


def node_rate(metric, extra="", by=None):
    return rate(metric, f"{INST}, {extra}" if extra else INST, by)


def node_q(p, metric, by=None):
    return quantile(p, metric, INST, by)


NODE = [
    row("State"),
    stat("Up", "short", q(f'up{{{NODES}, {INST}}}', "up")),
    stat("Ready", "short", q(f"sendjay_ready{{{INST}}}", "ready")),
    stat("Draining", "short", q(f"sendjay_draining{{{INST}}}", "draining")),
    stat("Open connections", "short", q(f"sum(sendjay_connections{{{INST}}})", "connections")),
    ts(
        "Connections by device class",
        "short",
        q(f"sendjay_connections{{{INST}}}", "{{device}}"),
    ),
    ts(
        "Local users and rooms",
        "short",
        q(f"sendjay_local_users{{{INST}}}", "users"),
        q(f"sendjay_local_rooms{{{INST}}}", "rooms (channels subscribed)"),
    ),
    ts(
        "Connections closed by reason",
        "ops",
        q(node_rate("sendjay_connections_closed_total", by="reason"), "{{reason}}"),
    ),
    ts(
        "Authentication failures and evictions",
        "ops",
        q(node_rate("sendjay_auth_failures_total", by="reason"), "auth: {{reason}}"),
        q(node_rate("sendjay_evictions_total"), "evictions"),
        q(node_rate("sendjay_rebalanced_users_total"), "rebalanced users"),
    ),
    row("Requests and messages"),
    ts(
        "Requests by op and code",
        "reqps",
        q(node_rate("sendjay_requests_total", by="op, code"), "{{op}} {{code}}"),
    ),
    ts(
        "Request latency by op",
        "s",
        q(node_q(0.5, "sendjay_request_duration_seconds", by="op"), "p50 {{op}}"),
        q(node_q(0.99, "sendjay_request_duration_seconds", by="op"), "p99 {{op}}"),
    ),
    ts(
        "Messages",
        "ops",
        q(node_rate("sendjay_messages_received_total"), "received from clients"),
        q(node_rate("sendjay_messages_persisted_total"), "persisted"),
        q(node_rate("sendjay_bus_published_total"), "published"),
        q(node_rate("sendjay_bus_received_total", by="channel"), "bus received: {{channel}}"),
        q(node_rate("sendjay_frames_delivered_total"), "queued to sockets"),
        q(node_rate("sendjay_pushes_written_total"), "pushes written"),
    ),
    ts(
        "Delivery latency",
        "s",
        q(node_q(0.5, "sendjay_delivery_duration_seconds"), "p50"),
        q(node_q(0.99, "sendjay_delivery_duration_seconds"), "p99"),
    ),
    ts(
        "Errors by fault",
        "ops",
        q(node_rate("sendjay_errors_total", by="fault"), "{{fault}}"),
    ),
    ts(
        "Dropped by reason",
        "ops",
        q(node_rate("sendjay_dropped_total", by="reason"), "{{reason}}"),
    ),
    row("Bus and back-pressure"),
    ts(
        "Bus publish and receive latency p99",
        "s",
        q(node_q(0.99, "sendjay_bus_publish_duration_seconds"), "publish"),
        q(node_q(0.99, "sendjay_bus_receive_duration_seconds"), "receive (handling)"),
    ),
    ts(
        "Bus receive backlog",
        "short",
        q(f"sendjay_bus_receive_backlog{{{INST}}}", "backlog"),
    ),
    ts(
        "Outbound queues",
        "short",
        q(f"sendjay_outbound_queue_frames{{{INST}}}", "all connections"),
        q(f"sendjay_outbound_queue_longest_frames{{{INST}}}", "longest"),
    ),
    ts(
        "Redis reconnects",
        "ops",
        q(node_rate("sendjay_redis_reconnects_total"), "reconnects"),
    ),
    row("Files"),
    ts(
        "File throughput",
        "Bps",
        q(node_rate("sendjay_file_upload_bytes_total"), "uploaded"),
        q(node_rate("sendjay_file_download_bytes_total"), "downloaded"),
    ),
    ts(
        "Uploads by result and downloads by status",
        "ops",
        q(node_rate("sendjay_file_uploads_total", by="result"), "upload {{result}}"),
        q(node_rate("sendjay_file_downloads_total", by="status"), "download {{status}}"),
    ),
    ts(
        "File storage errors by operation",
        "ops",
        q(node_rate("sendjay_file_storage_errors_total", by="op"), "{{op}}"),
    ),
    ts(
        "Expired and unsent bytes swept",
        "Bps",
        q(node_rate("sendjay_file_swept_bytes_total", by="reason"), "{{reason}}"),
    ),
    row("Notifications"),
    ts(
        "Notification jobs and pushes",
        "ops",
        q(node_rate("sendjay_notify_jobs_total", by="kind"), "job {{kind}}"),
        q(node_rate("sendjay_notify_pushes_total", by="provider, result"), "{{provider}} {{result}}"),
    ),
    ts(
        "Notification stream lag and pending",
        "short",
        q(f"sendjay_notify_stream_lag{{{INST}}}", "not yet read"),
        q(f"sendjay_notify_pending{{{INST}}}", "read, not acknowledged"),
    ),
    ts(
        "Oldest pending notification job",
        "s",
        q(f"sendjay_notify_oldest_pending_seconds{{{INST}}}", "age"),
    ),
    ts(
        "Commit to push p99 and recipients skipped",
        "short",
        q(node_q(0.99, "sendjay_notify_push_duration_seconds"), "commit to push p99 (s)"),
        q(node_rate("sendjay_notify_skipped_total", by="reason"), "skipped {{reason}}"),
        q(node_rate("sendjay_notify_claimed_total"), "claimed from a dead worker"),
        q(node_rate("sendjay_notify_job_failures_total", by="fault"), "job failed ({{fault}})"),
        q(node_rate("sendjay_notify_append_failures_total"), "append failed"),
    ),
    row("Dependencies"),
    ts(
        "PostgreSQL query latency p99 by op",
        "s",
        q(node_q(0.99, "sendjay_db_query_duration_seconds", by="op"), "{{op}}"),
    ),
    ts(
        "PostgreSQL pool",
        "short",
        q(f"sendjay_db_pool_connections{{{INST}}}", "{{state}}"),
        q(f"sendjay_db_pool_waiting{{{INST}}}", "waiting"),
        q(f"sendjay_db_pool_max_connections{{{INST}}}", "max"),
    ),
    ts(
        "PostgreSQL pool wait p99",
        "s",
        q(node_q(0.99, "sendjay_db_pool_wait_duration_seconds"), "p99"),
    ),
    ts(
        "Redis command latency p99 by command",
        "s",
        q(node_q(0.99, "sendjay_redis_command_duration_seconds", by="command"), "{{command}}"),
    ),
    row("Process"),
    ts("CPU", "percentunit", q(f"rate(process_cpu_seconds_total{{{INST}}}[{RI}])", "cpu")),
    ts(
        "Memory",
        "bytes",
        q(f"process_resident_memory_bytes{{{INST}}}", "resident"),
        q(f"process_virtual_memory_bytes{{{INST}}}", "virtual"),
    ),
    ts(
        "File descriptors",
        "short",
        q(f"process_open_fds{{{INST}}}", "open"),
        q(f"process_max_fds{{{INST}}}", "limit"),
    ),
    ts("Threads", "short", q(f"process_threads{{{INST}}}", "threads")),
    table("Build", q(f"sendjay_build_info{{{INST}}}", "")),
]

DEPS = [
    row("PostgreSQL"),
    ts(
        "PostgreSQL connections in use",
        "short",
        q('sendjay_db_pool_connections{state="in_use"}', "{{job}} {{instance}}"),
    ),
    ts(
        "PostgreSQL idle connections",
        "short",
        q('sendjay_db_pool_connections{state="idle"}', "{{job}} {{instance}}"),
    ),
    ts(
        "PostgreSQL pool waiters",
        "short",
        q("sendjay_db_pool_waiting", "{{job}} {{instance}}"),
    ),
    ts(
        "PostgreSQL pool wait",
        "s",
        q(quantile(0.5, "sendjay_db_pool_wait_duration_seconds"), "p50"),
        q(quantile(0.99, "sendjay_db_pool_wait_duration_seconds"), "p99"),
    ),
    ts(
        "PostgreSQL query latency p99 by op",
        "s",
        q(quantile(0.99, "sendjay_db_query_duration_seconds", by="op"), "{{op}}"),
    ),
    ts(
        "PostgreSQL operations by op",
        "ops",
        q(rate("sendjay_db_query_duration_seconds_count", by="op"), "{{op}}"),
    ),
    ts(
        "PostgreSQL errors",
        "ops",
        q(rate("sendjay_errors_total", 'fault="postgres"', by="instance"), "{{instance}}"),
    ),
    ts(
        "Readiness",
        "short",
        q("sendjay_ready", "{{job}} {{instance}}"),
    ),
    row("Redis"),
    ts(
        "Redis connected",
        "short",
        q("sendjay_redis_connected", "{{job}} {{instance}}"),
    ),
    ts(
        "Redis reconnects",
        "ops",
        q(rate("sendjay_redis_reconnects_total", by="instance"), "{{instance}}"),
    ),
    ts(
        "Redis command latency p99 by command",
        "s",
        q(quantile(0.99, "sendjay_redis_command_duration_seconds", by="command"), "{{command}}"),
    ),
    ts(
        "Redis commands by command",
        "ops",
        q(rate("sendjay_redis_command_duration_seconds_count", by="command"), "{{command}}"),
    ),
    ts(
        "Redis errors",
        "ops",
        q(rate("sendjay_errors_total", 'fault="redis"', by="instance"), "{{instance}}"),
    ),
    row("Pub/sub"),
    ts(
        "Pub/sub publish latency",
        "s",
        q(quantile(0.5, "sendjay_bus_publish_duration_seconds"), "p50"),
        q(quantile(0.99, "sendjay_bus_publish_duration_seconds"), "p99"),
    ),
    ts(
        "Pub/sub receive backlog",
        "short",
        q("sendjay_bus_receive_backlog", "{{instance}}"),
    ),
    ts(
        "Pub/sub drops by reason",
        "ops",
        q(rate("sendjay_dropped_total", DROP_BUS, by="reason"), "{{reason}}"),
    ),
    ts(
        "Pub/sub traffic",
        "ops",
        q(rate("sendjay_bus_published_total"), "published"),
        q(rate("sendjay_bus_received_total", by="channel"), "received: {{channel}}"),
    ),
]


def datasource_var():
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {"selected": False, "text": "Prometheus", "value": "sendjay-prometheus"},
        "hide": 0,
        "refresh": 1,
        "options": [],
    }


def instance_var():
    query = 'label_values(sendjay_build_info{job="sendjay-node"}, instance)'
    return {
        "name": "instance",
        "label": "Node",
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": "instance"},
        "refresh": 2,
        "sort": 1,
        "multi": False,
        "includeAll": False,
        "hide": 0,
        "current": {},
        "options": [],
    }


def panel(pid, kind, title, unit, queries, x, y, w, h):
    targets = [
        {
            "datasource": DS,
            "expr": qq["expr"],
            "legendFormat": qq["legend"] or "__auto",
            "refId": chr(ord("A") + i),
            **({"format": "table", "instant": True} if kind == "table" else {"range": True}),
        }
        for i, qq in enumerate(queries)
    ]
    base = {
        "id": pid,
        "title": title,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit} if unit else {}, "overrides": []},
    }
    if kind == "stat":
        base.update(
            type="stat",
            options={
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "value",
                "graphMode": "area",
                "textMode": "auto",
            },
        )
    elif kind == "table":
        base.update(
            type="table",
            options={"showHeader": True},
            transformations=[
                {"id": "organize", "options": {"excludeByName": {"Time": True, "Value": True}}}
            ],
        )
    else:
        base.update(
            type="timeseries",
            options={
                "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]},
                "tooltip": {"mode": "multi", "sort": "desc"},
            },
        )
        base["fieldConfig"]["defaults"]["custom"] = {"lineWidth": 1, "fillOpacity": 10, "spanNulls": True}
    return base


def dashboard(uid, title, description, panels, variables, links):
    out = []
    x = y = 0
    row_h = 0
    for pid, (kind, ptitle, unit, queries, w) in enumerate(panels, start=1):
        if kind == "row":
            if x:
                y += row_h
            x, row_h = 0, 0
            out.append(
                {
                    "id": pid,
                    "type": "row",
                    "title": ptitle,
                    "collapsed": False,
                    "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
                    "panels": [],
                }
            )
            y += 1
            continue
        h = 4 if kind == "stat" else 8
        if x + w > 24:
            x, y = 0, y + row_h
            row_h = 0
        out.append(panel(pid, kind, ptitle, unit, queries, x, y, w, h))
        x += w
        row_h = max(row_h, h)
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["sendjay"],
        "timezone": "",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": [datasource_var(), *variables]},
        "annotations": {"list": []},
        "links": [
            {"title": t, "type": "link", "url": f"/d/{u}", "targetBlank": False, "icon": "dashboard"}
            for t, u in links
        ],
        "panels": out,
    }


DASHBOARDS = {
    "sendjay-overview.json": dashboard(
        "sendjay-overview",
        "sendjay / Cluster overview",
        "The whole cluster at a glance: connections, messages in and out, delivery latency, errors, saturation "
        "and the router. Runbooks: docs/operations.md.",
        OVERVIEW,
        [],
        [("Node drill-down", "sendjay-node"), ("Dependencies", "sendjay-dependencies")],
    ),
    "sendjay-node.json": dashboard(
        "sendjay-node",
        "sendjay / Node drill-down",
        "One node in detail: sessions, requests, messages, bus, back-pressure, PostgreSQL and Redis as this node "
        "sees them, and the process. Pick the node with the variable at the top.",
        NODE,
        [instance_var()],
        [("Cluster overview", "sendjay-overview"), ("Dependencies", "sendjay-dependencies")],
    ),
    "sendjay-dependencies.json": dashboard(
        "sendjay-dependencies",
        "sendjay / Dependencies",
        "Health of PostgreSQL, Redis and the pub/sub bus as every node and router sees them.",
        DEPS,
        [],
        [("Cluster overview", "sendjay-overview"), ("Node drill-down", "sendjay-node")],
    ),
}

if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name, board in DASHBOARDS.items():
        (OUT / name).write_text(json.dumps(board, indent=2) + "\n")
        print(f"wrote {OUT / name}")
