"""What of a conversation goes to the model: the newest messages within a token budget.

Tokens are estimated (about four characters each, plus a little per message):
no tokenizer download is needed, and the budget is a bound, not a bill. A
model message that called tools travels with its tool results or not at all,
as the API requires, and the history never starts with an orphan tool result.
"""

import json
from collections.abc import Sequence

from assistant.messages import Message

PER_MESSAGE = 4


def estimate(message: Message) -> int:
    size = len(message.content or "")
    for call in message.tool_calls:
        size += len(call.name) + len(call.arguments) + 10
    return size // 4 + PER_MESSAGE


def estimate_text(text: str) -> int:
    return len(text) // 4 + PER_MESSAGE


def estimate_json(value: object) -> int:
    return estimate_text(json.dumps(value, ensure_ascii=False))


def _groups(messages: Sequence[Message]) -> list[list[Message]]:
    """Messages in units that stay together: a tool-calling message and its results."""
    groups: list[list[Message]] = []
    for message in messages:
        if message.role == "tool" and groups and groups[-1][0].tool_calls:
            groups[-1].append(message)
        else:
            groups.append([message])
    return groups


def _complete(group: list[Message]) -> bool:
    head = group[0]
    if head.role == "tool":
        return False
    if head.tool_calls:
        answered = {m.tool_call_id for m in group[1:]}
        return all(call.id in answered for call in head.tool_calls)
    return True


def trim(messages: Sequence[Message], budget: int) -> list[Message]:
    """The newest complete groups whose estimated size fits `budget`."""
    kept: list[list[Message]] = []
    used = 0
    for group in reversed(_groups(messages)):
        if not _complete(group):
            continue
        size = sum(estimate(m) for m in group)
        if used + size > budget:
            break
        kept.append(group)
        used += size
    return [message for group in reversed(kept) for message in group]


__all__ = ["estimate", "estimate_json", "estimate_text", "trim"]
