"""The calendar feed: RFC 5545 that the icalendar library reads, series that
recurring-ical-events expands to exactly our occurrences across DST changes,
ETag/304, and a secret that rotates and revokes."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from icalendar import Calendar

from services.bootstrap import Container
from tests.conftest import MakeUser, User
from tests.integration.portability.conftest import expand, feed_url, fetch_feed, instants

SERIES = [
    # New York: spring forward 2026-03-08, fall back 2026-11-01.
    ("America/New_York", "2026-03-05T09:00:00", "FREQ=DAILY"),
    ("America/New_York", "2026-03-06T02:30:00", "FREQ=DAILY;COUNT=6"),  # 02:30 missing on 03-08
    ("America/New_York", "2026-10-25T01:30:00", "FREQ=WEEKLY;BYDAY=SU"),  # 01:30 twice on 11-01
    ("America/New_York", "2026-01-31T18:00:00", "FREQ=MONTHLY;BYMONTHDAY=-1;UNTIL=20261231"),
    # Berlin: spring forward 2026-03-29, fall back 2026-10-25.
    ("Europe/Berlin", "2026-03-26T02:30:00", "FREQ=DAILY;INTERVAL=2"),
    ("Europe/Berlin", "2026-03-29T02:15:00", "FREQ=MONTHLY;BYDAY=-1SU"),  # 02:15 missing
    # Due on a day the rule does not name (a Sunday, not the last one).
    ("Europe/Berlin", "2026-03-01T02:15:00", "FREQ=MONTHLY;BYDAY=-1SU;COUNT=4"),
    ("Europe/Berlin", "2026-10-20T08:00:00", "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=8"),
]


def vtodo(calendar: Calendar, uid: str) -> Any:
    [found] = [c for c in calendar.walk("VTODO") if c["UID"] == uid and "RECURRENCE-ID" not in c]
    return found


async def occurrences(user: User, task_id: str, count: int) -> list[datetime]:
    response = await user.get(f"/api/tasks/{task_id}/occurrences", params={"count": count})
    assert response.status_code == 200, response.text
    return instants(response.json()["occurrences"])


@pytest.mark.parametrize("kind", ["VTODO", "VEVENT"])
async def test_series_expand_to_our_occurrences_across_dst(
    make_user: MakeUser, client: httpx.AsyncClient, kind: str
) -> None:
    user = await make_user(timezone="Europe/Berlin")
    created = []
    for timezone, due, rule in SERIES:
        task = await user.add(title=rule, due_at=due, timezone=timezone, recurrence_rule=rule)
        created.append(task)
    url = await feed_url(user)
    calendar = await fetch_feed(client, url, **({"kind": "event"} if kind == "VEVENT" else {}))
    assert {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")} == {
        "America/New_York",
        "Europe/Berlin",
    }
    for task in created:
        ours = await occurrences(user, str(task["id"]), 12)
        first = datetime.fromisoformat(str(task["due_at"]))
        theirs = expand(calendar, kind, first, 12, uid=f"{task['series_id']}@todo-app")
        if ours[0] != first:
            # The task itself is due then, so the feed has it too (an RDATE);
            # the endpoint lists the rule's occurrences only.
            ours = [first.astimezone(UTC), *ours][:12]
        assert instants(theirs) == ours, task["recurrence_rule"]
        # Wall-clock times stay in the task's zone, written with its TZID.
        assert all(str(t.tzinfo) == task["timezone"] for t in theirs)


async def test_a_series_after_completions_and_a_skip_still_matches(
    started: Container, make_user: MakeUser, client: httpx.AsyncClient
) -> None:
    user = await make_user(timezone="America/New_York")
    first = await user.add(
        title="Stretch",
        due_at="2027-03-12T09:00:00",  # clocks go forward on 2027-03-14
        recurrence_rule="FREQ=DAILY;UNTIL=20270321",
        tags=["health"],
    )
    # Done on time once, then the next one is skipped.
    await user.post(f"/api/tasks/{first['id']}/complete")
    head: dict[str, Any] = {}

    async def current() -> bool:
        page = (await user.get("/api/tasks", params={"status": "active"})).json()
        head.update(page["items"][0] if page["items"] else {})
        return bool(page["items"])

    for _ in range(300):
        if await current():
            break
        await asyncio.sleep(0.05)
    assert head["due_at"] == "2027-03-13T09:00:00-05:00"
    skipped = await user.post(f"/api/tasks/{head['id']}/skip")
    assert skipped.status_code == 200, skipped.text
    assert skipped.json()["due_at"] == "2027-03-14T09:00:00-04:00"

    calendar = await fetch_feed(client, await feed_url(user))
    uid = f"{first['series_id']}@todo-app"
    master = vtodo(calendar, uid)
    # DTSTART is the series' start (COUNT would count from there); UNTIL, a
    # date here, is the end of that day in New York, said in UTC beside a TZID.
    assert master["DTSTART"].dt == datetime.fromisoformat("2027-03-12T09:00:00-05:00")
    assert master["RRULE"].to_ical().decode() == "FREQ=DAILY;UNTIL=20270322T035959Z"
    done = [c for c in calendar.walk("VTODO") if "RECURRENCE-ID" in c]
    assert [(str(c["STATUS"]), c["RECURRENCE-ID"].dt.day) for c in done] == [("COMPLETED", 12)]
    assert [d.dt.day for e in [master["EXDATE"]] for d in e.dts] == [13]

    all_of_them = expand(calendar, "VTODO", datetime(2027, 3, 1, tzinfo=UTC), 20, uid=uid)
    assert [t.day for t in all_of_them] == [12, 14, 15, 16, 17, 18, 19, 20, 21]
    ours = await occurrences(user, str(head["id"]), 20)
    theirs = expand(
        calendar, "VTODO", datetime.fromisoformat(skipped.json()["due_at"]), 20, uid=uid
    )
    assert instants(theirs) == ours


async def test_feed_properties(make_user: MakeUser, client: httpx.AsyncClient) -> None:
    user = await make_user(timezone="Europe/Berlin")
    soon = datetime.now(UTC) + timedelta(days=3)
    due = soon.replace(microsecond=0)
    task = await user.add(
        title="Renew passport",
        description="bring photos",
        due_at=due.isoformat(),
        remind_at=(due - timedelta(minutes=30)).isoformat(),
        priority="high",
        tags=["admin", "travel"],
    )
    medium = await user.add(title="Medium", due_at="2026-05-01", priority="medium")
    low = await user.add(title="Low", due_at="2026-05-02", priority="low", timezone="UTC")
    done = await user.add(title="Done", due_at="2026-05-03")
    await user.post(f"/api/tasks/{done['id']}/complete")
    await user.patch(f"/api/tasks/{task['id']}", json={"title": "Renew the passport"})
    await user.add(title="No date")

    calendar = await fetch_feed(client, await feed_url(user))
    assert str(calendar["PRODID"]).startswith("-//todo-app//")
    assert [str(c["SUMMARY"]) for c in calendar.walk("VTODO")] == [
        "Renew the passport",
        "Medium",
        "Low",
        "Done",
    ]
    main = vtodo(calendar, f"{task['id']}@todo-app")
    assert main["DUE"].dt == due.astimezone(main["DUE"].dt.tzinfo)
    assert main["DUE"].params["TZID"] == "Europe/Berlin"
    assert main["PRIORITY"] == 1
    assert [str(c) for c in main["CATEGORIES"].cats] == ["admin", "travel"]
    assert main["SEQUENCE"] == 2  # version 2 after the edit
    assert str(main["STATUS"]) == "NEEDS-ACTION"
    assert str(main["DESCRIPTION"]) == "bring photos"
    [alarm] = main.walk("VALARM")
    assert alarm["TRIGGER"].dt == timedelta(minutes=-30)
    assert alarm["TRIGGER"].params["RELATED"] == "END"
    assert vtodo(calendar, f"{medium['id']}@todo-app")["PRIORITY"] == 5
    low_todo = vtodo(calendar, f"{low['id']}@todo-app")
    assert low_todo["PRIORITY"] == 9
    assert low_todo["DUE"].to_ical().endswith(b"Z")  # UTC needs no VTIMEZONE
    finished = vtodo(calendar, f"{done['id']}@todo-app")
    assert str(finished["STATUS"]) == "COMPLETED"
    assert finished["COMPLETED"].dt.tzinfo is not None
    assert not finished.walk("VALARM")

    events = await fetch_feed(client, await feed_url(user), kind="event")
    assert len(events.walk("VEVENT")) == 4
    assert not events.walk("VTODO")
    event = next(e for e in events.walk("VEVENT") if e["UID"] == main["UID"])
    [event_alarm] = event.walk("VALARM")
    assert event_alarm["TRIGGER"].dt == timedelta(minutes=-30)


async def test_etag_and_if_none_match(make_user: MakeUser, client: httpx.AsyncClient) -> None:
    user = await make_user()
    task = await user.add(title="Call the bank", due_at="2026-06-01T10:00:00")
    url = await feed_url(user)
    first = await client.get(url)
    etag = first.headers["etag"]
    assert first.status_code == 200
    again = await client.get(url)
    assert again.headers["etag"] == etag
    assert again.content == first.content
    unchanged = await client.get(url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    assert (await client.get(url, headers={"If-None-Match": f'"x", W/{etag}'})).status_code == 304
    events_url = httpx.URL(url).copy_merge_params({"kind": "event"})
    other_kind = await client.get(events_url, headers={"If-None-Match": etag})
    assert other_kind.status_code == 200
    await user.patch(f"/api/tasks/{task['id']}", json={"priority": "high"})
    changed = await client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


async def test_the_secret_rotates_and_revokes(
    make_user: MakeUser, client: httpx.AsyncClient
) -> None:
    user = await make_user()
    await user.add(title="Dated", due_at="2026-06-01")
    created = await user.post("/api/calendar/token")
    body = created.json()
    assert body["url"].startswith("http://test/api/calendar.ics?token=todo_cal_")
    assert body["event_url"] == body["url"] + "&kind=event"
    assert (await client.get(body["url"])).status_code == 200
    # The feed is read with its secret alone; a bearer token is not one.
    bearer = await client.get("/api/calendar.ics", params={"token": user.token})
    assert bearer.status_code == 404
    assert bearer.headers["content-type"] == "application/problem+json"

    rotated = (await user.post("/api/calendar/token")).json()
    assert rotated["token"] != body["token"]
    assert (await client.get(body["url"])).status_code == 404
    assert (await client.get(rotated["url"])).status_code == 200

    assert (await user.delete("/api/calendar/token")).status_code == 204
    gone = await client.get(rotated["url"])
    assert gone.status_code == 404
    assert gone.json()["title"] == "Not found"
    assert (await user.delete("/api/calendar/token")).status_code == 404
    assert (await client.post("/api/calendar/token")).status_code == 401
    assert (await client.get("/api/calendar.ics")).status_code == 422
