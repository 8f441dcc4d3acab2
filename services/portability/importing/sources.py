"""From the uploaded bytes to a reading: text or not, and which format."""

from pathlib import PurePath

from services.portability.errors import ImportTooLarge
from services.portability.importing.csv_reader import read_csv
from services.portability.importing.drafts import MAX_BYTES, Reading
from services.portability.importing.ics_reader import read_ics
from services.portability.importing.json_reader import read_json
from services.portability.schemas import ImportFormat

_BY_MEDIA: dict[str, ImportFormat] = {
    "application/json": "json",
    "text/json": "json",
    "text/csv": "csv",
    "application/csv": "csv",
    "text/calendar": "ics",
    "application/ics": "ics",
}
_BY_SUFFIX: dict[str, ImportFormat] = {".json": "json", ".csv": "csv", ".ics": "ics"}


def decode(content: bytes) -> str | None:
    """The file as text, or None when it is not UTF-8 text (a binary)."""
    if b"\x00" in content:
        return None
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def detect(
    text: str, *, declared: ImportFormat | None, media_type: str | None, filename: str | None
) -> ImportFormat:
    """Said by the caller, by the media type, by the file name, or seen in it."""
    if declared is not None:
        return declared
    media = (media_type or "").split(";", 1)[0].strip().lower()
    if media in _BY_MEDIA:
        return _BY_MEDIA[media]
    suffix = PurePath(filename or "").suffix.lower()
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    head = text.lstrip()[:20].upper()
    if head.startswith(("{", "[")):
        return "json"
    if head.startswith("BEGIN:VCALENDAR"):
        return "ics"
    return "csv"


def read_file(
    content: bytes,
    *,
    timezone: str,
    declared: ImportFormat | None = None,
    media_type: str | None = None,
    filename: str | None = None,
) -> Reading:
    if len(content) > MAX_BYTES:
        raise ImportTooLarge(f"the file is over {MAX_BYTES // (1024 * 1024)} MB: split it")
    text = decode(content)
    if text is None:
        reading = Reading(declared)
        reading.problem(None, "file", "is not a text file: send JSON, CSV or iCalendar in UTF-8")
        return reading
    found = detect(text, declared=declared, media_type=media_type, filename=filename)
    if found == "json":
        return read_json(text)
    if found == "ics":
        return read_ics(text, timezone=timezone)
    return read_csv(text)


__all__ = ["decode", "detect", "read_file"]
