"""Export and import: the JSON document round-trips into a new account, CSV
and iCalendar files import, duplicates are recognised, a dry run changes
nothing, and every created task has its `task.created` event."""

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.bootstrap import Container
from tests.conftest import MakeUser, User
from tests.integration.portability.conftest import feed_url, import_file, outbox_events

COMPARED = (
    "title",
    "description",
    "status",
    "completed_at",
    "priority",
    "tags",
    "due_at",
    "remind_at",
    "timezone",
    "recurrence_rule",
    "repeat_from",
    "is_recurring",
)


async def all_tasks(user: User) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        body = (
            await user.get(
                "/api/tasks", params={"page": page, "limit": 100, "sort_by": "created_at"}
            )
        ).json()
        found.extend(body["items"])
        if page >= body["pages"]:
            return sorted(found, key=lambda t: (t["title"], t["due_at"] or ""))
        page += 1


def comparable(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: t[k] for k in COMPARED} for t in tasks]


async def varied_tasks(user: User) -> None:
    """One of each kind, and a series with a completed occurrence."""
    ahead = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0)
    await user.add(
        title="Renew passport",
        description="photos, old passport\nand the form",
        due_at=ahead.isoformat(),
        remind_at=(ahead - timedelta(hours=2)).isoformat(),
        priority="high",
        tags=["admin", "travel"],
    )
    await user.add(title="Someday: learn the cello", tags=["music"])
    done = await user.add(title="File taxes", due_at="2026-04-15", timezone="America/New_York")
    await user.post(f"/api/tasks/{done['id']}/complete")
    await user.add(
        title="Water the ferns",
        due_at="2027-01-04T08:00:00",
        timezone="Europe/Berlin",
        recurrence_rule="FREQ=DAILY;INTERVAL=3",
        repeat_from="completion",
    )
    series = await user.add(
        title="Team sync",
        due_at="2027-03-08T10:00:00",
        timezone="America/New_York",
        recurrence_rule="FREQ=WEEKLY;BYDAY=MO;COUNT=12",
        remind_at="2027-03-08T09:45:00",
        priority="medium",
    )
    await user.post(f"/api/tasks/{series['id']}/complete")
    for _ in range(300):
        active = (await user.get("/api/tasks", params={"q": "sync", "status": "active"})).json()
        if active["items"]:
            break
        await asyncio.sleep(0.05)
    [following] = active["items"]
    await user.post(f"/api/tasks/{following['id']}/skip")


async def test_export_round_trips_into_a_new_account(
    started: Container, make_user: MakeUser
) -> None:
    alice = await make_user(timezone="Europe/Berlin")
    await varied_tasks(alice)
    for _ in range(300):  # the audit service records the changes as they come
        exported = await alice.get("/api/export")
        assert exported.status_code == 200
        if len(exported.json()["audit"]) >= 7:
            break
        await asyncio.sleep(0.05)
    assert exported.headers["content-disposition"].startswith("attachment")
    document = exported.json()
    assert document["schema_version"] == 1
    assert document["user"]["email"] == alice.email
    assert document["conversations"] == []
    assert isinstance(document["notifications"], list)
    assert {"task.created", "task.completed"} <= {e["event_type"] for e in document["audit"]}
    assert {e["actor_id"] for e in document["audit"]} == {alice.id}
    series_rows = [t for t in document["tasks"] if t["title"] == "Team sync"]
    assert [r["series"]["sequence"] for r in series_rows] == [1, 3]
    assert series_rows[1]["series"]["exdates"] == ["2027-03-15T14:00:00Z"]

    bob = await make_user(timezone="Asia/Tokyo")
    response = await import_file(bob, exported.content, media_type="application/json")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["format"], report["created"], report["duplicates"]) == ("json", 6, 0)
    assert report["notes"]  # the history parts of the document are not imported
    mine, theirs = await all_tasks(alice), await all_tasks(bob)
    assert comparable(theirs) == comparable(mine)
    assert {t["id"] for t in theirs}.isdisjoint({t["id"] for t in mine})

    # The series is one series again, at the same place in it.
    copied = [t for t in document["tasks"] if t["title"] == "Team sync"]
    again = (await bob.get("/api/export")).json()
    rows = [t for t in again["tasks"] if t["title"] == "Team sync"]
    assert len({r["series_id"] for r in rows}) == 1
    assert [r["series"] for r in rows] == [c["series"] for c in copied]
    bob_feed = (await bob.client.get(await feed_url(bob))).text
    alice_feed = (await alice.client.get(await feed_url(alice))).text
    assert bob_feed.count("RECURRENCE-ID") == alice_feed.count("RECURRENCE-ID") == 1

    def schedule(feed: str) -> list[str]:
        heads = ("DTSTART", "DUE", "RRULE", "EXDATE", "RECURRENCE-ID", "STATUS", "TRIGGER")
        return sorted(line for line in feed.splitlines() if line.startswith(heads))

    assert schedule(bob_feed) == schedule(alice_feed)

    # The same file again: everything is recognised, nothing doubles.
    twice = await import_file(bob, exported.content, media_type="application/json")
    assert (twice.json()["created"], twice.json()["duplicates"]) == (0, 6)
    assert len(await all_tasks(bob)) == 6


async def test_created_tasks_are_announced_like_any_other(
    container: Container, make_user: MakeUser
) -> None:
    user = await make_user()
    soon = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    text = f"title,due,remind_at\nPay rent,2027-01-01,\nCall mom,{soon},{soon}\n"
    before = len(await outbox_events(container, user.id))
    response = await import_file(user, text, media_type="text/csv")
    assert response.status_code == 200, response.text
    events = (await outbox_events(container, user.id))[before:]
    assert [e["type"] for e in events] == ["task.created", "task.created", "reminder.scheduled"]
    assert [e["data"]["task"]["title"] for e in events[:2]] == ["Pay rent", "Call mom"]
    assert all(e["data"]["imported"] is True for e in events[:2])
    ids = {item["task_id"] for item in response.json()["items"]}
    assert {e["subject"] for e in events} == ids


async def test_csv_export_and_import(make_user: MakeUser) -> None:
    user = await make_user(timezone="America/New_York")
    text = (
        "Title,Description,Due,Priority,Tags\n"
        "Buy milk,,2027-01-05,low,errands\n"
        '"Plan trip","Flights, hotel",2027-02-01T18:30:00,HIGH,"travel, family"\n'
        "Read,,,,\n"
        ",,,,\n"
    )
    response = await import_file(user, text, filename="tasks.csv", media_type="text/csv")
    assert response.status_code == 200, response.text
    report = response.json()
    assert [(i["row"], i["title"], i["outcome"]) for i in report["items"]] == [
        (2, "Buy milk", "created"),
        (3, "Plan trip", "created"),
        (4, "Read", "created"),
    ]
    tasks = {t["title"]: t for t in await all_tasks(user)}
    assert tasks["Buy milk"]["due_at"] == "2027-01-05T23:59:00-05:00"
    assert tasks["Plan trip"]["due_at"] == "2027-02-01T18:30:00-05:00"
    assert tasks["Plan trip"]["tags"] == ["travel", "family"]
    assert tasks["Plan trip"]["priority"] == "high"
    assert tasks["Plan trip"]["description"] == "Flights, hotel"
    await user.post(f"/api/tasks/{tasks['Read']['id']}/complete")

    exported = await user.get("/api/export", params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert list(rows[0]) == [
        "id",
        "title",
        "description",
        "status",
        "priority",
        "tags",
        "due_at",
        "remind_at",
        "timezone",
        "recurrence_rule",
        "repeat_from",
        "completed_at",
    ]
    assert {r["title"]: r["tags"] for r in rows}["Plan trip"] == "travel,family"
    # Our own CSV comes back whole into another account.
    other = await user_like(user, timezone="Europe/Berlin")
    back = await import_file(other, exported.text, media_type="text/csv")
    assert back.status_code == 200, back.text
    assert comparable(await all_tasks(other)) == comparable(await all_tasks(user))


async def user_like(user: User, *, timezone: str) -> User:
    from tests.conftest import User as Made

    email = f"copy-{datetime.now(UTC).timestamp():.0f}-{id(user)}@example.com"
    password = "correct horse battery"
    client: httpx.AsyncClient = user.client
    registered = await client.post(
        "/api/auth/register", json={"email": email, "password": password, "timezone": timezone}
    )
    login = await client.post("/api/auth/login", json={"email": email, "password": password})
    return Made(registered.json()["id"], email, login.json()["access_token"], client)


FOREIGN = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN\r
BEGIN:VTODO\r
UID:b2c1a7e4-thunderbird-1\r
SUMMARY:Dentist\r
DESCRIPTION:Bring the insurance card\r
DTSTART;TZID=Europe/Berlin:20270310T093000\r
DUE;TZID=Europe/Berlin:20270310T100000\r
PRIORITY:3\r
CATEGORIES:Health,Appointments\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
TRIGGER;VALUE=DURATION:-PT15M\r
END:VALARM\r
END:VTODO\r
BEGIN:VTODO\r
UID:weekly-review@example.org\r
SUMMARY:Weekly review\r
DUE;TZID=America/New_York:20270301T170000\r
RRULE:FREQ=WEEKLY;BYDAY=MO\r
EXDATE;TZID=America/New_York:20270315T170000\r
CATEGORIES:Work Stuff\r
END:VTODO\r
BEGIN:VTODO\r
UID:weekly-review@example.org\r
RECURRENCE-ID;TZID=America/New_York:20270301T170000\r
SUMMARY:Weekly review\r
STATUS:COMPLETED\r
COMPLETED:20270301T220000Z\r
END:VTODO\r
BEGIN:VTODO\r
UID:done-1@example.org\r
SUMMARY:Return library books\r
DUE;VALUE=DATE:20261101\r
STATUS:COMPLETED\r
COMPLETED:20261030T120000Z\r
END:VTODO\r
BEGIN:VTODO\r
UID:cancelled-1@example.org\r
SUMMARY:Old plan\r
STATUS:CANCELLED\r
END:VTODO\r
BEGIN:VTODO\r
UID:undated@example.org\r
SUMMARY:Someday\r
PRIORITY:7\r
END:VTODO\r
BEGIN:VEVENT\r
UID:event-1@example.org\r
SUMMARY:A meeting, not a task\r
DTSTART:20270101T100000Z\r
END:VEVENT\r
END:VCALENDAR\r
"""


async def test_icalendar_import(make_user: MakeUser, client: httpx.AsyncClient) -> None:
    user = await make_user(timezone="Asia/Tokyo")
    response = await import_file(user, FOREIGN, filename="tasks.ics", media_type="text/calendar")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["format"] == "ics"
    assert (report["created"], report["skipped"], report["duplicates"]) == (4, 1, 0)
    assert report["notes"] == ["1 VEVENT(s) left out: only VTODOs are tasks"]
    tasks = {t["title"]: t for t in await all_tasks(user)}
    dentist = tasks["Dentist"]
    assert (dentist["due_at"], dentist["timezone"]) == (
        "2027-03-10T10:00:00+01:00",
        "Europe/Berlin",
    )
    assert dentist["remind_at"] == "2027-03-10T09:15:00+01:00"  # 15 min before DTSTART
    assert (dentist["priority"], dentist["tags"]) == ("high", ["health", "appointments"])
    assert dentist["description"] == "Bring the insurance card"
    review = tasks["Weekly review"]
    # 03-01 is done, so the task is at the next one; 03-15 stays skipped.
    assert review["due_at"] == "2027-03-08T17:00:00-05:00"
    assert review["recurrence_rule"] == "FREQ=WEEKLY;BYDAY=MO"
    assert review["tags"] == ["work-stuff"]
    upcoming = (await user.get(f"/api/tasks/{review['id']}/occurrences?count=3")).json()
    assert upcoming["occurrences"] == [
        "2027-03-08T17:00:00-05:00",
        "2027-03-22T17:00:00-04:00",
        "2027-03-29T17:00:00-04:00",
    ]
    books = tasks["Return library books"]
    assert (books["status"], books["due_at"]) == ("completed", "2026-11-01T23:59:00+09:00")
    assert books["completed_at"] == "2026-10-30T21:00:00+09:00"
    assert tasks["Someday"]["priority"] == "low"
    assert "Old plan" not in tasks

    # Importing it again recognises every task by title and due time.
    again = (await import_file(user, FOREIGN, media_type="text/calendar")).json()
    assert (again["created"], again["duplicates"], again["skipped"]) == (0, 4, 1)

    # Our own feed, imported into its own account: every UID is one of ours.
    feed = (await client.get(await feed_url(user))).content
    own = (await import_file(user, feed, media_type="text/calendar")).json()
    assert own["created"] == 0
    assert {i["note"] for i in own["items"]} == {"skipped: the same id as a task you have"}


async def test_a_dry_run_changes_nothing(container: Container, make_user: MakeUser) -> None:
    user = await make_user()
    await user.add(title="Existing", due_at="2027-01-01")
    before_tasks = await all_tasks(user)
    before_events = await outbox_events(container, user.id)
    text = "title,due\nExisting,2027-01-01\nNew one,2027-02-02\n"
    response = await import_file(user, text, media_type="text/csv", dry_run="true")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["dry_run"] is True
    assert [(i["outcome"], i["task_id"] is None) for i in report["items"]] == [
        ("duplicate", False),
        ("would_create", True),
    ]
    assert report["created"] == 1
    assert await all_tasks(user) == before_tasks
    assert await outbox_events(container, user.id) == before_events
    real = (await import_file(user, text, media_type="text/csv")).json()
    assert [i["outcome"] for i in real["items"]] == ["duplicate", "created"]


async def test_the_routes_are_described(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    upload = paths["/api/import"]["post"]["requestBody"]["content"]
    assert set(upload) == {"multipart/form-data", "application/json", "text/csv", "text/calendar"}
    assert {"413", "422"} <= set(paths["/api/import"]["post"]["responses"])
    assert "text/calendar" in paths["/api/calendar.ics"]["get"]["responses"]["200"]["content"]
    assert set(paths["/api/calendar/token"]) == {"post", "delete"}
    assert "/api/export" in paths
