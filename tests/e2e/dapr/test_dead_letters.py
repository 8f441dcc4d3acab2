"""Dead letters through the real daprd: what ends on `dlq-events`, and the audit's record of it.

Two paths lead there. An event whose data breaks its schema, or that a handler rejects for
good, is dead-lettered by us (the `Dispatcher` publishes it with `dlqreason` through the
sidecar and answers SUCCESS). A record
no service can read is dead-lettered by daprd itself, unchanged: a body that is not JSON
never reaches the app, and one that is JSON but not our event is answered DROP. The audit
reads `dlq-events` as raw payloads, so even a record that is not JSON is recorded there
instead of being redelivered to it forever, and the dead letters behind it still arrive.
"""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import create_async_engine

from events.dapr import CLOUDEVENTS_JSON, UNREADABLE_RECORD
from services.audit.trail import audit_logs
from tests.e2e.dapr.conftest import DaprCluster
from tests.e2e.processes import poll, sign_up

PUBLISH = "/v1.0/publish/pubsub-kafka/task-events"


def completed_without_task(user_id: str) -> dict[str, Any]:
    """A task.completed whose data lacks the task: its schema refuses it before any handler."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/e2e/dead-letters",
        "type": "task.completed",
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "subject": str(uuid.uuid4()),
        "userid": user_id,
        "data": {},
    }


async def publish_through_task_api(
    client: httpx.AsyncClient, cluster: DaprCluster, event: dict[str, Any]
) -> None:
    response = await client.post(
        cluster.sidecars.url("task-api") + PUBLISH,
        params={"metadata.partitionKey": event["userid"]},
        content=json.dumps(event).encode(),
        headers={"Content-Type": CLOUDEVENTS_JSON},
    )
    assert response.status_code == 204, response.text


async def dlq_rows(database_url: str, **where: str) -> list[dict[str, Any]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            query = sa.select(audit_logs).where(audit_logs.c.topic == "dlq-events")
            for column, value in where.items():
                query = query.where(audit_logs.c[column] == value)
            return [dict(row._mapping) for row in (await conn.execute(query)).all()]
    finally:
        await engine.dispose()


async def rejected_and_audited(
    client: httpx.AsyncClient, cluster: DaprCluster, me: dict[str, str]
) -> dict[str, Any]:
    """Publish an event the subscribers refuse; its dead letter as the audit API shows it."""
    user_id = (await client.get(cluster.apps.url("task-api") + "/api/auth/me", headers=me)).json()[
        "id"
    ]
    event = completed_without_task(user_id)
    await publish_through_task_api(client, cluster, event)

    async def dead_letter() -> Any:
        page = (
            await client.get(
                cluster.apps.url("audit") + "/api/audit",
                headers=me,
                params={"resource_id": event["subject"]},
            )
        ).json()
        return [e for e in page["items"] if e["resource_type"] == "dlq"]

    [entry] = await poll(dead_letter, timeout=60)
    assert entry["event_id"] == event["id"]
    assert entry["event_type"] == "task.completed"
    return dict(entry)


@pytest.mark.timeout(180)
async def test_an_event_whose_data_breaks_its_schema_is_dead_lettered_with_the_reason(
    dapr_cluster: DaprCluster,
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        _, me = await sign_up(client, dapr_cluster.apps.url("task-api"), "dlq")
        entry = await rejected_and_audited(client, dapr_cluster, me)
    dlq = entry["metadata"]["dlq"]
    assert dlq["dlqtopic"] == "task-events"
    assert dlq["dlqreason"].startswith("InvalidEventData: invalid task.completed data: task:")
    assert dlq["dlqconsumer"]
    # Settled by our own dead letter: daprd was told SUCCESS and dead-lettered nothing itself.
    assert "DROP status returned" not in dapr_cluster.sidecars.log("recurring-task")


@pytest.mark.timeout(180)
async def test_unreadable_records_reach_the_audit_and_do_not_block_the_dlq(
    dapr_cluster: DaprCluster,
) -> None:
    garbage = b"\xff\xfe not json at all " + uuid.uuid4().hex.encode()
    producer = AIOKafkaProducer(bootstrap_servers=dapr_cluster.kafka)
    await producer.start()
    try:
        await producer.send_and_wait("task-events", garbage, key=b"poison")
    finally:
        await producer.stop()
    async with httpx.AsyncClient(timeout=30) as client:
        # JSON, but no event of ours: Dapr wraps it in an envelope of its own (no userid),
        # which every subscriber of task-events answers DROP.
        stranger = {"hello": uuid.uuid4().hex}
        answer = await client.post(dapr_cluster.sidecars.url("task-api") + PUBLISH, json=stranger)
        assert answer.status_code == 204, answer.text
        _, me = await sign_up(client, dapr_cluster.apps.url("task-api"), "dlq")
        # A dead letter published after both still reaches the audit.
        await rejected_and_audited(client, dapr_cluster, me)

    async def unreadable() -> list[dict[str, Any]]:
        rows = await dlq_rows(dapr_cluster.database_url, event_type=UNREADABLE_RECORD)
        texts = [r["metadata"].get("record", "") for r in rows]
        found_garbage = any(uuid_part(garbage) in t for t in texts)
        found_stranger = any(stranger["hello"] in t for t in texts)
        return rows if found_garbage and found_stranger else []

    rows = await poll(unreadable, timeout=60)
    for row in rows:
        assert row["resource_type"] == "dlq"
        assert row["metadata"]["dlq"]["dlqreason"].startswith("unreadable record")
        # daprd dead-lettered the record with its metadata: the topic it came from.
        assert row["metadata"]["dlq"]["dlqtopic"] == "task-events"
    # Every subscriber of task-events dead-lettered each record; the audit keeps one row per
    # record (its id is derived from the record's bytes).
    assert len(rows) == 2, [r["metadata"] for r in rows]
    # daprd never had to parse a dead letter: nothing is stuck in a redelivery loop.
    assert "error deserializing cloud event in pubsub pubsub-kafka and topic dlq-events" not in (
        dapr_cluster.sidecars.log("audit")
    )


def uuid_part(record: bytes) -> str:
    return record.rsplit(b" ", 1)[1].decode()
