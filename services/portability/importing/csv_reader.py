"""CSV: a header naming the columns, then one task per record.

The columns are those of our CSV export, and `due` for `due_at`; any other
column is refused by name, so a misspelt one never loses data silently.
"""

import csv
import io
from typing import Any

from services.errors import InvalidInput
from services.portability.errors import ImportTooLarge
from services.portability.importing import values
from services.portability.importing.drafts import MAX_ROWS, Draft, Reading

COLUMNS = {
    "id": "id",
    "title": "title",
    "description": "description",
    "status": "status",
    "priority": "priority",
    "tags": "tags",
    "due": "due_at",
    "due_at": "due_at",
    "remind_at": "remind_at",
    "timezone": "timezone",
    "recurrence_rule": "recurrence_rule",
    "repeat_from": "repeat_from",
    "completed_at": "completed_at",
}


def read_csv(text: str) -> Reading:
    reading = Reading("csv")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    record = 1
    try:
        header = next(reader, None)
        names = _header(header, reading)
        if names is None:
            return reading
        for cells in reader:
            record += 1
            if not any(c.strip() for c in cells):
                continue
            if len(reading.drafts) >= MAX_ROWS:
                raise ImportTooLarge(f"more than {MAX_ROWS:,} records: split the file")
            if len(cells) > len(names):
                reading.problem(
                    record, "row", f"has {len(cells)} cells but the header names {len(names)}"
                )
                continue
            try:
                reading.drafts.append(_draft(record, dict(zip(names, cells, strict=False))))
            except InvalidInput as exc:
                reading.problem(record, exc.problems[0].field, exc.problems[0].message)
    except csv.Error as exc:
        reading.problem(record, "file", f"is not valid CSV here: {exc}")
    return reading


def _header(header: list[str] | None, reading: Reading) -> list[str] | None:
    if header is None or not any(h.strip() for h in header):
        reading.problem(
            None, "file", "is empty: the first line names the columns, e.g. title,due,priority,tags"
        )
        return None
    names = [h.strip().lower() for h in header]
    known = ", ".join(COLUMNS)
    fields = [COLUMNS.get(n) for n in names]
    for name, field in zip(names, fields, strict=True):
        if field is None:
            message = f"unknown column {name!r}; the columns are {known}"
            reading.problem(1, name or "(blank)", message)
        elif fields.count(field) > 1:
            reading.problem(1, name, "is given twice (due and due_at are one column)")
    if "title" not in names:
        reading.problem(1, "title", "the column is missing: every task needs a title")
    return None if reading.problems else names


def _draft(record: int, cells: dict[str, str]) -> Draft:
    fields: dict[str, Any] = {}
    draft = Draft(row=record, fields=fields)
    for column, raw in cells.items():
        value = raw.strip()
        if not value:
            continue
        name = COLUMNS[column]
        draft.names[name] = column
        if name in ("due_at", "remind_at"):
            fields[name] = values.when(column, value)
        elif name == "priority":
            fields[name] = values.choice(column, value, values.PRIORITIES)
        elif name == "repeat_from":
            fields[name] = values.choice(column, value, values.REPEAT_FROM)
        elif name == "tags":
            fields[name] = values.tag_list(value)
        elif name == "status":
            draft.completed = values.choice(column, value, values.STATUSES) == "completed"
        elif name == "completed_at":
            draft.completed_at = values.instant(column, value)
            draft.completed = True
        elif name == "id":
            draft.identity = value
        else:
            fields[name] = raw if name == "description" else value
    return draft


__all__ = ["COLUMNS", "read_csv"]
