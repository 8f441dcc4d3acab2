"""What the rendered chart must say: Dapr app ids and ports, subscriptions that route every
topic to the services that consume it, no root, resources and probes, network policies."""

import re
from pathlib import Path
from typing import Any

import pytest

from events.dapr import DaprBus
from events.topics import Topic
from services.bootstrap import bootstrap
from services.composition import process_of
from tests.deploy.support import (
    APP_IDS,
    K8S,
    KUBE_VERSIONS,
    RELEASE,
    VALUES_FILES,
    ToolError,
    load_documents,
    of_kind,
    pod_specs,
    render_chart,
)

# Who consumes each topic (docs/reference.md, Events; operators read dlq-events too, through
# the audit trail),
# plus notification on task-events for `user.deleted` (account deletion).
CONTRACT_CONSUMERS = {
    Topic.TASK_EVENTS: {"recurring-task", "audit", "task-api", "notification"},
    Topic.REMINDER_EVENTS: {"notification", "audit"},
    Topic.NOTIFICATION_EVENTS: {"audit", "task-api"},
    Topic.CHAT_EVENTS: {"audit"},
    Topic.AUDIT_EVENTS: set(),
    Topic.DLQ_EVENTS: {"audit"},
}

# (pubsubname, topic, route, deadLetterTopic, rawPayload) -> the app ids that subscribe so.
Routing = dict[tuple[str, str, str, str | None, str | None], set[str]]


def name_of(service: str) -> str:
    return f"{RELEASE}-{service}"


@pytest.fixture(scope="module")
def docs(helm: str) -> tuple[dict[str, Any], ...]:
    return render_chart(helm, "values.yaml", KUBE_VERSIONS[-1])


@pytest.fixture(scope="module", params=VALUES_FILES)
def any_docs(helm: str, request: pytest.FixtureRequest) -> tuple[dict[str, Any], ...]:
    return render_chart(helm, request.param, KUBE_VERSIONS[-1])


@pytest.fixture(scope="module")
def production(helm: str) -> tuple[dict[str, Any], ...]:
    return render_chart(helm, "values-production.yaml", KUBE_VERSIONS[-1])


def deployment(docs: tuple[dict[str, Any], ...], service: str) -> dict[str, Any]:
    found = [d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == name_of(service)]
    assert len(found) == 1, f"no Deployment {name_of(service)}"
    return found[0]


# --- the services -----------------------------------------------------------------------


@pytest.mark.parametrize("service", APP_IDS)
def test_each_service_runs_its_own_process_with_its_dapr_app_id(
    any_docs: tuple[dict[str, Any], ...], service: str
) -> None:
    pod = deployment(any_docs, service)["spec"]["template"]
    annotations = pod["metadata"]["annotations"]
    (container,) = pod["spec"]["containers"]
    port = next(p["containerPort"] for p in container["ports"] if p["name"] == "http")
    command = [*container.get("command", []), *container["args"]]

    assert annotations["dapr.io/enabled"] == "true"
    assert annotations["dapr.io/app-id"] == APP_IDS[service]
    assert annotations["dapr.io/app-port"] == str(port)
    assert command[:4] == ["todo", "serve", "--service", service]
    assert command[command.index("--port") + 1] == str(port)
    env = {e["name"]: e for e in container["env"]}
    assert env["EVENT_BUS"]["value"] == "dapr"
    assert env["DAPR_PUBSUB_NAME"]["value"] == "pubsub-kafka"
    # The URL itself (bundled database), or the file of the Secret that holds it.
    assert ("DATABASE_URL" in env) != ("DATABASE_URL_FILE" in env)
    # The JWT key (and the other secrets) from the Dapr secret store, not a file.
    assert env["DAPR_SECRET_STORE"]["value"] == "secrets-kubernetes"
    assert env["DAPR_SECRET_NAME"]["value"].endswith("secrets")
    assert "JWT_PRIVATE_KEY_FILE" not in env


def test_dapr_annotations_name_the_configuration_and_the_health_check(
    any_docs: tuple[dict[str, Any], ...],
) -> None:
    (configuration,) = of_kind(any_docs, "Configuration")
    for service in APP_IDS:
        annotations = deployment(any_docs, service)["spec"]["template"]["metadata"]["annotations"]
        assert annotations["dapr.io/config"] == configuration["metadata"]["name"]
        assert annotations["dapr.io/log-level"] in {"debug", "info", "warn", "error"}
        assert annotations["dapr.io/enable-app-health-check"] == "true"
        assert annotations["dapr.io/app-health-check-path"] == "/healthz"
        for key in ("cpu-request", "memory-request", "cpu-limit", "memory-limit"):
            assert annotations[f"dapr.io/sidecar-{key}"]
    assert "tracing" in configuration["spec"]


def test_dapr_components_of_the_contract(any_docs: tuple[dict[str, Any], ...]) -> None:
    components = {c["metadata"]["name"]: c for c in of_kind(any_docs, "Component")}
    assert {n: c["spec"]["type"] for n, c in components.items()} == {
        "pubsub-kafka": "pubsub.kafka",
        "statestore-redis": "state.redis",
        "secrets-kubernetes": "secretstores.kubernetes",
    }
    assert set(components["pubsub-kafka"]["scopes"]) == set(APP_IDS.values())
    assert components["statestore-redis"]["scopes"] == ["task-api"]
    # Every service reads its secrets (at least the JWT key) through the secret store.
    assert set(components["secrets-kubernetes"]["scopes"]) == set(APP_IDS.values())
    meta = {m["name"]: m.get("value") for m in components["statestore-redis"]["spec"]["metadata"]}
    assert int(meta["ttlInSeconds"]) > 0


def test_resiliency_retries_deliveries_before_the_dead_letter_topic(
    any_docs: tuple[dict[str, Any], ...],
) -> None:
    (resiliency,) = of_kind(any_docs, "Resiliency")
    inbound = resiliency["spec"]["targets"]["components"]["pubsub-kafka"]["inbound"]
    retry = resiliency["spec"]["policies"]["retries"][inbound["retry"]]
    assert retry["maxRetries"] > 0
    assert set(resiliency["scopes"]) == set(APP_IDS.values())


# --- subscriptions ----------------------------------------------------------------------


@pytest.fixture(scope="module")
async def app_subscriptions(tmp_path_factory: pytest.TempPathFactory, key_file: Path) -> Routing:
    """What each service itself serves on GET /dapr/subscribe, from services/composition.py."""
    routing: Routing = {}
    db = tmp_path_factory.mktemp("routing") / "routing.db"
    for service, app_id in APP_IDS.items():
        container = bootstrap(
            service_name=service,
            event_bus="dapr",
            database_url=f"sqlite+aiosqlite:///{db}",
            jwt_private_key_file=key_file,
            redis_url=None,
        )
        bus = container.bus
        assert isinstance(bus, DaprBus)
        try:
            await bus.start(process_of(container).subscriptions)
            for entry in bus.subscription_entries():
                key = (
                    entry["pubsubname"],
                    entry["topic"],
                    entry["route"],
                    entry.get("deadLetterTopic"),
                    entry.get("metadata", {}).get("rawPayload"),
                )
                routing.setdefault(key, set()).add(app_id)
        finally:
            await bus.stop()
            await container.engine.dispose()
    return routing


def declared_routing(subscriptions: list[dict[str, Any]]) -> Routing:
    routing: Routing = {}
    for sub in subscriptions:
        assert sub["apiVersion"] == "dapr.io/v2alpha1"
        spec = sub["spec"]
        assert set(spec["routes"]) == {"default"}, "one route per topic and app"
        key = (
            spec["pubsubname"],
            spec["topic"],
            spec["routes"]["default"],
            spec.get("deadLetterTopic"),
            spec.get("metadata", {}).get("rawPayload"),
        )
        assert key not in routing, f"two subscriptions for {key}"
        routing[key] = set(sub["scopes"])
    return routing


def test_the_services_consume_what_the_contract_says(app_subscriptions: Routing) -> None:
    by_topic: dict[str, set[str]] = {topic: set() for topic in CONTRACT_CONSUMERS}
    service_of = {app_id: service for service, app_id in APP_IDS.items()}
    for (_, topic, _, _, _), apps in app_subscriptions.items():
        by_topic[topic] |= {service_of[a] for a in apps}
    assert by_topic == {str(t): s for t, s in CONTRACT_CONSUMERS.items()}


def test_chart_subscriptions_route_every_topic_to_its_consumers(
    any_docs: tuple[dict[str, Any], ...], app_subscriptions: Routing
) -> None:
    assert declared_routing(of_kind(any_docs, "Subscription")) == app_subscriptions


def test_plain_dapr_subscriptions_route_every_topic_to_its_consumers(
    app_subscriptions: Routing,
) -> None:
    files = sorted((K8S / "dapr" / "subscriptions").glob("*.yaml"))
    subscriptions = [d for f in files for d in load_documents(f.read_text())]
    assert declared_routing(subscriptions) == app_subscriptions


def test_declarative_subscriptions_turn_off_the_programmatic_ones(
    any_docs: tuple[dict[str, Any], ...],
) -> None:
    assert APP_IDS
    for service in APP_IDS:
        annotations = deployment(any_docs, service)["spec"]["template"]["metadata"]["annotations"]
        assert annotations["dapr.io/disable-init-endpoints"] == "subscribe"


# --- pods: no root, resources, probes -------------------------------------------------------


def test_no_container_runs_as_root(any_docs: tuple[dict[str, Any], ...]) -> None:
    seen: set[str] = set()
    for where, spec in pod_specs(any_docs):
        pod = spec.get("securityContext", {})
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            seen.add(where.split("/")[-1])
            ctx = {**pod, **container.get("securityContext", {})}
            label = f"{where} container {container['name']}"
            assert ctx.get("runAsNonRoot") is True, f"{label}: runAsNonRoot"
            assert ctx.get("runAsUser", 0) != 0, f"{label}: runs as uid 0"
            assert ctx.get("allowPrivilegeEscalation") is False, f"{label}: privilege escalation"
            assert "ALL" in ctx.get("capabilities", {}).get("drop", []), f"{label}: capabilities"
            assert not ctx.get("privileged", False), f"{label}: privileged"
    assert {name_of(s) for s in APP_IDS} <= seen, seen


def test_every_container_has_requests_and_limits(any_docs: tuple[dict[str, Any], ...]) -> None:
    seen: set[str] = set()
    for where, spec in pod_specs(any_docs):
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            seen.add(where.split("/")[-1])
            resources = container.get("resources", {})
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(part, {})), (
                    f"{where} container {container['name']}: {part}"
                )
    assert {name_of(s) for s in APP_IDS} <= seen, seen


def test_every_long_running_container_has_probes(any_docs: tuple[dict[str, Any], ...]) -> None:
    # Jobs and the `helm test` pod run to completion: probes do not apply to them.
    seen: set[str] = set()
    for where, spec in pod_specs(any_docs):
        if where.split("/")[0] not in ("Deployment", "StatefulSet"):
            continue
        for container in spec["containers"]:
            seen.add(where.split("/")[-1])
            assert "livenessProbe" in container, f"{where}: no liveness probe"
            assert "readinessProbe" in container, f"{where}: no readiness probe"
    assert {name_of(s) for s in APP_IDS} <= seen, seen


@pytest.mark.parametrize("service", APP_IDS)
def test_services_probe_health_and_readiness(
    docs: tuple[dict[str, Any], ...], service: str
) -> None:
    (container,) = deployment(docs, service)["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


# --- network policies -------------------------------------------------------------------


def selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    assert not selector.get("matchExpressions"), "keep NetworkPolicy selectors to matchLabels"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def test_everything_is_denied_by_default(any_docs: tuple[dict[str, Any], ...]) -> None:
    policies = of_kind(any_docs, "NetworkPolicy")
    deny = [p for p in policies if p["metadata"]["name"].endswith("-default-deny")]
    assert len(deny) == 1
    assert set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert not deny[0]["spec"].get("ingress")
    assert not deny[0]["spec"].get("egress")
    seen: set[str] = set()
    for where, _ in pod_specs(any_docs):
        doc = next(d for d in any_docs if f"{d['kind']}/{d['metadata']['name']}" == where)
        labels = (doc["spec"].get("template") or doc)["metadata"]["labels"]
        assert selects(deny[0], labels), f"{where} escapes the default deny"
        seen.add(where.split("/")[-1])
    assert {name_of(s) for s in APP_IDS} <= seen, seen


def test_every_pod_has_its_own_network_policy(any_docs: tuple[dict[str, Any], ...]) -> None:
    policies = [
        p
        for p in of_kind(any_docs, "NetworkPolicy")
        if not p["metadata"]["name"].endswith("-default-deny")
    ]
    for where, _ in pod_specs(any_docs):
        doc = next(d for d in any_docs if f"{d['kind']}/{d['metadata']['name']}" == where)
        labels = (doc["spec"].get("template") or doc)["metadata"]["labels"]
        mine = [p for p in policies if selects(p, labels)]
        assert mine, f"no NetworkPolicy selects {where}"
        for policy in mine:
            assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}


@pytest.mark.parametrize("service", APP_IDS)
def test_service_policies_allow_only_what_the_service_needs(
    any_docs: tuple[dict[str, Any], ...], service: str
) -> None:
    (policy,) = [
        p for p in of_kind(any_docs, "NetworkPolicy") if p["metadata"]["name"] == name_of(service)
    ]
    labels = deployment(any_docs, service)["spec"]["template"]["metadata"]["labels"]
    assert selects(policy, labels)
    egress_ports = {
        port["port"] for rule in policy["spec"]["egress"] for port in rule.get("ports", [])
    }
    assert {53, 9092, 50001} <= egress_ports  # DNS, Kafka (through the sidecar), Dapr sentry
    ingress_ports = {
        port["port"] for rule in policy["spec"]["ingress"] for port in rule.get("ports", [])
    }
    assert ingress_ports <= {8000, 9090}
    open_to_all = [rule for rule in policy["spec"]["ingress"] if not rule.get("from")]
    assert not open_to_all, "an ingress rule without `from` admits everyone"
    internet_ports = {
        port["port"]
        for rule in policy["spec"]["egress"]
        if any(
            peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0" and peer["ipBlock"].get("except")
            for peer in rule.get("to", [])
        )
        for port in rule["ports"]
    }
    # Only the services that talk to the outside world may, and only on their ports:
    # task-api the model API (HTTPS), notification SMTP and webhooks.
    assert internet_ports == {
        "task-api": {443},
        "notification": {443, 80, 587, 465, 25},
    }.get(service, set())


# --- task-api scaling, ingress, migrations, tests, monitoring ------------------------------


def test_task_api_has_an_hpa_and_a_pdb_in_production(
    production: tuple[dict[str, Any], ...],
) -> None:
    (hpa,) = of_kind(production, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": name_of("task-api"),
    }
    assert hpa["spec"]["minReplicas"] >= 2
    (pdb,) = [
        p
        for p in of_kind(production, "PodDisruptionBudget")
        if p["metadata"]["name"] == name_of("task-api")
    ]
    labels = deployment(production, "task-api")["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in pdb["spec"]["selector"]["matchLabels"].items())
    assert "replicas" not in deployment(production, "task-api")["spec"], "the HPA owns replicas"


def test_the_front_door_routes_each_api_to_the_service_that_serves_it(
    any_docs: tuple[dict[str, Any], ...],
) -> None:
    """The Ingress, or where none serves (values-local.yaml), the chart's gateway."""
    from services.audit.api import router as audit_router
    from services.notification.api import router as notification_router

    ingresses = of_kind(any_docs, "Ingress")
    if ingresses:
        (ingress,) = ingresses
        (rule,) = ingress["spec"]["rules"]
        routes = {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
        assert [p["path"] for p in rule["http"]["paths"]][-1] == "/", "the catch-all comes last"
        assert not _gateway_config(any_docs), "one front door"
    else:
        routes = {path: to.split(":")[0] for path, to in _gateway_routes(any_docs).items()}
    assert routes == {
        audit_router.prefix: name_of("audit"),
        notification_router.prefix: name_of("notification"),
        "/": name_of("task-api"),
    }


def test_migrations_run_as_a_hook_before_install_and_upgrade(
    production: tuple[dict[str, Any], ...], docs: tuple[dict[str, Any], ...]
) -> None:
    (job,) = of_kind(production, "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["todo", "db", "upgrade"]
    assert "dapr.io/enabled" not in job["spec"]["template"]["metadata"].get("annotations", {})
    # The bundled database exists only once the release's resources do: the Job is one
    # of them, a new one per revision, and the services wait for the schema it makes.
    (job,) = of_kind(docs, "Job")
    assert "helm.sh/hook" not in job["metadata"].get("annotations", {})
    assert job["metadata"]["name"] == f"{RELEASE}-migrations-r1"


def test_secrets_come_from_the_chart_or_an_existing_secret(
    docs: tuple[dict[str, Any], ...], production: tuple[dict[str, Any], ...]
) -> None:
    (own,) = [s for s in of_kind(docs, "Secret") if s["metadata"]["name"] == f"{RELEASE}-secrets"]
    assert "jwt-private.pem" in own["data"]
    assert own["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert not [
        s for s in of_kind(production, "Secret") if s["metadata"]["name"] == "todo-app-secrets"
    ]
    volumes = deployment(production, "task-api")["spec"]["template"]["spec"]["volumes"]
    secrets = next(v for v in volumes if v["name"] == "secrets")
    assert secrets["secret"]["secretName"] == "todo-app-secrets"


def test_helm_test_calls_readyz_of_every_service(any_docs: tuple[dict[str, Any], ...]) -> None:
    (pod,) = of_kind(any_docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    args = pod["spec"]["containers"][0]["command"]
    for service in APP_IDS:
        assert f"http://{name_of(service)}:8000/readyz" in args


def test_services_send_traces_to_the_collector_when_the_stack_is_there(
    docs: tuple[dict[str, Any], ...], production: tuple[dict[str, Any], ...]
) -> None:
    """observability.otlpEndpoint becomes OTEL_EXPORTER_OTLP_ENDPOINT on every service,
    and the egress policy lets the app and its sidecar reach the collector."""
    for service in APP_IDS:
        (plain,) = deployment(docs, service)["spec"]["template"]["spec"]["containers"]
        assert not [e for e in plain["env"] if e["name"].startswith("OTEL_")]
        (container,) = deployment(production, service)["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.monitoring.svc:4318"
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        (policy,) = [
            p
            for p in of_kind(production, "NetworkPolicy")
            if p["metadata"]["name"] == name_of(service)
        ]
        to_collector = [
            rule
            for rule in policy["spec"]["egress"]
            if any(
                peer.get("namespaceSelector", {}).get("matchLabels", {})
                == {"kubernetes.io/metadata.name": "monitoring"}
                for peer in rule.get("to", [])
            )
        ]
        assert {p["port"] for rule in to_collector for p in rule["ports"]} == {4317, 4318}
    (configuration,) = of_kind(production, "Configuration")
    assert configuration["spec"]["tracing"]["otel"]["endpointAddress"] == (
        "otel-collector.monitoring.svc:4317"
    )


def test_the_chart_leaves_monitoring_to_the_observability_chart(
    production: tuple[dict[str, Any], ...],
) -> None:
    kinds = {d["kind"] for d in production}
    assert not kinds & {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    assert not (K8S.parent / "charts" / "todo-app" / "dashboards").exists()
    assert not (K8S.parent / "charts" / "todo-app" / "templates" / "monitoring").exists()


def test_the_local_values_pull_nothing_and_bring_their_own_kafka(helm: str) -> None:
    local = render_chart(helm, "values-local.yaml", KUBE_VERSIONS[-1])
    for where, spec in pod_specs(local):
        for container in spec.get("initContainers", []) + spec["containers"]:
            assert container["imagePullPolicy"] == "Never", f"{where}/{container['name']}"
            assert container["image"].startswith("todo-app/"), f"{where}/{container['name']}"
    [kafka] = [d for d in of_kind(local, "StatefulSet") if d["metadata"]["name"].endswith("-kafka")]
    env = {e["name"]: e["value"] for e in kafka["spec"]["template"]["spec"]["containers"][0]["env"]}
    advertised = env["KAFKA_ADVERTISED_HOST"]
    [pubsub] = [d for d in of_kind(local, "Component") if d["spec"]["type"] == "pubsub.kafka"]
    brokers = {m["name"]: m.get("value") for m in pubsub["spec"]["metadata"]}["brokers"]
    assert brokers == f"{advertised}:9092"
    [service] = [
        d for d in of_kind(local, "Service") if d["metadata"]["name"] == f"{RELEASE}-kafka"
    ]
    assert advertised.startswith(f"{RELEASE}-kafka.")
    assert service["spec"]["clusterIP"] == "None"


def test_without_the_bundled_kafka_the_sidecars_use_strimzi(
    docs: tuple[dict[str, Any], ...],
) -> None:
    assert not [d for d in of_kind(docs, "StatefulSet") if d["metadata"]["name"].endswith("-kafka")]
    [pubsub] = [d for d in of_kind(docs, "Component") if d["spec"]["type"] == "pubsub.kafka"]
    brokers = {m["name"]: m.get("value") for m in pubsub["spec"]["metadata"]}["brokers"]
    assert brokers == "todo-kafka-kafka-bootstrap.kafka.svc:9092"


def test_component_numbers_are_written_as_daprd_parses_them(
    any_docs: tuple[dict[str, Any], ...],
) -> None:
    """Helm reads YAML numbers as floats: 1048576 would render as 1.048576e+06, which
    daprd cannot parse as an integer, and the sidecar exits at start."""
    for component in of_kind(any_docs, "Component"):
        for item in component["spec"]["metadata"]:
            value = str(item.get("value", ""))
            assert "e+" not in value, f"{component['metadata']['name']}/{item['name']}: {value}"
    [pubsub] = [d for d in of_kind(any_docs, "Component") if d["spec"]["type"] == "pubsub.kafka"]
    sizes = {m["name"]: m.get("value") for m in pubsub["spec"]["metadata"]}
    assert sizes["maxMessageBytes"] == "1048576"


def test_services_wait_for_the_schema_before_they_start(
    any_docs: tuple[dict[str, Any], ...],
) -> None:
    """With the bundled PostgreSQL the migrations job runs after the services on a first
    install; a service that started on an empty database would have its background loops
    fail on missing tables."""
    for service in APP_IDS:
        spec = deployment(any_docs, service)["spec"]["template"]["spec"]
        [init] = spec["initContainers"]
        assert init["command"] + init["args"][:2] == ["todo", "db", "wait"]
        names = {e["name"] for e in init["env"]}
        assert "DATABASE_URL" in names or "DATABASE_URL_FILE" in names


def _gateway_config(docs: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    return [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"] == f"{RELEASE}-gateway"]


def _gateway_routes(docs: tuple[dict[str, Any], ...]) -> dict[str, str]:
    """The gateway's nginx.conf as {path prefix: upstream}."""
    [config] = _gateway_config(docs)
    routes = re.findall(
        r"location (\S+) \{\s*proxy_pass http://([^;]+);", config["data"]["nginx.conf"]
    )
    return dict(routes)


def test_the_gateway_is_off_where_an_ingress_serves(
    docs: tuple[dict[str, Any], ...], production: tuple[dict[str, Any], ...]
) -> None:
    for rendered in (docs, production):
        assert not [d for d in rendered if d["metadata"]["name"].startswith(f"{RELEASE}-gateway")]


def test_the_local_gateway_routes_the_ingress_paths_on_a_node_port(helm: str) -> None:
    local = render_chart(helm, "values-local.yaml", KUBE_VERSIONS[-1])
    assert not of_kind(local, "Ingress")
    assert _gateway_routes(local) == {
        "/": f"{name_of('task-api')}:8000",
        "/api/notifications": f"{name_of('notification')}:8000",
        "/api/audit": f"{name_of('audit')}:8000",
    }
    [service] = [
        d for d in of_kind(local, "Service") if d["metadata"]["name"] == f"{RELEASE}-gateway"
    ]
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["nodePort"] == 30080
    # The routed services admit the gateway's pods; the others do not.
    policies = {d["metadata"]["name"]: d for d in of_kind(local, "NetworkPolicy")}
    for service_name, routed in (
        ("task-api", True),
        ("notification", True),
        ("audit", True),
        ("recurring-task", False),
    ):
        sources = [
            rule["from"][0].get("podSelector", {}).get("matchLabels", {})
            for rule in policies[name_of(service_name)]["spec"]["ingress"]
            if rule.get("from")
        ]
        admits = any(s.get("app.kubernetes.io/component") == "gateway" for s in sources)
        assert admits == routed, service_name
    egress_to = [
        rule["to"][0]
        .get("podSelector", {})
        .get("matchLabels", {})
        .get("app.kubernetes.io/component")
        for rule in policies[f"{RELEASE}-gateway"]["spec"]["egress"]
    ]
    assert sorted(c for c in egress_to if c) == ["audit", "notification", "task-api"]
    [test_pod] = [d for d in of_kind(local, "Pod") if "test" in d["metadata"]["name"]]
    assert f"http://{RELEASE}-gateway:80/readyz" in test_pod["spec"]["containers"][0]["command"]


def test_a_gateway_node_port_outside_the_range_is_refused(helm: str) -> None:
    with pytest.raises(ToolError, match="nodePort"):
        render_chart(
            helm,
            "values-local.yaml",
            KUBE_VERSIONS[-1],
            "--set",
            "gateway.service.nodePort=8080",
        )


def _reminder_schedulers(docs: tuple[dict[str, Any], ...]) -> dict[str, str]:
    found = {}
    for doc in of_kind(docs, "Deployment"):
        for container in doc["spec"]["template"]["spec"]["containers"]:
            for env in container.get("env", []):
                if env["name"] == "REMINDER_SCHEDULER":
                    found[doc["metadata"]["name"]] = env["value"]
    return found


def test_the_reminder_scheduler_is_chosen_for_every_service(helm: str) -> None:
    default = _reminder_schedulers(render_chart(helm, "values.yaml"))
    assert len(default) == 4
    assert set(default.values()) == {"builtin"}
    jobs = render_chart(
        helm, "values.yaml", KUBE_VERSIONS[-1], "--set", "dapr.reminderScheduler=dapr-jobs"
    )
    assert set(_reminder_schedulers(jobs).values()) == {"dapr-jobs"}
    with pytest.raises(ToolError, match="reminderScheduler"):
        render_chart(helm, "values.yaml", KUBE_VERSIONS[-1], "--set", "dapr.reminderScheduler=cron")
