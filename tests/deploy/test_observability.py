"""The observability chart (charts/observability) and the community stack it goes with.

`helm lint` and `helm template` of the chart, every PromQL expression of its dashboards
and alerts parsed by promtool and checked against the metrics the services really expose
(a live scrape of `/metrics`), a promtool unit test per alert (tests/deploy/alerts/), the
collector pipeline validated by the collector's own `validate` command, and the values
files of the community charts that scripts/minikube-up.sh installs.
"""

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.support import (
    BASH,
    KUBE_VERSIONS,
    NAMESPACE,
    OBS_CHART,
    OBS_VALUES_FILES,
    REPO,
    Tools,
    of_kind,
    render_chart,
    render_observability,
    run_command,
)

ALERT_TESTS = Path(__file__).resolve().parent / "alerts"
DASHBOARDS = OBS_CHART / "dashboards"
UPSTREAM_VALUES = OBS_CHART / "values"
RUNBOOK = REPO / "docs" / "runbook.md"
MINIKUBE_UP = REPO / "scripts" / "minikube-up.sh"
OTELCOL_MODULE = REPO / "scripts" / "otelcol"

# The community charts, the release name minikube-up.sh gives each, and its chart.
UPSTREAM_CHARTS = {
    "kube-prometheus-stack": "prometheus-community/kube-prometheus-stack",
    "loki": "grafana/loki",
    "alloy": "grafana/alloy",
    "tempo": "grafana/tempo",
    "opentelemetry-collector": "open-telemetry/opentelemetry-collector",
}

# Metric families the dashboards and alerts read that the todo-app services do not
# expose, and the part of the community stack that exports each.
KUBE_STATE_METRICS = "kube-state-metrics (kube-prometheus-stack)"
CADVISOR = "cAdvisor in the kubelet (kube-prometheus-stack scrapes it)"
KAFKA_EXPORTER = "Kafka Exporter (Strimzi kafkaExporter, k8s/kafka/kafka-cluster.yaml)"
DAPR = "the Dapr sidecar's metrics port (dapr-metrics)"
THIRD_PARTY_METRICS = {
    "up": "Prometheus itself (one series per scrape target)",
    "kube_pod_container_status_restarts_total": KUBE_STATE_METRICS,
    "kube_pod_status_ready": KUBE_STATE_METRICS,
    "kube_pod_container_resource_limits": KUBE_STATE_METRICS,
    "container_cpu_usage_seconds_total": CADVISOR,
    "container_memory_working_set_bytes": CADVISOR,
    "kafka_consumergroup_lag": KAFKA_EXPORTER,
    "kafka_consumergroup_members": KAFKA_EXPORTER,
    "kafka_topic_partition_current_offset": KAFKA_EXPORTER,
    "kafka_topic_partitions": KAFKA_EXPORTER,
    "kafka_topic_partition_under_replicated_partition": KAFKA_EXPORTER,
    "dapr_component_pubsub_ingress_count": DAPR,
    "dapr_component_pubsub_egress_count": DAPR,
    "dapr_http_client_completed_count": DAPR,
}
# What each family prefix says about its exporter (keeps the list above honest).
PREFIX_EXPORTER = {
    "kube_": KUBE_STATE_METRICS,
    "container_": CADVISOR,
    "kafka_": KAFKA_EXPORTER,
    "dapr_": DAPR,
}

DASHBOARD_TITLES = {
    "api-performance": "todo-app / API performance",
    "kafka": "todo-app / Kafka",
    "outbox-dlq": "todo-app / Outbox and dead letters",
    "service-health": "todo-app / Service health",
    "business": "todo-app / Business",
}


# --- PromQL -------------------------------------------------------------------------------

_PROMQL_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "atan2",
    "inf",
    "nan",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (promtool has parsed it already).

    Strings, label matchers, ranges and grouping clauses are cut out; what is left that
    looks like an identifier and is not followed by `(` (a function or an aggregation)
    nor a keyword is a metric name."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"'(?:[^'\\]|\\.)*'", "''", text)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word, before = match.group(0), text[: match.start()]
        if before and (before[-1].isdigit() or before[-1] == "."):
            continue  # the tail of a number (1e3) or a duration
        if text[match.end() :].lstrip().startswith("(") or word.lower() in _PROMQL_KEYWORDS:
            continue
        names.add(word)
    return names


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, route) (rate(todo_http_request_duration_seconds"
        '_bucket{namespace="todo", status=~"5.."}[5m]))) / on (route) group_left '
        "sum without (pod) (up) > bool 1e3 and kafka_consumergroup_lag offset 5m"
    )
    assert metric_names(expr) == {
        "todo_http_request_duration_seconds_bucket",
        "up",
        "kafka_consumergroup_lag",
    }


GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "${namespace}": NAMESPACE,
    "$namespace": NAMESPACE,
}


def as_promql(expr: str) -> str:
    """A dashboard query with Grafana's variables replaced by values Prometheus accepts."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable this test does not know: {expr}"
    return expr


def walk_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels", []))


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel title, PromQL) of every Prometheus target of every dashboard."""
    found = []
    for path in dashboard_files():
        dashboard = json.loads(path.read_text())
        for panel in walk_panels(dashboard["panels"]):
            default = panel.get("datasource") or {}
            for target in panel.get("targets", []):
                source = target.get("datasource") or default
                if source.get("type") == "prometheus":
                    found.append((path.stem, panel["title"], as_promql(target["expr"])))
    return found


@pytest.fixture(scope="module")
def rules(helm: str) -> list[dict[str, Any]]:
    """The alert groups of the PrometheusRule, with the default values."""
    (rule,) = of_kind(render_observability(helm, "values.yaml"), "PrometheusRule")
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def alerts_of(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def promtool_check(tools: Tools, groups: list[dict[str, Any]], path: Path) -> None:
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    done = tools.run("promtool", "check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_alert_rules_pass_promtool(
    tools: Tools, rules: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The expressions parse, and the annotation templates too."""
    promtool_check(tools, rules, tmp_path / "rules.yaml")
    assert len(alerts_of(rules)) >= 14


def test_every_dashboard_query_parses(tools: Tools, tmp_path: Path) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 40
    recording = [
        {"record": f"dashboard:{name.replace('-', '_')}:{n}", "expr": expr}
        for n, (name, _, expr) in enumerate(queries)
    ]
    promtool_check(tools, [{"name": "dashboards", "rules": recording}], tmp_path / "queries.yaml")


# --- the metrics the services expose ---------------------------------------------------------

_SUFFIXES = {
    "counter": ("",),
    "gauge": ("",),
    "untyped": ("",),
    "info": ("",),
    "stateset": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("", "_sum", "_count"),
}


def exposed_names(exposition: str) -> set[str]:
    """The series names a Prometheus text exposition offers, from its `# TYPE` lines
    (a counter's TYPE line already names it with `_total`)."""
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names |= {name + suffix for suffix in _SUFFIXES[kind]}
    return names


def test_exposed_names_follow_the_type_lines() -> None:
    text = (
        "# TYPE todo_tasks_created_total counter\ntodo_tasks_created_total 1.0\n"
        "# TYPE todo_reminder_delay_seconds histogram\n"
        "# TYPE todo_outbox_pending gauge\n"
    )
    assert exposed_names(text) == {
        "todo_tasks_created_total",
        "todo_reminder_delay_seconds_bucket",
        "todo_reminder_delay_seconds_sum",
        "todo_reminder_delay_seconds_count",
        "todo_outbox_pending",
    }


@pytest.fixture(scope="module")
async def scraped(
    tmp_path_factory: pytest.TempPathFactory, key_file: Path, sqlite_template: Path
) -> set[str]:
    """What `GET /metrics` of the whole system (`--service all`) offers: the app on a
    loopback port, lifespan included, on a migrated SQLite database."""
    from services.bootstrap import bootstrap
    from tests.conftest import serve_app

    folder = tmp_path_factory.mktemp("scrape")
    database = folder / "todo.db"
    shutil.copy(sqlite_template, database)
    container = bootstrap(
        service_name="all",
        event_bus="memory",
        database_url=f"sqlite+aiosqlite:///{database}",
        jwt_private_key_file=key_file,
        data_dir=folder,
        redis_url=None,
        local_user=False,
    )
    try:
        async for server in serve_app(container):
            async with httpx.AsyncClient(base_url=server.url) as client:
                response = await client.get("/metrics")
    finally:
        await container.aclose()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return exposed_names(response.text)


# The metrics the services promise (the names the dashboards and alerts are written for).
PROMISED = {
    "todo_http_requests_total",
    "todo_http_request_duration_seconds_bucket",
    "todo_outbox_pending",
    "todo_outbox_oldest_age_seconds",
    "todo_outbox_published_total",
    "todo_outbox_breaker_open",
    "todo_events_consumed_total",
    "todo_events_failed_total",
    "todo_events_dead_lettered_total",
    "todo_event_handling_seconds_bucket",
    "todo_consumer_group_joining_seconds",
    "todo_reminders_fired_total",
    "todo_reminder_delay_seconds_bucket",
    "todo_notifications_total",
    "todo_chat_turns_total",
    "todo_chat_tool_calls_total",
    "todo_chat_model_tokens_total",
    "todo_tasks_created_total",
    "todo_tasks_completed_total",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "process_open_fds",
}


def test_the_services_expose_the_promised_metrics(scraped: set[str]) -> None:
    assert sorted(PROMISED - scraped) == []


def test_every_metric_the_dashboards_and_alerts_read_exists(
    scraped: set[str], rules: list[dict[str, Any]]
) -> None:
    read: dict[str, set[str]] = {}
    for dashboard, title, expr in dashboard_queries():
        for name in metric_names(expr):
            read.setdefault(name, set()).add(f"dashboard {dashboard}: {title}")
    for name_, alert in alerts_of(rules).items():
        for name in metric_names(alert["expr"]):
            read.setdefault(name, set()).add(f"alert {name_}")
    missing = [
        f"{name} (read by {', '.join(sorted(where))})"
        for name, where in sorted(read.items())
        if (name.startswith(("todo_", "process_")) and name not in scraped)
        or (not name.startswith(("todo_", "process_")) and name not in THIRD_PARTY_METRICS)
    ]
    assert not missing, "metrics nobody exposes:\n" + "\n".join(missing)
    unused = set(THIRD_PARTY_METRICS) - set(read)
    assert not unused, f"allow-listed but read by nothing: {sorted(unused)}"


def rendered_exporters(helm: str) -> set[str]:
    """The exporters whose metrics the rendered charts and manifests make
    Prometheus scrape."""
    observability = render_observability(helm, "values.yaml")
    monitors = [*of_kind(observability, "ServiceMonitor"), *of_kind(observability, "PodMonitor")]
    found = {THIRD_PARTY_METRICS["up"]} if monitors else set()
    # kube-state-metrics and the kubelet's cAdvisor come with kube-prometheus-stack,
    # whose Prometheus picks up only the monitors labelled for its release.
    if monitors and all(
        m["metadata"]["labels"].get("release") == "kube-prometheus-stack" for m in monitors
    ):
        found |= {KUBE_STATE_METRICS, CADVISOR}
    cluster = yaml.safe_load((REPO / "k8s" / "kafka" / "kafka-cluster.yaml").read_text())
    exporter_pods = f"{cluster['metadata']['name']}-kafka-exporter"
    if "kafkaExporter" in cluster["spec"] and any(
        m["spec"]["selector"]["matchLabels"].get("strimzi.io/name") == exporter_pods
        for m in of_kind(observability, "PodMonitor")
    ):
        found.add(KAFKA_EXPORTER)
    app_ports = {
        p["name"]
        for s in of_kind(render_chart(helm, "values.yaml", KUBE_VERSIONS[-1]), "Service")
        for p in s["spec"].get("ports", [])
    }
    if "dapr-metrics" in app_ports and any(
        e["port"] == "dapr-metrics"
        for m in of_kind(observability, "ServiceMonitor")
        for e in m["spec"]["endpoints"]
    ):
        found.add(DAPR)
    return found


def test_third_party_metrics_come_from_an_exporter_that_is_scraped(helm: str) -> None:
    scraped_exporters = rendered_exporters(helm)
    for name, exporter in THIRD_PARTY_METRICS.items():
        prefix = next((p for p in PREFIX_EXPORTER if name.startswith(p)), None)
        if prefix is not None:
            assert exporter == PREFIX_EXPORTER[prefix], name
        assert exporter in scraped_exporters, f"{name}: nothing scrapes {exporter}"


# --- alerts -------------------------------------------------------------------------------


def runbook_anchors() -> set[str]:
    headings = re.findall(r"^## (.+)$", RUNBOOK.read_text(), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_every_alert_links_to_its_runbook_section(rules: list[dict[str, Any]]) -> None:
    anchors = runbook_anchors()
    for name, alert in alerts_of(rules).items():
        assert alert["labels"]["severity"] in {"warning", "critical"}, name
        assert alert["annotations"]["summary"], name
        assert alert["annotations"]["description"], name
        url = alert["annotations"]["runbook_url"]
        assert url.split("#")[0].endswith("docs/runbook.md"), name
        assert url.split("#", 1)[1] in anchors, f"{name} links to a missing section {url}"
        # The runbook section names the alert it is for.
        assert f"`{name}`" in RUNBOOK.read_text(), f"docs/runbook.md does not mention {name}"


def test_alerts_cover_errors_latency_lag_dead_letters_and_reminders(
    rules: list[dict[str, Any]],
) -> None:
    alerts = alerts_of(rules)
    assert "todo_outbox_oldest_age_seconds" in alerts["TodoOutboxLag"]["expr"]
    assert "kafka_consumergroup_lag" in alerts["TodoConsumerLag"]["expr"]
    assert 'topic="dlq-events"' in alerts["TodoDeadLetterGrowing"]["expr"]
    assert "todo_events_dead_lettered_total" in alerts["TodoEventsDeadLettered"]["expr"]
    assert "5.." in alerts["TodoHighErrorRate"]["expr"]
    assert "todo_http_request_duration_seconds_bucket" in alerts["TodoSlowResponses"]["expr"]
    assert "todo_reminder_delay_seconds_bucket" in alerts["TodoRemindersLate"]["expr"]


ALERT_TEST_FILES = sorted(ALERT_TESTS.glob("*.yaml"))


def test_every_alert_has_a_unit_test_that_trips_it_and_one_that_does_not(
    rules: list[dict[str, Any]],
) -> None:
    assert {p.stem for p in ALERT_TEST_FILES} == set(alerts_of(rules))
    for path in ALERT_TEST_FILES:
        spec = yaml.safe_load(path.read_text())
        assert spec["rule_files"] == ["rules.yaml"]
        cases = [case for test in spec["tests"] for case in test["alert_rule_test"]]
        assert {case["alertname"] for case in cases} == {path.stem}
        assert any(case["exp_alerts"] for case in cases), f"{path.name}: never fires"
        assert any(case["exp_alerts"] == [] for case in cases), f"{path.name}: never silent"


@pytest.mark.parametrize("test_file", ALERT_TEST_FILES, ids=lambda p: p.stem)
def test_alert_unit_test(
    tools: Tools, rules: list[dict[str, Any]], test_file: Path, tmp_path: Path
) -> None:
    # Annotations are left out: their templates are checked by `promtool check rules`
    # and their links above; the unit tests are about when an alert fires.
    bare = [
        {
            **group,
            "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in group["rules"]],
        }
        for group in rules
    ]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": bare}, sort_keys=False))
    shutil.copy(test_file, tmp_path / test_file.name)
    done = tools.run("promtool", "test", "rules", str(tmp_path / test_file.name))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


# --- the chart ----------------------------------------------------------------------------


@pytest.mark.parametrize("values_file", OBS_VALUES_FILES)
def test_helm_lint_strict(tools: Tools, values_file: str) -> None:
    done = tools.run(
        "helm",
        "lint",
        "--strict",
        "--kube-version",
        KUBE_VERSIONS[-1],
        str(OBS_CHART),
        "-f",
        str(OBS_CHART / values_file),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("values_file", OBS_VALUES_FILES)
def test_helm_template(helm: str, values_file: str, kube_version: str) -> None:
    docs = render_observability(helm, values_file, kube_version)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["ConfigMap"] * 6 + ["PodMonitor", "PrometheusRule", "ServiceMonitor"]
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(names) == len(set(names))


def test_the_chart_brings_no_community_chart_code() -> None:
    chart = yaml.safe_load((OBS_CHART / "Chart.yaml").read_text())
    assert "dependencies" not in chart
    assert not (OBS_CHART / "charts").exists()
    assert {p.name for p in (OBS_CHART / "templates").iterdir()} <= {
        "_helpers.tpl",
        "NOTES.txt",
        "collector-config.yaml",
        "servicemonitor.yaml",
        "prometheusrule.yaml",
        "dashboards.yaml",
    }
    for name in UPSTREAM_CHARTS:
        assert chart["annotations"][f"todo-app/{name}-version"]


def test_dashboards_are_configmaps_for_grafanas_sidecar(helm: str) -> None:
    docs = render_observability(helm, "values.yaml")
    maps = [c for c in of_kind(docs, "ConfigMap") if "grafana_dashboard" in c["metadata"]["labels"]]
    assert len(maps) == len(dashboard_files()) == len(DASHBOARD_TITLES)
    titles, uids = {}, set()
    for config_map in maps:
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert config_map["metadata"]["annotations"]["grafana_folder"] == "todo-app"
        ((key, text),) = config_map["data"].items()
        # The ConfigMap carries the file of the repository as it is: one copy.
        assert text.strip() == (DASHBOARDS / key).read_text().strip()
        dashboard = json.loads(text)
        titles[Path(key).stem] = dashboard["title"]
        uids.add(dashboard["uid"])
        variables = {v["name"] for v in dashboard["templating"]["list"]}
        assert {"datasource", "namespace"} <= variables
        for panel in walk_panels(dashboard["panels"]):
            assert panel["targets"], panel["title"]
            assert panel["gridPos"], panel["title"]
    assert titles == DASHBOARD_TITLES
    assert len(uids) == len(maps)


def dashboard_text(name: str) -> str:
    return " ".join(expr for dash, _, expr in dashboard_queries() if dash == name)


def test_dashboards_show_what_operators_and_the_product_need() -> None:
    api = dashboard_text("api-performance")
    assert "histogram_quantile(0.99" in api
    assert "histogram_quantile(0.5" in api
    assert 'status=~"5.."' in api
    assert "todo_http_requests_total" in api
    kafka = dashboard_text("kafka")
    for name in ("kafka_consumergroup_lag", "kafka_topic_partitions", "todo_events_consumed_total"):
        assert name in kafka
    assert "rate(kafka_topic_partition_current_offset" in kafka
    outbox = dashboard_text("outbox-dlq")
    for name in (
        "todo_outbox_pending",
        "todo_outbox_oldest_age_seconds",
        "todo_outbox_breaker_open",
        "todo_events_dead_lettered_total",
        'topic="dlq-events"',
    ):
        assert name in outbox
    health = dashboard_text("service-health")
    for name in (
        "up{",
        "kube_pod_container_status_restarts_total",
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
    ):
        assert name in health
    business = dashboard_text("business")
    for name in (
        "todo_tasks_created_total",
        "todo_tasks_completed_total",
        "todo_reminders_fired_total",
        "todo_reminder_delay_seconds_bucket",
        "todo_chat_turns_total",
        "todo_chat_model_tokens_total",
        "todo_notifications_total",
    ):
        assert name in business
    # Logs next to the metrics: the service-health dashboard has a Loki panel.
    dashboard = json.loads((DASHBOARDS / "service-health.json").read_text())
    assert any(p["datasource"]["type"] == "loki" for p in walk_panels(dashboard["panels"]))


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def test_service_monitor_scrapes_every_todo_app_service(helm: str) -> None:
    app = render_chart(helm, "values.yaml", KUBE_VERSIONS[-1])
    (monitor,) = of_kind(render_observability(helm, "values.yaml"), "ServiceMonitor")
    spec = monitor["spec"]
    assert spec["namespaceSelector"]["matchNames"] == [NAMESPACE]
    scraped = [
        s for s in of_kind(app, "Service") if selects(spec["selector"], s["metadata"]["labels"])
    ]
    components = {s["metadata"]["labels"]["app.kubernetes.io/component"] for s in scraped}
    assert components == {"task-api", "recurring-task", "notification", "audit"}
    for service in scraped:
        ports = {p["name"] for p in service["spec"]["ports"]}
        assert {e["port"] for e in spec["endpoints"]} <= ports
    (app_endpoint,) = [e for e in spec["endpoints"] if e["port"] == "http"]
    assert app_endpoint["path"] == "/metrics"
    # The app's own `service` label (todo_events_*) must not become exported_service.
    assert {"action": "labeldrop", "regex": "service"} in app_endpoint["relabelings"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_pod_monitor_scrapes_strimzis_kafka_exporter(helm: str) -> None:
    (monitor,) = of_kind(render_observability(helm, "values.yaml"), "PodMonitor")
    cluster = yaml.safe_load((REPO / "k8s" / "kafka" / "kafka-cluster.yaml").read_text())
    assert "kafkaExporter" in cluster["spec"]
    name = cluster["metadata"]["name"]
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [cluster["metadata"]["namespace"]]
    assert monitor["spec"]["selector"]["matchLabels"] == {
        "strimzi.io/kind": "Kafka",
        "strimzi.io/name": f"{name}-kafka-exporter",
    }
    assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == ["tcp-prometheus"]


# --- the collector ------------------------------------------------------------------------


def pipeline(helm: str, values_file: str) -> tuple[str, dict[str, Any]]:
    (config_map,) = [
        c
        for c in of_kind(render_observability(helm, values_file), "ConfigMap")
        if c["metadata"]["name"] == "otel-collector-pipeline"
    ]
    text: str = config_map["data"]["relay"]
    return text, yaml.safe_load(text)


def validate(tools: Tools, config: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "relay.yaml"
    path.write_text(config)
    env = {**os.environ, "MY_POD_IP": "127.0.0.1"}
    return run_command(
        [tools.path("otelcol-todo"), "validate", f"--config={path}"], timeout=120, env=env
    )


@pytest.mark.parametrize("values_file", OBS_VALUES_FILES)
def test_collector_validates_the_pipeline(tools: Tools, values_file: str, tmp_path: Path) -> None:
    text, _ = pipeline(tools.path("helm"), values_file)
    done = validate(tools, text, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_collector_validate_rejects_what_the_core_collector_lacks(
    tools: Tools, tmp_path: Path
) -> None:
    _text, config = pipeline(tools.path("helm"), "values.yaml")
    # Loki's own exporter is a contrib component: the core collector must refuse it.
    config["exporters"]["loki"] = {"endpoint": "http://loki:3100/loki/api/v1/push"}
    config["service"]["pipelines"]["logs"]["exporters"] = ["loki"]
    done = validate(tools, yaml.safe_dump(config), tmp_path)
    assert done.returncode != 0
    assert "loki" in done.stdout + done.stderr
    version = run_command([tools.path("otelcol-todo"), "--version"], timeout=60)
    assert otelcol_release().lstrip("v") in version.stdout


def otelcol_release() -> str:
    gomod = (OTELCOL_MODULE / "go.mod").read_text()
    match = re.search(r"^\s*go\.opentelemetry\.io/collector/otelcol (v\S+)$", gomod, flags=re.M)
    assert match, "scripts/otelcol/go.mod requires no go.opentelemetry.io/collector/otelcol"
    return match.group(1)


def test_collector_modules_are_one_release() -> None:
    gomod = (OTELCOL_MODULE / "go.mod").read_text()
    versions = set(re.findall(r"^\s*go\.opentelemetry\.io/collector/\S+ (v\S+)", gomod, flags=re.M))
    # The collector's release pairs a v0.N module line with a v1.M one (stable modules).
    assert len(versions) == 2, versions
    assert otelcol_release() in versions
    assert not re.search(r"opentelemetry-collector-contrib", gomod), "core components only"


def upstream_values(name: str, environment: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (UPSTREAM_VALUES / f"{name}.{environment}.yaml").read_text()
    )
    return loaded


@pytest.mark.parametrize("values_file", OBS_VALUES_FILES)
def test_collector_sends_each_signal_to_its_backend(helm: str, values_file: str) -> None:
    environment = "minikube" if values_file == "values.yaml" else "production"
    _, config = pipeline(helm, values_file)
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"traces", "metrics", "logs"}
    endpoints = {}
    for signal, spec in pipelines.items():
        assert spec["receivers"] == ["otlp"]
        assert spec["processors"][0] == "memory_limiter", "the limiter goes first"
        (exporter,) = [e for e in spec["exporters"] if e != "debug"]
        endpoints[signal] = config["exporters"][exporter]["endpoint"]
    assert config["receivers"]["otlp"]["protocols"].keys() == {"grpc", "http"}
    # Traces: Tempo's OTLP gRPC receiver.
    tempo = upstream_values("tempo", environment)
    assert endpoints["traces"] == "tempo.monitoring.svc:4317"
    assert tempo["tempo"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].endswith(":4317")
    # Metrics: Prometheus's OTLP receiver, turned on in kube-prometheus-stack's values.
    assert endpoints["metrics"] == (
        "http://kube-prometheus-stack-prometheus.monitoring.svc:9090/api/v1/otlp"
    )
    stack = upstream_values("kube-prometheus-stack", environment)
    assert stack["prometheus"]["prometheusSpec"]["enableOTLPReceiver"] is True
    # Logs: Loki's OTLP endpoint, the same Loki Alloy ships pod logs to.
    assert endpoints["logs"].endswith("/otlp")
    loki_base = endpoints["logs"].removesuffix("/otlp")
    alloy = upstream_values("alloy", environment)["alloy"]["configMap"]["content"]
    assert f'url = "{loki_base}/loki/api/v1/push"' in alloy


@pytest.mark.parametrize("environment", ["minikube", "production"])
def test_collector_chart_mounts_our_pipeline_in_the_core_image(helm: str, environment: str) -> None:
    values = upstream_values("opentelemetry-collector", environment)
    ours = yaml.safe_load((OBS_CHART / "values.yaml").read_text())["collector"]
    assert values["configMap"] == {"create": False, "existingName": ours["configMapName"]}
    assert values["image"] == {
        "repository": "otel/opentelemetry-collector",
        "tag": otelcol_release().lstrip("v"),
    }
    assert values["command"]["name"] == "otelcol"
    for probe in ("livenessProbe", "readinessProbe"):
        assert values[probe]["httpGet"]["port"] == ours["telemetryPort"]
    # The Service the todo-app chart points the services and their sidecars at.
    assert values["fullnameOverride"] == "otel-collector"
    production = render_chart(helm, "values-production.yaml", KUBE_VERSIONS[-1])
    (configuration,) = of_kind(production, "Configuration")
    assert configuration["spec"]["tracing"]["otel"]["endpointAddress"] == (
        "otel-collector.monitoring.svc:4317"
    )
    assert values["ports"]["otlp"]["enabled"]
    assert values["ports"]["otlp-http"]["enabled"]


# --- the community charts' values ------------------------------------------------------------


def test_every_community_chart_has_minikube_and_production_values() -> None:
    files = {p.name for p in UPSTREAM_VALUES.glob("*.yaml")}
    assert files == {f"{n}.{e}.yaml" for n in UPSTREAM_CHARTS for e in ("minikube", "production")}


def test_minikube_values_are_small_and_production_values_persist() -> None:
    stack_m = upstream_values("kube-prometheus-stack", "minikube")["prometheus"]["prometheusSpec"]
    stack_p = upstream_values("kube-prometheus-stack", "production")["prometheus"]["prometheusSpec"]
    assert stack_m["replicas"] == 1
    assert "storageSpec" not in stack_m
    assert stack_p["replicas"] >= 2
    assert stack_p["storageSpec"]["volumeClaimTemplate"]
    assert stack_m["retention"]
    assert stack_p["retention"]
    assert stack_p["resources"]["limits"]

    loki_m, loki_p = upstream_values("loki", "minikube"), upstream_values("loki", "production")
    assert loki_m["deploymentMode"] == "SingleBinary"
    assert loki_m["singleBinary"]["replicas"] == 1
    assert loki_m["singleBinary"]["persistence"]["enabled"] is False
    assert loki_p["loki"]["limits_config"]["retention_period"]
    assert loki_p["write"]["persistence"]["size"]
    assert loki_p["write"]["resources"]["limits"]

    tempo_m, tempo_p = upstream_values("tempo", "minikube"), upstream_values("tempo", "production")
    assert tempo_m["persistence"]["enabled"] is False
    assert tempo_p["persistence"]["enabled"] is True
    assert tempo_p["tempo"]["retention"]

    otel_m = upstream_values("opentelemetry-collector", "minikube")
    otel_p = upstream_values("opentelemetry-collector", "production")
    assert otel_m["replicaCount"] == 1
    assert otel_p["replicaCount"] >= 2
    assert otel_p["resources"]["limits"]

    assert upstream_values("alloy", "minikube")["controller"]["replicas"] == 1


@pytest.mark.parametrize("environment", ["minikube", "production"])
def test_grafana_loads_our_dashboards_and_links_logs_to_traces(environment: str) -> None:
    grafana = upstream_values("kube-prometheus-stack", environment)["grafana"]
    ours = yaml.safe_load((OBS_CHART / "values.yaml").read_text())["dashboards"]
    sidecar = grafana["sidecar"]["dashboards"]
    assert sidecar["enabled"] is True
    assert sidecar["searchNamespace"] == "ALL"
    assert {sidecar["label"]: sidecar["labelValue"]} == ours["labels"]
    assert sidecar["folderAnnotation"] == "grafana_folder"
    sources = {s["uid"]: s for s in grafana["additionalDataSources"]}
    assert sources["loki"]["type"] == "loki"
    assert sources["tempo"]["type"] == "tempo"
    (derived,) = sources["loki"]["jsonData"]["derivedFields"]
    assert derived["datasourceUid"] == "tempo"
    assert re.search(derived["matcherRegex"], '{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}')


def test_minikube_up_installs_the_community_charts_by_name() -> None:
    script = MINIKUBE_UP.read_text()
    assert "--with-observability" in script
    for name, chart in UPSTREAM_CHARTS.items():
        assert chart in script, chart
        assert f"{name}.minikube.yaml" in script
        assert f"obs_chart_version {name}" in script
    assert 'upgrade --install todo-app-observability "$OBS_CHART"' in script
    assert "observability.otlpEndpoint=http://otel-collector" in script
    usage = run_command([BASH, str(MINIKUBE_UP), "--help"], timeout=60)
    assert usage.returncode == 0
    assert "--with-observability" in usage.stdout
