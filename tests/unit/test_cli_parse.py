"""`todo parse`: one utterance, a batch, and bad input that says what to fix."""

import json
from pathlib import Path

from typer.testing import CliRunner

from services.cli import app

runner = CliRunner()


def test_parse_one_utterance() -> None:
    result = runner.invoke(
        app,
        [
            "parse",
            "--now",
            "2026-11-28T10:00:00",
            "--tz",
            "America/New_York",
            "buy milk tomorrow at 5pm #errands p1",
        ],
    )
    assert result.exit_code == 0, result.output
    reading = json.loads(result.stdout)
    assert reading["intent"] == "add_task"
    assert reading["due_at"] == "2026-11-29T17:00:00-05:00"
    assert reading["tags"] == ["errands"]
    assert set(reading) == {
        "intent",
        "task",
        "title",
        "due_at",
        "remind_at",
        "priority",
        "tags",
        "recurrence_rule",
        "filters",
    }


def test_parse_batch_keeps_ids_and_reports_bad_lines(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join(
            [
                json.dumps(
                    {
                        "id": "a",
                        "text": "what's due today?",
                        "now": "2026-11-28T10:00:00",
                        "tz": "Europe/Berlin",
                    }
                ),
                "not json",
                json.dumps(
                    {"id": "c", "text": "hi", "now": "2026-11-28T10:00:00", "tz": "Nowhere/X"}
                ),
            ]
        )
        + "\n"
    )
    result = runner.invoke(app, ["parse", "--batch", str(source)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["id"] == "a"
    assert lines[0]["filters"]["due_after"].startswith("2026-11-28")
    assert "error" in lines[1]
    assert lines[2]["id"] == "c"
    assert "Nowhere/X" in lines[2]["error"]


def test_parse_rejects_a_bad_zone_and_bad_now() -> None:
    result = runner.invoke(app, ["parse", "--tz", "Mars/Base", "hello"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["parse", "--now", "yesterday", "hello"])
    assert result.exit_code == 2
    assert "ISO 8601" in result.output
    assert runner.invoke(app, ["parse"]).exit_code != 0


def test_json_logs_carry_extras_and_hide_secrets() -> None:
    import logging

    from services.shared.logs import JsonFormatter

    record = logging.makeLogRecord({"name": "todo", "levelname": "WARNING", "msg": "hello %s",
                                    "args": ("world",), "event_id": "e-1", "token": "todo_pat_x"})
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello world"
    assert line["event_id"] == "e-1"
    assert line["token"] == "[redacted]"
