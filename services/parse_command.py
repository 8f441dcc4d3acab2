"""`todo parse`: the offline parser's reading of utterances, as JSON."""

import json
import sys
from datetime import datetime
from typing import IO, Any

from assistant.parsing import parse_utterance
from services.bootstrap import system_timezone


def _now(value: str | None) -> datetime:
    if not value:
        return datetime.now().replace(microsecond=0)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--now {value!r} is not ISO 8601, e.g. 2026-11-28T10:00:00") from None


def reading(text: str, *, now: str | None, tz: str | None) -> dict[str, Any]:
    zone_name = tz or system_timezone()
    moment = _now(now)
    if moment.tzinfo is not None:
        from zoneinfo import ZoneInfo

        moment = moment.astimezone(ZoneInfo(zone_name)).replace(tzinfo=None)
    return parse_utterance(text, moment, zone_name).to_json()


def parse_one(text: str, *, now: str | None, tz: str | None) -> str:
    return json.dumps(reading(text, now=now, tz=tz), ensure_ascii=False)


def parse_batch(path: str, *, default_tz: str | None, out: IO[str] | None = None) -> None:
    """One JSON line out per line in; a bad line gets {"id", "error"} and the
    rest still run."""
    out = out or sys.stdout
    source = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    try:
        for number, line in enumerate(source, 1):
            if not line.strip():
                continue
            out.write(json.dumps(_line(line, number, default_tz), ensure_ascii=False) + "\n")
            out.flush()
    finally:
        if source is not sys.stdin:
            source.close()


def _line(line: str, number: int, default_tz: str | None) -> dict[str, Any]:
    try:
        item = json.loads(line)
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise ValueError('each line must be an object with a "text" string')
        return {
            "id": item.get("id"),
            **reading(item["text"], now=item.get("now"), tz=item.get("tz") or default_tz),
        }
    except (ValueError, TypeError) as exc:
        ident = item.get("id") if isinstance(locals().get("item"), dict) else None
        return {"id": ident, "error": f"line {number}: {exc}"}
