"""Importing creates tasks the way the API does: the same `task.created`
event, and every imported task counted in `todo_tasks_created_total`."""

from typing import Any

from services.bootstrap import Container
from services.shared.metrics import PRODUCT_METRICS
from tests.conftest import MakeUser
from tests.integration.portability.conftest import import_file, outbox_events


def created_total() -> float:
    return PRODUCT_METRICS.get_sample_value("todo_tasks_created_total") or 0.0


def shape(event: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """The names an event carries: envelope, data, and the task in it."""
    return set(event), set(event["data"]), set(event["data"]["task"])


async def test_importing_n_tasks_counts_n_and_announces_them_like_the_api(
    container: Container, make_user: MakeUser
) -> None:
    user = await make_user()
    response = await user.post("/api/tasks", json={"title": "Made through the API"})
    assert response.status_code == 201, response.text
    by_api = (await outbox_events(container, user.id))[-1]
    assert by_api["type"] == "task.created"

    before, seen = created_total(), len(await outbox_events(container, user.id))
    text = "title,due\nPay rent,2027-01-01\nCall mom,\nBuy stamps,2027-02-03\n"
    response = await import_file(user, text, media_type="text/csv")
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 3

    assert created_total() - before == 3
    imported = (await outbox_events(container, user.id))[seen:]
    assert [e["type"] for e in imported] == ["task.created"] * 3
    envelope, data, task = shape(by_api)
    for event in imported:
        assert event["data"]["imported"] is True
        assert shape(event) == (envelope, data | {"imported"}, task)
        assert event["source"] == by_api["source"]


async def test_a_dry_run_counts_nothing(container: Container, make_user: MakeUser) -> None:
    user = await make_user()
    before, seen = created_total(), len(await outbox_events(container, user.id))
    response = await import_file(user, "title\nOne\nTwo\n", media_type="text/csv", dry_run="true")
    assert response.status_code == 200, response.text
    assert created_total() == before
    assert len(await outbox_events(container, user.id)) == seen
