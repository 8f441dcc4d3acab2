"""k8s/: Strimzi Kafka in KRaft mode with the contract's topics, and the plain manifests."""

import re
from typing import Any

from events.topics import Topic
from tests.deploy.support import K8S, REPO, load_documents, of_kind

# The product's topics (docs/reference.md, Events) and their partitions.
PARTITIONS = {
    "task-events": 6,
    "reminder-events": 3,
    "notification-events": 3,
    "chat-events": 3,
    "audit-events": 3,
    "dlq-events": 1,
}


def docs_under(folder: str) -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted((K8S / folder).rglob("*.yaml"))
        for doc in load_documents(path.read_text())
    ]


def test_topics_are_the_contracts_with_their_partitions() -> None:
    topics = of_kind(docs_under("kafka"), "KafkaTopic")
    assert {t["metadata"]["name"]: t["spec"]["partitions"] for t in topics} == PARTITIONS
    assert set(PARTITIONS) == {t.value for t in Topic}
    for topic in topics:
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "todo-kafka"
        assert int(topic["spec"]["config"]["retention.ms"]) > 0


def test_the_local_broker_has_the_same_topics() -> None:
    script = (REPO / "scripts" / "kafka.sh").read_text()
    block = re.search(r"TOPICS=\(\n(.*?)\n\)", script, flags=re.S)
    assert block, "scripts/kafka.sh lists its topics in TOPICS=( ... )"
    local = dict(line.strip().split(":") for line in block.group(1).splitlines())
    assert {name: int(n) for name, n in local.items()} == PARTITIONS


def test_kafka_runs_in_kraft_mode_on_a_dual_role_node_pool() -> None:
    docs = docs_under("kafka")
    (kafka,) = of_kind(docs, "Kafka")
    (pool,) = of_kind(docs, "KafkaNodePool")
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    assert kafka["apiVersion"] == pool["apiVersion"] == "kafka.strimzi.io/v1"
    assert "zookeeper" not in kafka["spec"]
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    assert "topicOperator" in kafka["spec"]["entityOperator"]
    assert "kafkaExporter" in kafka["spec"]  # consumer lag for the alerts
    plain = [
        listener for listener in kafka["spec"]["kafka"]["listeners"] if listener["port"] == 9092
    ]
    assert plain
    assert plain[0]["tls"] is False


def test_plain_dapr_components_match_the_contract() -> None:
    docs = docs_under("dapr")
    components = {c["metadata"]["name"]: c["spec"]["type"] for c in of_kind(docs, "Component")}
    assert components == {
        "pubsub-kafka": "pubsub.kafka",
        "statestore-redis": "state.redis",
        "secrets-kubernetes": "secretstores.kubernetes",
    }
    (configuration,) = of_kind(docs, "Configuration")
    assert configuration["metadata"]["name"] == "todo-app-config"
    assert of_kind(docs, "Resiliency")


def test_simple_manifests_expose_the_page_on_node_port_30007() -> None:
    docs = docs_under("simple")
    services = {s["metadata"]["name"]: s["spec"] for s in of_kind(docs, "Service")}
    assert services["backend-service"]["type"] == "ClusterIP"
    assert services["backend-service"]["ports"][0]["port"] == 8000
    assert services["frontend-service"]["type"] == "NodePort"
    assert services["frontend-service"]["ports"][0]["nodePort"] == 30007
    (backend,) = [
        d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "backend-deployment"
    ]
    (container,) = backend["spec"]["template"]["spec"]["containers"]
    assert container["command"][:4] == ["todo", "serve", "--service", "all"]
