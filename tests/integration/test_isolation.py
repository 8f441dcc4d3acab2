"""A user never sees, changes, counts or learns of another user's tasks."""

import uuid

from tests.conftest import MakeUser


async def test_no_route_reveals_another_users_task(make_user: MakeUser) -> None:
    alice, bob = await make_user(), await make_user()
    secret = await alice.add(
        title="Alice's surprise party",
        tags=["private"],
        priority="high",
        due_at="2030-05-01",
        recurrence_rule="FREQ=YEARLY",
    )
    url = f"/api/tasks/{secret['id']}"
    missing = f"/api/tasks/{uuid.uuid4()}"
    for method, path, body in [
        ("GET", url, None),
        ("PATCH", url, {"title": "mine now"}),
        ("DELETE", url, None),
        ("POST", f"{url}/complete", None),
        ("POST", f"{url}/reopen", None),
        ("GET", f"{url}/occurrences", None),
    ]:
        theirs = await bob.request(method, path, json=body)
        nobody = await bob.request(method, path.replace(url, missing), json=body)
        assert theirs.status_code == 404, (method, path)
        # The answer for someone else's task is the answer for no task at all.
        assert theirs.text.replace(str(secret["id"]), "ID") == nobody.text.replace(
            missing.rsplit("/", 1)[1], "ID"
        )
        stale = await bob.request(method, path, json=body, headers={"If-Match": '"999"'})
        assert stale.status_code == 404
    after = (await alice.get(url)).json()
    assert after == secret


async def test_lists_search_filters_and_totals_are_per_user(make_user: MakeUser) -> None:
    alice, bob = await make_user(), await make_user()
    for n in range(7):
        await alice.add(
            title=f"alice groceries {n}", tags=["shared-tag"], priority="high", due_at="2030-01-01"
        )
    await bob.add(title="bob groceries", tags=["shared-tag"], priority="high", due_at="2030-01-01")
    for params in [
        {},
        {"q": "groceries"},
        {"tags": "shared-tag"},
        {"priority": "high"},
        {"due_after": "2030-01-01", "due_before": "2030-01-01"},
        {"status": "active", "limit": 1, "page": 2},
        {"sort_by": "title"},
    ]:
        page = (await bob.get("/api/tasks", params=params)).json()
        assert page["total"] <= 1, params
        assert all(t["title"] == "bob groceries" for t in page["items"]), params
        alices = (await alice.get("/api/tasks", params=params)).json()
        assert alices["total"] == 7, params
        assert all(t["title"].startswith("alice") for t in alices["items"]), params
