"""Logging for `todo serve`: readable lines on a laptop, JSON lines (one
object per record, with the event id when there is one) in a cluster."""

import json
import logging
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from events.tracing import handling_event_id

# Record attributes that are the logging machinery's, not the caller's extras.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}
# Field names that must never reach a log line, whatever a caller passes.
_SECRETS = ("password", "token", "secret", "authorization", "key")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = format(context.trace_id, "032x")
            entry["span_id"] = format(context.span_id, "016x")
        event_id = handling_event_id.get()
        if event_id is not None:
            entry["event_id"] = event_id
        for name, value in record.__dict__.items():
            if name in _STANDARD or name.startswith("_"):
                continue
            entry[name] = "[redacted]" if any(s in name.lower() for s in _SECRETS) else value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(fmt: str, level: str = "INFO") -> dict[str, Any]:
    """Set up the root logger; return a uvicorn log config that defers to it."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every reconnect attempt at ERROR while a broker is down;
    # the relay and the consumers report outages themselves.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {
            "uvicorn": {"level": level.upper()},
            "uvicorn.access": {"level": level.upper()},
        },
    }
