"""Bad input of every kind: a 4xx problem+json that says what to fix, and
stored data left exactly as it was. No input produces a 500."""

import json
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import outbox_table
from services.bootstrap import Container
from services.shared.tables import tasks
from tests.conftest import User

LONG = "x" * 501


async def snapshot(container: Container) -> tuple[list[Any], int]:
    async with container.engine.connect() as conn:
        rows = (await conn.execute(sa.select(tasks).order_by(tasks.c.id))).all()
        events = await conn.execute(sa.select(sa.func.count()).select_from(outbox_table))
        return [tuple(r) for r in rows], int(events.scalar_one())


def assert_problem(response: Any, status: int, *mentions: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    text = json.dumps(body).lower()
    for word in mentions:
        assert word.lower() in text, (word, body)


CREATE_CASES: list[tuple[Any, int, tuple[str, ...]]] = [
    ({}, 422, ("title",)),
    ({"title": ""}, 422, ("title",)),
    ({"title": "   "}, 422, ("title", "empty")),
    ({"title": LONG}, 422, ("title", "500")),
    ({"title": 12}, 422, ("title",)),
    ({"title": None}, 422, ("title",)),
    ({"title": "line\nbreak"}, 422, ("title",)),
    ({"title": "ok", "description": "d" * 10_001}, 422, ("description",)),
    ({"title": "ok", "priority": "urgent"}, 422, ("priority",)),
    ({"title": "ok", "status": "completed"}, 422, ("status",)),
    ({"title": "ok", "tags": "work"}, 422, ("tags",)),
    ({"title": "ok", "tags": ["has space"]}, 422, ("tags", "spaces")),
    ({"title": "ok", "tags": ["a,b"]}, 422, ("tags",)),
    ({"title": "ok", "tags": ["t" * 51]}, 422, ("tags",)),
    ({"title": "ok", "tags": [f"t{n}" for n in range(21)]}, 422, ("tags", "20")),
    ({"title": "ok", "tags": [""]}, 422, ("tags",)),
    ({"title": "ok", "due_at": "tomorrow"}, 422, ("due_at",)),
    ({"title": "ok", "due_at": "2030-02-30"}, 422, ("due_at",)),
    ({"title": "ok", "due_at": "9999-12-31T23:59:59-05:00"}, 422, ("due_at",)),
    ({"title": "ok", "due_at": "0001-01-01T00:00:00+05:00"}, 422, ("due_at",)),
    ({"title": "ok", "due_at": 1e308}, 422, ("due_at",)),
    ({"title": "ok", "timezone": "Mars/Olympus"}, 422, ("timezone", "IANA")),
    ({"title": "ok", "timezone": "../../etc/passwd"}, 422, ("timezone",)),
    ({"title": "ok", "timezone": ""}, 422, ("timezone",)),
    ({"title": "ok", "recurrence_rule": "FREQ=WEEKLY;BYDAY=XX"}, 422, ("BYDAY",)),
    ({"title": "ok", "due_at": "2030-01-01", "recurrence_rule": "BYDAY=MO"}, 422, ("FREQ",)),
    (
        {
            "title": "ok",
            "due_at": "2030-01-01",
            "recurrence_rule": "FREQ=DAILY;COUNT=2;UNTIL=20300101",
        },
        422,
        ("COUNT", "UNTIL"),
    ),
    ({"title": "ok", "due_at": "2030-01-01", "recurrence_rule": "FREQ=DAILY;FOO=1"}, 422, ("FOO",)),
    ({"title": "ok", "due_at": "2030-01-01", "recurrence_rule": "FREQ=MINUTELY"}, 422, ("hourly",)),
    (
        {"title": "ok", "due_at": "2030-01-01", "recurrence_rule": "FREQ=MONTHLY;BYMONTHDAY=32"},
        422,
        ("BYMONTHDAY",),
    ),
    (
        {"title": "ok", "due_at": "2030-01-01", "recurrence_rule": "FREQ=DAILY;INTERVAL=0"},
        422,
        ("INTERVAL",),
    ),
    (
        {"title": "ok", "due_at": "2030-01-01", "recurrence_rule": "FREQ=DAILY;BYDAY=1MO"},
        422,
        ("BYDAY",),
    ),
    (
        {"title": "ok", "due_at": "2030-01-01", "recurrence_rule": "FREQ=DAILY;DTSTART=20300101"},
        422,
        ("DTSTART",),
    ),
    (
        {"title": "ok", "due_at": "2030-01-01", "recurrence_rule": "FREQ=DAILY;FREQ=WEEKLY"},
        422,
        ("twice",),
    ),
    (
        {"title": "ok", "due_at": "2030-01-01", "recurrence_rule": "FREQ=DAILY;;;garbage"},
        422,
        ("garbage",),
    ),
    ({"title": "ok", "recurrence_rule": "FREQ=DAILY"}, 422, ("due_at", "recurring")),
    (
        {"title": "ok", "due_at": "2030-01-01T09:00:00", "remind_at": "2030-01-01T10:00:00"},
        422,
        ("remind_at", "after"),
    ),
    ({"title": "ok", "remind_at": "2001-01-01T10:00:00Z"}, 422, ("remind_at", "past")),
    ({"title": "ok", "repeat_from": "whenever"}, 422, ("repeat_from",)),
    ({"title": "ok", "user_id": "00000000-0000-0000-0000-000000000000"}, 422, ("user_id",)),
    ([{"title": "a list"}], 422, ()),
    ("just a string", 422, ()),
]


@pytest.mark.parametrize(("body", "status", "mentions"), CREATE_CASES)
async def test_bad_create(
    alice: User, container: Container, body: Any, status: int, mentions: tuple[str, ...]
) -> None:
    await alice.add(title="existing", tags=["keep"])
    before = await snapshot(container)
    assert_problem(await alice.post("/api/tasks", json=body), status, *mentions)
    assert await snapshot(container) == before


@pytest.mark.parametrize(
    "raw", [b"{", b"{'title': 'x'}", b"\xff\xfe", b"", b"null", b'{"title": "x",}', b"[]" * 1000]
)
async def test_malformed_json(alice: User, container: Container, raw: bytes) -> None:
    before = await snapshot(container)
    response = await alice.post(
        "/api/tasks", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await snapshot(container) == before


UPDATE_CASES: list[tuple[Any, dict[str, str], int, tuple[str, ...]]] = [
    ({"title": None}, {}, 422, ("title",)),
    ({"title": ""}, {}, 422, ("title",)),
    ({"timezone": None}, {}, 422, ("timezone",)),
    ({"due_at": None}, {}, 422, ("due_at", "recurring")),  # the task below recurs
    ({"remind_at": "2030-01-02T09:00:00"}, {}, 422, ("remind_at", "after")),
    ({"recurrence_rule": "FREQ=YEARLY;BYMONTH=13"}, {}, 422, ("BYMONTH",)),
    ({"version": 7}, {}, 422, ("version",)),
    ({"title": "fine"}, {"If-Match": "yesterday"}, 422, ("If-Match",)),
    ({"title": "fine"}, {"If-Match": "99999999999999999999"}, 422, ("If-Match",)),
]


@pytest.mark.parametrize(("body", "headers", "status", "mentions"), UPDATE_CASES)
async def test_bad_update(
    alice: User,
    container: Container,
    body: Any,
    headers: dict[str, str],
    status: int,
    mentions: tuple[str, ...],
) -> None:
    task = await alice.add(
        title="recurring", due_at="2030-01-01T09:00:00", recurrence_rule="FREQ=DAILY"
    )
    before = await snapshot(container)
    response = await alice.patch(f"/api/tasks/{task['id']}", json=body, headers=headers)
    assert_problem(response, status, *mentions)
    assert await snapshot(container) == before


@pytest.mark.parametrize(
    ("params", "mentions"),
    [
        ({"page": 0}, ("page",)),
        ({"page": 10**30}, ("page",)),
        ({"page": "two"}, ("page",)),
        ({"limit": 0}, ("limit",)),
        ({"limit": 101}, ("limit",)),
        ({"status": "done"}, ("status",)),
        ({"priority": "urgent"}, ("priority",)),
        ({"sort_by": "colour"}, ("sort_by",)),
        ({"sort_order": "sideways"}, ("sort_order",)),
        ({"due_after": "next week"}, ("due_after",)),
        ({"due_before": "2030-13-01"}, ("due_before",)),
        ({"is_recurring": "maybe"}, ("is_recurring",)),
        ({"q": "x" * 201}, ("q",)),
    ],
)
async def test_bad_list_queries(
    alice: User, params: dict[str, Any], mentions: tuple[str, ...]
) -> None:
    assert_problem(await alice.get("/api/tasks", params=params), 422, *mentions)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/tasks/not-a-uuid"),
        ("PATCH", "/api/tasks/1"),
        ("DELETE", "/api/tasks/%00"),
        ("POST", "/api/tasks/' OR 1=1/complete"),
    ],
)
async def test_bad_ids(alice: User, method: str, path: str) -> None:
    response = await alice.request(method, path, json={})
    assert response.status_code in (404, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_bad_preview_and_occurrence_counts(alice: User) -> None:
    for body, mention in [
        (
            {"rule": "FREQ=DAILY", "start": "2030-01-01T09:00", "timezone": "Nowhere/City"},
            "timezone",
        ),
        ({"rule": "FREQ=DAILY", "start": "soon", "timezone": "UTC"}, "start"),
        (
            {"rule": "FREQ=DAILY", "start": "2030-01-01T09:00", "timezone": "UTC", "count": 1000},
            "count",
        ),
        ({"rule": "", "start": "2030-01-01T09:00", "timezone": "UTC"}, "empty"),
    ]:
        assert_problem(await alice.post("/api/recurrence/preview", json=body), 422, mention)
    task = await alice.add()
    assert_problem(
        await alice.get(f"/api/tasks/{task['id']}/occurrences", params={"count": 0}), 422, "count"
    )


async def test_unknown_route_and_method(alice: User) -> None:
    assert_problem(await alice.get("/api/nothing-here"), 404)
    assert_problem(await alice.request("PUT", "/api/tasks"), 405)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
task_like = st.fixed_dictionaries(
    {},
    optional={
        "title": json_values | st.text(max_size=600),
        "description": json_values,
        "priority": json_values | st.sampled_from(["none", "low", "medium", "high"]),
        "tags": json_values | st.lists(st.text(max_size=60), max_size=25),
        "due_at": json_values | st.datetimes().map(str) | st.dates().map(str),
        "remind_at": json_values | st.datetimes().map(str),
        "timezone": json_values | st.sampled_from(["UTC", "Europe/Berlin", "Asia/Kathmandu"]),
        "recurrence_rule": json_values
        | st.text(alphabet="FREQ=DAILYWEEKBYMONTHDAYCOUNT;0123-,", max_size=40),
        "repeat_from": json_values,
    },
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=task_like)
async def test_fuzzed_bodies_never_cause_a_server_error(alice: User, body: dict[str, Any]) -> None:
    created = await alice.post("/api/tasks", json=body)
    assert created.status_code in (201, 400, 422), created.text
    target = created.json()["id"] if created.status_code == 201 else None
    if target:
        updated = await alice.patch(f"/api/tasks/{target}", json=body)
        assert updated.status_code in (200, 400, 422), updated.text
