"""The offline assistant: no model, the same MCP tools, plain sentences.

It reads each message with `parse_utterance` (the conventions of docs/reference.md,
The `todo parse` reading; in the user's zone and time), then calls the tools a
model would: `add_task`, `find_tasks` to resolve "the dentist task", then
`complete_task` and the rest.
A reference that matches several tasks gets a numbered question; the answer
("the second one") picks from it. Deleting, and anything that changes more
than one task, waits for the user's yes, as on the model's path. "Undo"
reverts the conversation's last change (`assistant.undo`).
"""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from assistant import confirmation, undo
from assistant.offline import references, replies
from assistant.parsing import Reading, TaskFilters, parse_utterance
from assistant.parsing.answers import change_answer, reminder_answer
from assistant.parsing.changes import changed_due, reminder_before
from assistant.parsing.clock import Clock
from assistant.parsing.reading import DueChange, ReminderOffset
from assistant.parsing.undo import cancel_target
from assistant.state import Awaiting, Choice, HeldCall, ListedTask, Pending
from assistant.stream import ChatEvent
from assistant.tools import ToolOutcome
from assistant.turn import PlannedCall, Turn, ask_to_confirm, execute, new_call_id, say

# Intents that act on one existing task, and the tool each one calls.
ACTIONS = {
    "complete_task": "complete_task",
    "reopen_task": "reopen_task",
    "skip_occurrence": "skip_occurrence",
    "update_task": "update_task",
    "set_reminder": "set_reminder",
    "delete_task": "delete_task",
}
SEARCH_LIMIT = 10
BULK_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Found:
    tasks: list[ListedTask]
    exact: ListedTask | None = None


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


def _listed(items: list[dict[str, Any]]) -> list[ListedTask]:
    return [ListedTask(id=str(t["id"]), title=str(t["title"])) for t in items]


def find_arguments(filters: TaskFilters) -> dict[str, Any]:
    arguments: dict[str, Any] = {"status": filters.status or "active"}
    if filters.q:
        arguments["q"] = filters.q
    if filters.priority:
        arguments["priority"] = [filters.priority]
    if filters.tags:
        arguments["tags"] = list(filters.tags)
    if filters.due_after:
        arguments["due_after"] = filters.due_after.isoformat()
    if filters.due_before:
        arguments["due_before"] = filters.due_before.isoformat()
    if filters.is_recurring is not None:
        arguments["is_recurring"] = filters.is_recurring
    if filters.overdue is not None:
        arguments["overdue"] = filters.overdue
    return arguments


# Arguments that say a change relative to the task as it is ("move it to friday"
# keeps its time); `_act` reads the task and turns them into tool arguments.
_DUE_CHANGE = "_due_change"
_REMIND_BEFORE = "_remind_before"
_CANCEL = re.compile(
    r"^(?:cancel|never\s*mind|nevermind|forget\s+(?:it|that|about\s+it)|no|nope|stop"
    r"|drop\s+it|don'?t\s+bother)\b",
    re.IGNORECASE,
)


def _due_change_json(change: DueChange) -> dict[str, Any]:
    return {
        "day": change.day.isoformat() if change.day else None,
        "time": change.clock_time.isoformat() if change.clock_time else None,
        "shift": change.shift.total_seconds() if change.shift is not None else None,
    }


def _due_change(data: dict[str, Any]) -> DueChange:
    return DueChange(
        day=date.fromisoformat(data["day"]) if data.get("day") else None,
        clock_time=time.fromisoformat(data["time"]) if data.get("time") else None,
        shift=timedelta(seconds=data["shift"]) if data.get("shift") is not None else None,
    )


def _offset_json(offset: ReminderOffset) -> dict[str, Any]:
    return {
        "before": offset.before.total_seconds(),
        "time": offset.clock_time.isoformat() if offset.clock_time else None,
    }


def _offset(data: dict[str, Any]) -> ReminderOffset:
    return ReminderOffset(
        before=timedelta(seconds=data["before"]),
        clock_time=time.fromisoformat(data["time"]) if data.get("time") else None,
    )


def change_arguments(intent: str, reading: Reading) -> dict[str, Any] | None:
    """The tool arguments besides task_id; None when the request lacks what it needs."""
    if intent == "set_reminder":
        if reading.remind_before is not None:
            return {_REMIND_BEFORE: _offset_json(reading.remind_before)}
        return None if reading.remind_at is None else {"remind_at": _iso(reading.remind_at)}
    if intent != "update_task":
        return {}
    fields: dict[str, Any] = {
        "title": reading.title,
        "due_at": _iso(reading.due_at),
        "remind_at": _iso(reading.remind_at),
        "priority": reading.priority,
        "tags": list(reading.tags) or None,
        "recurrence_rule": reading.recurrence_rule,
    }
    if reading.due_change is not None:
        fields["due_at"] = None
        fields[_DUE_CHANGE] = _due_change_json(reading.due_change)
    given = {k: v for k, v in fields.items() if v is not None}
    return given or None


def _instant(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _question(awaiting: Awaiting, title: str) -> str:
    what = replies.quoted(title)
    if awaiting.wants == "reminder":
        return (
            f"When should I remind you about {what}? For example “tomorrow at 9am”, "
            "“an hour before” or “the day before at 10am”."
        )
    if awaiting.wants == "due":
        return f"{what} has no due date yet. When is it due? For example “friday at 5pm”."
    return (
        f"What should I change about {what}? For example “friday at 3pm”, "
        "“2 days later” or “high priority”."
    )


def add_arguments(reading: Reading) -> dict[str, Any]:
    fields = {
        "title": reading.title,
        "due_at": _iso(reading.due_at),
        "remind_at": _iso(reading.remind_at),
        "priority": reading.priority,
        "tags": list(reading.tags) or None,
        "recurrence_rule": reading.recurrence_rule,
    }
    return {k: v for k, v in fields.items() if v is not None}


class OfflineAgent:
    mode = "offline"
    uses_history = False

    def respond(self, turn: Turn) -> AsyncIterator[ChatEvent]:
        return self._respond(turn)

    def confirmed(
        self, turn: Turn, pending: Pending, outcomes: list[ToolOutcome]
    ) -> AsyncIterator[ChatEvent]:
        sentences = []
        for call, outcome in zip(pending.calls, outcomes, strict=False):
            if outcome.ok:
                sentences.append(replies.done(call.name, outcome.structured or {}))
            else:
                sentences.append(replies.failed(outcome.text))
        turn.state.listing = []
        return say(turn, " ".join(sentences) or replies.CANCELLED)

    async def _respond(self, turn: Turn) -> AsyncIterator[ChatEvent]:
        state = turn.state
        awaiting, state.awaiting = state.awaiting, None
        if awaiting is not None:
            handled = False
            async for event in self._answered(turn, awaiting):
                handled = True
                yield event
            if handled:
                return
        index = references.position(turn.text)
        if index is not None and (state.choice is not None or state.listing):
            async for event in self._picked(turn, index):
                yield event
            return
        state.choice = None
        text = references.spell_ordinals(turn.text)
        reading = parse_utterance(text, turn.now, turn.user.timezone)
        if reading.intent == "add_task" and reading.title:
            events = self._add(turn, reading)
        elif reading.intent == "find_tasks":
            events = self._find(turn, reading.filters)
        elif reading.intent == "undo":
            events = self._undo(turn)
        elif reading.intent in ACTIONS and reading.task:
            events = self._act_on_reference(turn, reading.intent, reading)
        elif reading.intent == "set_reminder" and len(state.listing) == 1:
            events = self._act_on_reference(turn, reading.intent, replace(reading, task="it"))
        else:
            events = say(turn, replies.HELP)
        async for event in events:
            yield event

    # -- answers to the assistant's own questions ---------------------------------------

    def _answer(self, turn: Turn, awaiting: Awaiting) -> tuple[str, dict[str, Any]] | None:
        """The intent and arguments the message completes, when it answers the question."""
        clock = Clock.create(turn.now, turn.user.timezone)
        if awaiting.wants == "reminder":
            reading = reminder_answer(turn.text, clock)
            arguments = change_arguments("set_reminder", reading) if reading else None
            return None if arguments is None else ("set_reminder", arguments)
        reading = change_answer(turn.text, clock)
        arguments = change_arguments("update_task", reading) if reading else None
        if arguments is None:
            return None
        return "update_task", {**awaiting.arguments, **arguments}

    async def _answered(self, turn: Turn, awaiting: Awaiting) -> AsyncIterator[ChatEvent]:
        """Answer, cancel or re-ask; yields nothing when the message is a new request."""
        answer = self._answer(turn, awaiting)
        title = awaiting.task.title if awaiting.task else (awaiting.reference or "it")
        if answer is not None:
            intent, arguments = answer
            if awaiting.task is not None:
                events = self._act(turn, intent, awaiting.task, arguments)
            else:
                events = self._resolve(turn, intent, arguments, awaiting.reference or "it")
            async for event in events:
                yield event
            return
        if _CANCEL.match(turn.text.strip()):
            async for event in say(turn, f"OK, I left {replies.quoted(title)} as it was."):
                yield event
            return
        reading = parse_utterance(turn.text, turn.now, turn.user.timezone)
        if reading.intent in ("unknown", "add_task"):  # not an answer, and no new request
            turn.state.awaiting = awaiting
            text = "I didn't catch that. " + _question(awaiting, title) + " Or say “cancel”."
            async for event in say(turn, text):
                yield event

    async def _ask(self, turn: Turn, awaiting: Awaiting, title: str) -> AsyncIterator[ChatEvent]:
        turn.state.awaiting = awaiting
        async for event in say(turn, _question(awaiting, title)):
            yield event

    # -- adding and finding ------------------------------------------------------------

    async def _add(self, turn: Turn, reading: Reading) -> AsyncIterator[ChatEvent]:
        outcomes: list[ToolOutcome] = []
        call = PlannedCall(new_call_id(), "add_task", add_arguments(reading))
        async for event in execute(turn, [call], outcomes, confirmed=False):
            yield event
        result = outcomes[0]
        if result.ok and result.structured:
            turn.state.listing = _listed([result.structured])
            text = replies.added(result.structured)
        else:
            text = replies.failed(result.text)
        async for event in say(turn, text):
            yield event

    async def _search(
        self, turn: Turn, arguments: dict[str, Any], outcomes: list[ToolOutcome]
    ) -> AsyncIterator[ChatEvent]:
        call = PlannedCall(new_call_id(), "find_tasks", arguments)
        async for event in execute(turn, [call], outcomes, confirmed=False):
            yield event

    async def _find(self, turn: Turn, filters: TaskFilters) -> AsyncIterator[ChatEvent]:
        outcomes: list[ToolOutcome] = []
        arguments = find_arguments(filters)
        async for event in self._search(turn, arguments, outcomes):
            yield event
        result = outcomes[0]
        if not result.ok or result.structured is None:
            text = replies.failed(result.text)
        else:
            items = result.structured["items"]
            turn.state.listing = _listed(items)
            text = replies.listing(items, result.structured["total"], arguments["status"])
        async for event in say(turn, text):
            yield event

    # -- undo ----------------------------------------------------------------------------

    async def _undo(self, turn: Turn) -> AsyncIterator[ChatEvent]:
        """Revert the conversation's last change; "cancel that" with no change just
        before it deletes the task it points at, as "cancel X" does."""
        target = cancel_target(turn.text)
        if target is not None and not turn.after_change:
            reading = Reading(intent="delete_task", task=target)
            async for event in self._act_on_reference(turn, "delete_task", reading):
                yield event
            return
        if not turn.state.changes:
            async for event in say(turn, undo.NOTHING):
                yield event
            return
        outcomes: list[ToolOutcome] = []
        call = PlannedCall(new_call_id(), undo.TOOL, {})
        async for event in execute(turn, [call], outcomes, confirmed=False):
            yield event
        result = outcomes[0]
        tasks = (result.structured or {}).get("tasks") or []
        turn.state.listing = _listed(tasks)
        async for event in say(turn, result.text):
            yield event

    # -- acting on tasks -----------------------------------------------------------------

    async def _act_on_reference(
        self, turn: Turn, intent: str, reading: Reading
    ) -> AsyncIterator[ChatEvent]:
        arguments = change_arguments(intent, reading)
        reference = reading.task or ""
        if arguments is None:
            wants = "reminder" if intent == "set_reminder" else "change"
            awaiting = Awaiting(intent=intent, wants=wants, reference=reference)
            async for event in self._ask(turn, awaiting, reference):
                yield event
            return
        async for event in self._resolve(turn, intent, arguments, reference):
            yield event

    async def _resolve(
        self, turn: Turn, intent: str, arguments: dict[str, Any], reference: str
    ) -> AsyncIterator[ChatEvent]:
        """Find the task `reference` points at, then act on it."""
        listing = turn.state.listing
        index = references.position(reference)
        many = references.bulk(reference)
        if index is not None:
            events = self._by_position(turn, intent, arguments, index)
        elif references.is_pronoun(reference) and len(listing) == 1:
            events = self._act(turn, intent, listing[0], arguments)
        elif many is not None:
            events = self._bulk(turn, intent, arguments, many)
        else:
            events = self._by_words(turn, intent, arguments, reference)
        async for event in events:
            yield event

    async def _by_position(
        self, turn: Turn, intent: str, arguments: dict[str, Any], index: int
    ) -> AsyncIterator[ChatEvent]:
        listing = turn.state.listing
        at = references.pick(len(listing), index)
        if at is None:
            text = (
                "Which list do you mean? Ask me to show your tasks first."
                if not listing
                else f"The last list I showed has {len(listing)} task(s)."
            )
            async for event in say(turn, text):
                yield event
            return
        async for event in self._act(turn, intent, listing[at], arguments):
            yield event

    async def _picked(self, turn: Turn, index: int) -> AsyncIterator[ChatEvent]:
        """An answer to "which one?" (or a position in the last list)."""
        state = turn.state
        choice, state.choice = state.choice, None
        at = references.pick(len(state.listing), index)
        if at is None:
            text = f"Pick a number from 1 to {len(state.listing)}."
            state.choice = choice
            async for event in say(turn, text):
                yield event
            return
        task = state.listing[at]
        if choice is None:
            text = (
                f"What should I do with {replies.quoted(task.title)}? "
                "For example: “complete the second one”."
            )
            async for event in say(turn, text):
                yield event
            return
        async for event in self._act(turn, choice.intent, task, choice.arguments):
            yield event

    async def _by_words(
        self, turn: Turn, intent: str, arguments: dict[str, Any], reference: str
    ) -> AsyncIterator[ChatEvent]:
        words = references.search_words(reference)
        status = "completed" if intent == "reopen_task" else "active"
        outcomes: list[ToolOutcome] = []
        search = {"q": words, "status": status, "limit": SEARCH_LIMIT}
        async for event in self._search(turn, search, outcomes):
            yield event
        result = outcomes[0]
        if not result.ok or result.structured is None:
            async for event in say(turn, replies.failed(result.text)):
                yield event
            return
        found = _listed(result.structured["items"])
        exact = [t for t in found if t.title.strip().lower() == words.lower()]
        if len(exact) == 1:
            found = exact
        if not found:
            kind = "completed " if status == "completed" else ""
            text = f"I couldn't find a {kind}task matching {replies.quoted(words)}."
            async for event in say(turn, text):
                yield event
        elif len(found) == 1:
            async for event in self._act(turn, intent, found[0], arguments):
                yield event
        else:
            turn.state.listing = found
            turn.state.choice = Choice(intent=intent, arguments=arguments)
            async for event in say(turn, replies.which(words, [t.title for t in found])):
                yield event

    async def _bulk(
        self, turn: Turn, intent: str, arguments: dict[str, Any], many: references.Bulk
    ) -> AsyncIterator[ChatEvent]:
        if many.of_listing and turn.state.listing:
            tasks = list(turn.state.listing)
        else:
            reading = parse_utterance(f"show tasks {many.phrase}", turn.now, turn.user.timezone)
            search = find_arguments(
                reading.filters if reading.intent == "find_tasks" else TaskFilters()
            )
            if intent == "reopen_task":
                search["status"] = "completed"
            search["limit"] = BULK_LIMIT
            outcomes: list[ToolOutcome] = []
            async for event in self._search(turn, search, outcomes):
                yield event
            result = outcomes[0]
            tasks = _listed(result.structured["items"]) if result.ok and result.structured else []
        if not tasks:
            async for event in say(turn, "There are no tasks like that."):
                yield event
            return
        if len(tasks) == 1:
            async for event in self._act(turn, intent, tasks[0], arguments):
                yield event
            return
        tool = ACTIONS[intent]
        calls = [HeldCall(name=tool, arguments={"task_id": t.id, **arguments}) for t in tasks]
        actions = [confirmation.action(tool, t.title) for t in tasks]
        turn.state.listing = tasks
        pending = Pending(summary=confirmation.summary(actions), calls=calls)
        async for event in ask_to_confirm(turn, pending):
            yield event

    async def _act(
        self, turn: Turn, intent: str, task: ListedTask, arguments: dict[str, Any]
    ) -> AsyncIterator[ChatEvent]:
        tool = ACTIONS[intent]
        turn.state.choice = None
        turn.state.listing = [task]  # "it" now means this task
        if _DUE_CHANGE in arguments or _REMIND_BEFORE in arguments:
            settled: list[dict[str, Any] | None] = []
            async for event in self._settle(turn, intent, task, arguments, settled):
                yield event
            if settled[0] is None:
                return
            arguments = settled[0]
        call_arguments = {"task_id": task.id, **arguments}
        if tool in confirmation.ALWAYS_HELD:
            pending = Pending(
                summary=confirmation.summary([confirmation.action(tool, task.title)]),
                calls=[HeldCall(name=tool, arguments=call_arguments)],
            )
            async for event in ask_to_confirm(turn, pending):
                yield event
            return
        outcomes: list[ToolOutcome] = []
        call = PlannedCall(new_call_id(), tool, call_arguments)
        async for event in execute(turn, [call], outcomes, confirmed=False):
            yield event
        result = outcomes[0]
        text = (
            replies.done(tool, result.structured or {})
            if result.ok
            else replies.failed(result.text)
        )
        async for event in say(turn, text):
            yield event

    async def _settle(
        self,
        turn: Turn,
        intent: str,
        task: ListedTask,
        arguments: dict[str, Any],
        settled: list[dict[str, Any] | None],
    ) -> AsyncIterator[ChatEvent]:
        """Turn a change said relative to the task ("to friday", "2 days later", "an hour
        before") into tool arguments, reading the task as it is now. Appends None to
        `settled` when the task cannot take it (no due date to count from): then the
        user is asked for one."""
        outcomes: list[ToolOutcome] = []
        call = PlannedCall(new_call_id(), "get_task", {"task_id": task.id})
        async for event in execute(turn, [call], outcomes, confirmed=False):
            yield event
        current = outcomes[0].structured if outcomes[0].ok else None
        if current is None:
            settled.append(None)
            async for event in say(turn, replies.failed(outcomes[0].text)):
                yield event
            return
        clock = Clock.create(turn.now, turn.user.timezone)
        final = {k: v for k, v in arguments.items() if not k.startswith("_")}
        due = _instant(current.get("due_at"))
        if _DUE_CHANGE in arguments:
            due = changed_due(due, _due_change(arguments[_DUE_CHANGE]), clock)
            if due is None:
                settled.append(None)
                awaiting = Awaiting(intent=intent, wants="due", task=task, arguments=final)
                async for event in self._ask(turn, awaiting, task.title):
                    yield event
                return
            final["due_at"] = due.isoformat()
        if _REMIND_BEFORE in arguments:
            offset = _offset(arguments[_REMIND_BEFORE])
            remind_at = reminder_before(due, offset, clock) if due is not None else None
            if remind_at is None:
                settled.append(None)
                text = (
                    f"{replies.quoted(task.title)} has no due date, so I can't count back "
                    "from it. When should I remind you? For example “tomorrow at 9am”."
                )
                turn.state.awaiting = Awaiting(intent="set_reminder", wants="reminder", task=task)
                async for event in say(turn, text):
                    yield event
                return
            final["remind_at"] = remind_at.isoformat()
        settled.append(final)


__all__ = ["OfflineAgent", "add_arguments", "change_arguments", "find_arguments"]
