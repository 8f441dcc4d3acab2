"""CloudEvents 1.0 in structured JSON mode, with the `userid` extension."""

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field

from events.schemas import schema_url, validate_data
from events.topics import EventType


class CloudEvent(BaseModel):
    """One event as it travels: structured-mode CloudEvents 1.0 JSON.

    `userid` is our extension attribute; it is also the partition key, so one
    user's events stay in order on every bus.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: str = "1.0"
    id: str = Field(default_factory=lambda: str(uuid4()))
    source: str
    type: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = "application/json"
    subject: str | None = None
    dataschema: str | None = None
    userid: str
    data: dict[str, Any] = Field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def to_json(self) -> str:
        """The event as it is stored and sent: `to_json_dict` as compact JSON,
        written by pydantic's serializer (a third of `json.dumps`'s time)."""
        return self.model_dump_json(exclude_none=True)


def new_event(
    event_type: EventType,
    *,
    source: str,
    user_id: object,
    subject: object | None,
    data: dict[str, Any],
) -> CloudEvent:
    """Build an event of our own; ids and times are filled in.

    `data` must match the type's schema (`events.schemas`), else
    `InvalidEventData` says which fields are wrong: a producer never
    publishes data its consumers would refuse."""
    validate_data(event_type.value, data)
    return CloudEvent(
        type=event_type.value,
        dataschema=schema_url(event_type.value),
        source=source,
        userid=str(user_id),
        subject=None if subject is None else str(subject),
        data=data,
    )
