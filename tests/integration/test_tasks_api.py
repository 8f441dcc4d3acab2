"""The task routes (docs/reference.md, REST API), on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread
import pytest

from tests.conftest import MakeUser, User


async def test_create_returns_the_task_with_location_and_every_field(alice: User) -> None:
    response = await alice.post(
        "/api/tasks",
        json={
            "title": "  Pay rent ",
            "description": "landlord's account",
            "priority": "high",
            "tags": ["Home", "#bills", "home"],
            "due_at": "2030-01-01T09:00:00",
            "remind_at": "2030-01-01T08:30:00-05:00",
            "timezone": "America/New_York",
            "recurrence_rule": "freq=monthly;bymonthday=1",
        },
    )
    assert response.status_code == 201, response.text
    task = response.json()
    assert response.headers["location"] == f"/api/tasks/{task['id']}"
    assert response.headers["etag"] == '"1"'
    assert task["title"] == "Pay rent"
    assert task["tags"] == ["home", "bills"]
    assert task["due_at"] == "2030-01-01T09:00:00-05:00"
    assert task["remind_at"] == "2030-01-01T08:30:00-05:00"
    assert task["recurrence_rule"] == "FREQ=MONTHLY;BYMONTHDAY=1"
    assert task["is_recurring"] is True
    assert task["series_id"] == task["id"]
    assert task["status"] == "active"
    assert task["completed_at"] is None
    assert task["repeat_from"] == "due"
    assert task["version"] == 1
    fetched = await alice.get(f"/api/tasks/{task['id']}")
    assert fetched.json() == task


async def test_defaults_and_user_timezone(make_user: MakeUser) -> None:
    berlin = await make_user(timezone="Europe/Berlin")
    task = await berlin.add(title="Call mum", due_at="2030-07-01")
    assert task["timezone"] == "Europe/Berlin"
    assert task["due_at"] == "2030-07-01T23:59:00+02:00"
    assert task["priority"] == "none"
    assert task["tags"] == []
    assert task["description"] is None


async def test_patch_changes_only_what_is_sent_and_bumps_the_version(alice: User) -> None:
    task = await alice.add(title="Draft", description="keep me", priority="low")
    response = await alice.patch(f"/api/tasks/{task['id']}", json={"title": "Final"})
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "Final"
    assert body["description"] == "keep me"
    assert body["priority"] == "low"
    assert body["version"] == 2
    cleared = await alice.patch(f"/api/tasks/{task['id']}", json={"description": None})
    assert cleared.json()["description"] is None
    same = await alice.patch(f"/api/tasks/{task['id']}", json={"title": "Final"})
    assert same.json()["version"] == 3  # an update that changes nothing is not a new version


async def test_if_match_rejects_a_stale_version(alice: User) -> None:
    task = await alice.add()
    ok = await alice.patch(
        f"/api/tasks/{task['id']}", json={"title": "v2"}, headers={"If-Match": '"1"'}
    )
    assert ok.status_code == 200
    stale = await alice.patch(
        f"/api/tasks/{task['id']}", json={"title": "v3"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert "version 2" in stale.json()["detail"]
    assert (await alice.get(f"/api/tasks/{task['id']}")).json()["title"] == "v2"
    stale_delete = await alice.delete(f"/api/tasks/{task['id']}", headers={"If-Match": "1"})
    assert stale_delete.status_code == 412


async def test_complete_and_reopen(alice: User) -> None:
    task = await alice.add()
    done = (await alice.post(f"/api/tasks/{task['id']}/complete")).json()
    assert done["status"] == "completed"
    completed_at = datetime.fromisoformat(done["completed_at"])
    assert abs(completed_at - datetime.now(UTC)) < timedelta(minutes=1)
    again = (await alice.post(f"/api/tasks/{task['id']}/complete")).json()
    assert again["version"] == done["version"]  # completing twice changes nothing
    reopened = (await alice.post(f"/api/tasks/{task['id']}/reopen")).json()
    assert reopened["status"] == "active"
    assert reopened["completed_at"] is None


async def test_delete(alice: User) -> None:
    task = await alice.add()
    assert (await alice.delete(f"/api/tasks/{task['id']}")).status_code == 204
    assert (await alice.get(f"/api/tasks/{task['id']}")).status_code == 404
    assert (await alice.delete(f"/api/tasks/{task['id']}")).status_code == 404


async def test_occurrences_of_a_series(alice: User) -> None:
    task = await alice.add(
        title="Standup",
        due_at="2030-03-08T09:00:00",
        timezone="America/New_York",
        recurrence_rule="FREQ=WEEKLY;BYDAY=MO,WE,FR",
    )
    response = await alice.get(f"/api/tasks/{task['id']}/occurrences", params={"count": 4})
    assert response.json()["occurrences"] == [
        "2030-03-08T09:00:00-05:00",
        "2030-03-11T09:00:00-04:00",
        "2030-03-13T09:00:00-04:00",
        "2030-03-15T09:00:00-04:00",
    ]
    plain = await alice.add()
    assert (await alice.get(f"/api/tasks/{plain['id']}/occurrences")).json() == {"occurrences": []}


async def test_recurrence_preview(alice: User) -> None:
    response = await alice.post(
        "/api/recurrence/preview",
        json={
            "rule": "FREQ=MONTHLY;BYDAY=-1FR",
            "start": "2030-01-01T10:00:00",
            "timezone": "Europe/Berlin",
            "count": 3,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["occurrences"] == [
        "2030-01-25T10:00:00+01:00",
        "2030-02-22T10:00:00+01:00",
        "2030-03-29T10:00:00+01:00",
    ]
    bad = await alice.post(
        "/api/recurrence/preview",
        json={"rule": "FREQ=WEEKLY;BYDAY=XX", "start": "2030-01-01T10:00:00", "timezone": "UTC"},
    )
    assert bad.status_code == 422
    assert "BYDAY" in bad.json()["detail"]


async def test_task_requests_never_wait_for_a_worker_thread(
    make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A plain (not async) endpoint or dependency runs on a worker thread: a hand-off
    # and a wake-up per request, for nothing when it does no blocking work.
    handed_off: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def recorded(func: Any, *args: Any, **kwargs: Any) -> Any:
        handed_off.append(getattr(func, "__qualname__", repr(func)))
        return await run_sync(func, *args, **kwargs)

    user = await make_user()
    monkeypatch.setattr(anyio.to_thread, "run_sync", recorded)
    task = await user.add(title="Pay rent", priority="high")
    url = f"/api/tasks/{task['id']}"
    version = {"If-Match": str(task["version"])}
    changed = await user.patch(url, json={"title": "Pay the rent"}, headers=version)
    assert changed.status_code == 200, changed.text
    done = await user.post(f"{url}/complete", headers={"If-Match": str(changed.json()["version"])})
    assert done.status_code == 200, done.text
    assert (await user.get("/api/tasks", params={"q": "rent"})).status_code == 200
    assert (await user.get(url)).status_code == 200
    assert (await user.delete(url)).status_code == 204

    assert handed_off == []
