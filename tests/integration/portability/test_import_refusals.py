"""A file that cannot be imported whole is refused whole: 422 with a report
naming each record and field (or 413 when it is too large), and nothing is
created, no event written."""

import json
import os
from typing import Any

import httpx
import pytest

from services.bootstrap import Container
from tests.conftest import User
from tests.integration.portability.conftest import import_file, outbox_events


async def unchanged(container: Container, user: User, response: httpx.Response) -> dict[str, Any]:
    """The refusal is problem+json, and the account is as it was."""
    assert response.headers["content-type"] == "application/problem+json", response.text
    assert (await user.get("/api/tasks")).json()["total"] == 1
    assert [e["type"] for e in await outbox_events(container, user.id)] == ["task.created"]
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def user(alice: User) -> User:
    await alice.add(title="Already here")
    return alice


async def test_bad_dates_are_reported_by_row_and_column(container: Container, user: User) -> None:
    text = (
        "title,due,priority\n"
        "Fine,2027-01-01,low\n"
        "Bad month,2027-13-01,low\n"
        "Fine too,2027-01-02,\n"
        "Bad priority,2027-01-03,urgent\n"
        "Not a date,next tuesday,\n"
        ",2027-01-04,\n"
    )
    response = await import_file(user, text, media_type="text/csv")
    assert response.status_code == 422
    body = await unchanged(container, user, response)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [
        (3, "due"),
        (5, "priority"),
        (6, "due"),
        (7, "title"),
    ]
    assert "'2027-13-01' is not a date" in body["errors"][0]["message"]
    assert body["title"] == "Import refused"
    report = body["report"]
    assert report["created"] == 2  # what would have been, had every row been fine
    assert {i["outcome"] for i in report["items"]} == {"would_create"}


async def test_unknown_columns_are_named(container: Container, user: User) -> None:
    text = "title,due,colour,Prio\nPaint,2027-01-01,red,high\n"
    response = await import_file(user, text, media_type="text/csv")
    assert response.status_code == 422
    body = await unchanged(container, user, response)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(1, "colour"), (1, "prio")]
    assert "unknown column 'colour'" in body["errors"][0]["message"]
    assert "title, description" in body["errors"][0]["message"]


async def test_a_huge_file_is_refused_before_it_is_read(container: Container, user: User) -> None:
    row = "A task with a long enough title to fill the file quickly,2027-01-01\n"
    huge = "title,due\n" + row * (5 * 1024 * 1024 // len(row) + 10)
    for response in (
        await import_file(user, huge, media_type="text/csv"),
        await import_file(user, huge, filename="huge.csv", media_type="text/csv"),
    ):
        assert response.status_code == 413
        body = await unchanged(container, user, response)
        assert "5 MB" in body["detail"]


async def test_too_many_rows_are_refused(container: Container, user: User) -> None:
    many = "title\n" + "".join(f"t{i}\n" for i in range(10_001))
    response = await import_file(user, many, media_type="text/csv")
    assert response.status_code == 413
    body = await unchanged(container, user, response)
    assert "10,000" in body["detail"]


@pytest.mark.parametrize(
    "junk",
    [
        b"\x89PNG\r\n\x1a\n" + os.urandom(2000),
        os.urandom(4096),
        b"\xff\xfe" + "title\nnot utf-8\n".encode("utf-16-le"),
    ],
)
async def test_binary_junk_is_refused(container: Container, user: User, junk: bytes) -> None:
    for response in (
        await import_file(user, junk),
        await import_file(user, junk, filename="tasks.csv"),
    ):
        assert response.status_code == 422
        body = await unchanged(container, user, response)
        assert body["errors"] == [
            {
                "row": None,
                "field": "file",
                "message": "is not a text file: send JSON, CSV or iCalendar in UTF-8",
            }
        ]


@pytest.mark.parametrize(
    ("content", "field", "row"),
    [
        ('{"schema_version": 1, "tasks": [', "file", None),
        ('{"schema_version": 7, "tasks": []}', "schema_version", None),
        ('["just", "a", "list"]', "file", None),
        (
            '{"schema_version": 1, "tasks": [{"title": "ok"}, {"title": "x", "due_at": "soon"}]}',
            "due_at",
            2,
        ),
        (
            '{"schema_version": 1, "tasks": [{"title": "r", "recurrence_rule": "FREQ=DAILY"}]}',
            "due_at",
            1,
        ),
        (
            '{"schema_version": 1, "tasks": [{"title": "r", "due_at": "2027-01-01",'
            ' "recurrence_rule": "FREQ=SOMETIMES"}]}',
            "recurrence_rule",
            1,
        ),
        (
            '{"schema_version": 1, "tasks": [{"title": "r", "timezone": "Mars/Base"}]}',
            "timezone",
            1,
        ),
    ],
)
async def test_a_bad_export_document(
    container: Container, user: User, content: str, field: str, row: int | None
) -> None:
    response = await import_file(user, content, media_type="application/json")
    assert response.status_code == 422
    body = await unchanged(container, user, response)
    assert (body["errors"][0]["row"], body["errors"][0]["field"]) == (row, field)
    assert json.dumps(body["errors"])  # always serialisable, never a 500


async def test_a_bad_calendar(container: Container, user: User) -> None:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
        "BEGIN:VTODO\r\nUID:1\r\nSUMMARY:fine\r\nDUE:20270101T100000Z\r\nEND:VTODO\r\n"
        "BEGIN:VTODO\r\nUID:2\r\nSUMMARY:broken\r\nDUE:2027-13-45\r\nEND:VTODO\r\n"
        "BEGIN:VTODO\r\nUID:3\r\nSUMMARY:bad rule\r\nDUE:20270101T100000Z\r\n"
        "RRULE:FREQ=MINUTELY\r\nEND:VTODO\r\n"
        "END:VCALENDAR\r\n"
    )
    response = await import_file(user, text, media_type="text/calendar")
    assert response.status_code == 422
    body = await unchanged(container, user, response)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(2, "DUE")]
    assert "2027-13-45" in body["errors"][0]["message"]

    fixed = text.replace("DUE:2027-13-45", "DUE:20270102T100000Z")
    response = await import_file(user, fixed, media_type="text/calendar")
    assert response.status_code == 422
    body = await unchanged(container, user, response)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(3, "RRULE")]
    assert "MINUTELY" in body["errors"][0]["message"]

    no_summary = "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:9\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    response = await import_file(user, no_summary, media_type="text/calendar")
    body = await unchanged(container, user, response)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(1, "SUMMARY")]
    response = await import_file(user, "BEGIN:VTODO\r\n", filename="x.ics")
    body = await unchanged(container, user, response)
    assert body["errors"][0]["field"] == "file"


async def test_a_multipart_upload_needs_the_file_field(container: Container, user: User) -> None:
    response = await user.post("/api/import", files={"upload": ("a.csv", b"title\nx\n")})
    assert response.status_code == 422
    body = await unchanged(container, user, response)
    assert body["errors"][0]["field"] == "file"
