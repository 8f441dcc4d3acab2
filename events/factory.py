"""Choosing the transport: EVENT_BUS=memory | kafka | dapr."""

from typing import Literal

from events.bus import Bus
from events.memory import MemoryBus

BusKind = Literal["memory", "kafka", "dapr"]


def create_bus(
    kind: BusKind,
    *,
    client_id: str,
    kafka_bootstrap_servers: str = "127.0.0.1:9092",
    dapr_http_port: int = 3500,
    dapr_grpc_port: int | None = None,
    dapr_pubsub_name: str = "pubsub-kafka",
    kafka_group_prefix: str = "",
    kafka_group_join_patience: float = 60.0,
) -> Bus:
    if kind == "memory":
        return MemoryBus()
    if kind == "kafka":
        from events.kafka import KafkaBus

        kafka: Bus = KafkaBus(
            kafka_bootstrap_servers,
            client_id=client_id,
            group_prefix=kafka_group_prefix,
            join_patience=kafka_group_join_patience,
        )
        return kafka
    if kind == "dapr":
        from events.dapr import DaprBus

        dapr: Bus = DaprBus(
            http_port=dapr_http_port, grpc_port=dapr_grpc_port, pubsub_name=dapr_pubsub_name
        )
        return dapr
    raise ValueError(f"unknown EVENT_BUS {kind!r}: use memory, kafka or dapr")
