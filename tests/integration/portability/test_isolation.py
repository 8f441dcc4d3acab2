"""Another user's feed secret, tasks and ids never leak through the feed,
the export or the import."""

import json
import uuid

import httpx

from tests.conftest import MakeUser
from tests.integration.portability.conftest import feed_url, fetch_feed, import_file


async def test_feeds_exports_and_imports_are_per_user(
    make_user: MakeUser, client: httpx.AsyncClient
) -> None:
    alice, bob = await make_user(), await make_user()
    secret = await alice.add(
        title="Alice's surprise party",
        due_at="2027-05-01T18:00:00",
        recurrence_rule="FREQ=YEARLY",
        tags=["private"],
    )
    await bob.add(title="Bob's own", due_at="2027-05-02")
    alice_url, bob_url = await feed_url(alice), await feed_url(bob)

    bob_feed = (await client.get(bob_url)).text
    assert "Bob's own" in bob_feed
    assert "surprise" not in bob_feed
    assert str(secret["id"]) not in bob_feed
    alice_feed = await fetch_feed(client, alice_url)
    assert [str(c["SUMMARY"]) for c in alice_feed.walk("VTODO")] == ["Alice's surprise party"]

    # Bob's calls touch Bob's secret only.
    assert (await bob.delete("/api/calendar/token")).status_code == 204
    assert (await client.get(alice_url)).status_code == 200
    assert (await client.get(bob_url)).status_code == 404
    await bob.post("/api/calendar/token")
    assert (await client.get(alice_url)).status_code == 200

    exported = (await bob.get("/api/export")).text
    assert "surprise" not in exported
    assert str(secret["id"]) not in exported
    assert alice.email not in exported
    assert alice.id not in exported

    # Importing Alice's ids and UIDs tells Bob nothing: they are new to him,
    # exactly like ids nobody has.
    document = json.loads((await alice.get("/api/export")).text)
    stranger = json.loads(json.dumps(document))
    for task in stranger["tasks"]:
        task["id"] = task["series_id"] = str(uuid.uuid4())
    answers = []
    for doc in (document, stranger):
        body = json.dumps(doc).encode()
        response = await import_file(bob, body, media_type="application/json", dry_run="true")
        assert response.status_code == 200, response.text
        answers.append([(i["outcome"], i["note"]) for i in response.json()["items"]])
    assert answers[0] == answers[1] == [("would_create", None)]
    ical = (await client.get(alice_url)).content
    report = (await import_file(bob, ical, media_type="text/calendar")).json()
    assert [i["outcome"] for i in report["items"]] == ["created"]
    mine = (await bob.get("/api/tasks", params={"q": "surprise"})).json()["items"]
    assert [t["id"] for t in mine] != [secret["id"]]
    assert (await alice.get(f"/api/tasks/{secret['id']}")).json() == secret
