"""The event catalogue generated from the models in `events.schemas`:
docs/asyncapi.yaml (AsyncAPI 3.0) and docs/schemas/events/<type>.json.

    python -m events.catalogue          # rewrite the files (make asyncapi)
    python -m events.catalogue --check  # exit 1 when they are out of date
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from pydantic.json_schema import models_json_schema

from events.schemas import DATA_MODELS, json_schema, schema_file_name
from events.topics import EventType, Topic, topic_for

ROOT = Path(__file__).resolve().parents[1]
ASYNCAPI = ROOT / "docs" / "asyncapi.yaml"
SCHEMAS = ROOT / "docs" / "schemas" / "events"
VERSION = "1.0.0"
CLOUDEVENTS_JSON = "application/cloudevents+json"

_DEAD_LETTER = "dead-letter"
_ENVELOPE = "CloudEventEnvelope"


def _envelope(event_type: str | None, data: dict[str, Any]) -> dict[str, Any]:
    """A structured-mode CloudEvent of one type (any type when None)."""
    type_schema: dict[str, Any] = {"type": "string"}
    if event_type is not None:
        type_schema = {"type": "string", "const": event_type}
    return {
        "allOf": [
            {"$ref": f"#/components/schemas/{_ENVELOPE}"},
            {
                "type": "object",
                "required": ["type", "data"],
                "properties": {"type": type_schema, "data": data},
            },
        ]
    }


def _envelope_schema() -> dict[str, Any]:
    text = {"type": "string", "minLength": 1}
    return {
        "type": "object",
        "description": "CloudEvents 1.0, structured JSON mode, with the userid extension "
        "(the partition key: one user's events stay in order).",
        "required": ["specversion", "id", "source", "type", "userid"],
        "properties": {
            "specversion": {"type": "string", "const": "1.0"},
            "id": text,
            "source": text,
            "type": text,
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"type": "string", "const": "application/json"},
            "dataschema": {"type": "string", "format": "uri"},
            "subject": {"type": "string"},
            "userid": text,
            "traceparent": {"type": "string"},
            "tracestate": {"type": "string"},
        },
    }


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every topic and event type."""
    refs, definitions = models_json_schema(
        [(model, "validation") for model in DATA_MODELS.values()],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = {_ENVELOPE: _envelope_schema(), **definitions.get("$defs", {})}
    messages: dict[str, Any] = {}
    by_topic: dict[Topic, list[str]] = {}
    for event_type, model in DATA_MODELS.items():
        data_ref = refs[(model, "validation")]
        messages[event_type.value] = {
            "name": event_type.value,
            "title": event_type.value,
            "summary": (model.__doc__ or "").strip().splitlines()[0],
            "contentType": CLOUDEVENTS_JSON,
            "payload": _envelope(event_type.value, data_ref),
        }
        by_topic.setdefault(topic_for(event_type.value), []).append(event_type.value)
    messages[_DEAD_LETTER] = {
        "name": _DEAD_LETTER,
        "title": "Dead letter",
        "summary": "An event no consumer could handle, or whose data broke its schema, "
        "with the same id, type and data, and why.",
        "contentType": CLOUDEVENTS_JSON,
        "payload": {
            "allOf": [
                _envelope(None, {}),
                {
                    "type": "object",
                    "required": ["dlqconsumer", "dlqtopic", "dlqreason"],
                    "properties": {
                        "dlqconsumer": {"type": "string", "description": "the consumer group"},
                        "dlqtopic": {"type": "string", "description": "the topic it came from"},
                        "dlqreason": {
                            "type": "string",
                            "description": "the error; for data that broke its schema, "
                            "InvalidEventData: and every wrong field with what is wrong",
                        },
                    },
                },
            ]
        },
    }
    by_topic[Topic.DLQ_EVENTS] = [_DEAD_LETTER]
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in Topic:
        names = by_topic.get(topic)
        if not names:
            continue  # audit-events: nothing is published on it yet
        channels[topic.value] = {
            "address": topic.value,
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
        }
        operations[f"publish-{topic.value}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic.value}"},
            "messages": [{"$ref": f"#/channels/{topic.value}/messages/{name}"} for name in names],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "todo-app events",
            "version": VERSION,
            "description": "The events todo-app's services publish and consume, as "
            "CloudEvents 1.0. Generated from events/schemas.py by `make asyncapi`; "
            "do not edit by hand.",
        },
        "defaultContentType": CLOUDEVENTS_JSON,
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def rendered() -> dict[Path, str]:
    """Every generated file and its content."""
    files = {
        ASYNCAPI: yaml.safe_dump(asyncapi_document(), sort_keys=False, allow_unicode=True),
    }
    for event_type in EventType:
        body = json.dumps(json_schema(event_type), indent=2, sort_keys=True) + "\n"
        files[SCHEMAS / schema_file_name(event_type)] = body
    return files


def stale() -> list[Path]:
    """The generated files that are missing or differ from what the models give."""
    return [
        path
        for path, text in rendered().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m events.catalogue", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only say what is out of date")
    args = parser.parse_args(argv)
    if args.check:
        out = stale()
        for path in out:
            print(f"out of date: {path.relative_to(ROOT)} (run `make asyncapi`)", file=sys.stderr)
        return 1 if out else 0
    SCHEMAS.mkdir(parents=True, exist_ok=True)
    for path, text in rendered().items():
        path.write_text(text, encoding="utf-8")
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
