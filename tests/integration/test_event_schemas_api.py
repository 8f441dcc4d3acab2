"""The events' JSON Schemas are served without a token, cacheably, and every
event the task API writes points at its schema and matches it."""

import json

import httpx
import jsonschema
import sqlalchemy as sa

from events import EventType, outbox_table
from events.catalogue import SCHEMAS
from events.schemas import schema_url
from services.bootstrap import Container
from tests.conftest import User


async def test_each_schema_is_served_without_a_token_and_can_be_cached(
    client: httpx.AsyncClient,
) -> None:
    for event_type in EventType:
        served = await client.get(f"/schemas/events/{event_type}.json")
        assert served.status_code == 200, served.text
        assert served.headers["content-type"] == "application/schema+json"
        assert served.headers["cache-control"] == "public, max-age=3600"
        committed = json.loads((SCHEMAS / f"{event_type}.json").read_text(encoding="utf-8"))
        assert served.json() == committed
        again = await client.get(
            f"/schemas/events/{event_type}.json",
            headers={"If-None-Match": served.headers["etag"]},
        )
        assert again.status_code == 304
    index = (await client.get("/schemas/events")).json()
    assert index == {"event_types": {t.value: schema_url(t.value) for t in EventType}}


async def test_an_unknown_schema_is_a_404_that_lists_the_known_ones(
    client: httpx.AsyncClient,
) -> None:
    for name in ("task.renamed.json", "task.created", "task.created.yaml"):
        answer = await client.get(f"/schemas/events/{name}")
        assert answer.status_code == 404
        assert "task.created.json" in answer.json()["detail"]


async def test_the_events_written_point_at_their_schema_and_match_it(
    container: Container, client: httpx.AsyncClient, alice: User
) -> None:
    made = await alice.request(
        "POST",
        "/api/tasks",
        json={"title": "Renew passport", "priority": "high", "remind_at": "2030-01-05T09:00:00Z"},
    )
    assert made.status_code == 201, made.text
    task_id = made.json()["id"]
    done = await alice.request("POST", f"/api/tasks/{task_id}/complete")
    assert done.status_code == 200, done.text
    async with container.engine.connect() as conn:
        payloads = (await conn.execute(sa.select(outbox_table.c.payload))).scalars().all()
    events = [json.loads(p) for p in payloads]
    kinds = {e["type"] for e in events}
    assert {"task.created", "reminder.scheduled", "task.completed"} <= kinds
    for event in events:
        assert event["dataschema"] == schema_url(event["type"])
        schema = (await client.get(f"/schemas/events/{event['type']}.json")).json()
        jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(
            event["data"]
        )
