"""`preview_recurrence`: check an RRULE before saving it."""

from datetime import datetime
from typing import Annotated

from mcp_types import CallToolResult
from pydantic import Field, TypeAdapter, ValidationError

from mcp_server import phrases, views
from mcp_server.runtime import ToolContext, caller, translated
from services.errors import InvalidInput
from services.shared.timeutil import hour_cycle, zone
from services.tasks import service

_START = TypeAdapter(datetime)


def _start(text: str) -> datetime:
    try:
        return _START.validate_python(text)
    except ValidationError:
        raise InvalidInput("start", f"{text!r} is not a date and time") from None


async def preview_recurrence(
    ctx: ToolContext,
    rule: Annotated[str, Field(max_length=500, description="RRULE body")],
    start: Annotated[str, Field(max_length=40, description="First occurrence, wall-clock")],
    timezone: Annotated[str | None, Field(max_length=64, description="Default: the user's")] = None,
    count: Annotated[int, Field(ge=1, le=100)] = 5,
) -> Annotated[CallToolResult, views.OccurrenceList]:
    """The next occurrences of a rule, to check it means what the user said
    (DST-correct, in their zone). Changes nothing."""
    user = caller(ctx)
    async with translated():
        tz_name = timezone or user.timezone
        tz = zone(tz_name)
        try:
            found = service.preview_recurrence(
                rule=rule, start=_start(start), timezone=tz_name, count=count
            )
        except InvalidInput as exc:
            # The service names the task field; here the argument is `rule`.
            problem = exc.problems[0]
            field = "rule" if problem.field == "recurrence_rule" else problem.field
            raise InvalidInput(field, problem.message) from None
    now = views.now()
    cycle = hour_cycle(user.time_format)
    output = views.OccurrenceList(
        rule=rule,
        timezone=tz_name,
        occurrences=[
            views.Occurrence(at=at, phrase=phrases.when(at, now, tz, cycle=cycle))
            for at in found.occurrences
        ],
    )
    listed = "; ".join(f"{o.phrase} ({o.at:%Y-%m-%d})" for o in output.occurrences)
    return views.result(f"{rule} in {tz_name}: {listed or 'no occurrences'}", output)


__all__ = ["preview_recurrence"]
