"""`todo chat`: the assistant in the terminal, streaming, as the local user
(or the user of TODO_API_TOKEN), with a y/n prompt for what needs a yes.

Like `todo mcp` this process only writes tasks, messages and their outbox
rows; relaying the outbox is the server's job (`todo serve`).
"""

import os
import sys
import uuid
from collections.abc import Awaitable, Callable

import anyio

from assistant.chat import Assistant
from assistant.stream import ChatEvent
from services.errors import DomainError
from services.shared.auth.principal import Principal
from services.shared.context import AppContext
from services.shared.settings import get_settings

TOKEN_ENV = "TODO_API_TOKEN"  # noqa: S105 - the variable's name, not a secret
QUIT = frozenset({"exit", "quit", "/quit", "/exit", "bye"})

Read = Callable[[str], Awaitable[str | None]]
Write = Callable[[str], None]


async def read_line(prompt: str) -> str | None:
    def blocking() -> str | None:
        try:
            return input(prompt)
        except EOFError:
            return None

    # input() blocks: off the event loop, so a streaming turn is never held up.
    return await anyio.to_thread.run_sync(blocking, abandon_on_cancel=True)


def write_out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


class _Printer:
    """Shows one turn's events; remembers a confirmation to ask about."""

    def __init__(self, write: Write) -> None:
        self.write = write
        self.confirm: str | None = None
        self.answer_id: uuid.UUID | None = None  # the turn's `done` names its answer
        self._mid_line = False

    async def __call__(self, event: ChatEvent) -> None:
        data = event.data
        if event.event == "token":
            self.write(data["text"])
            self._mid_line = not data["text"].endswith("\n")
        elif event.event == "tool_call":
            self._line(f"  · {data['name']}")
        elif event.event == "tool_result" and not data["ok"]:
            self._line(f"  · failed: {data['result']}")
        elif event.event == "confirm":
            self.confirm = str(data["summary"])
        elif event.event == "error":
            self._line(f"! {data['detail']}")
        elif event.event == "done":
            self.answer_id = uuid.UUID(str(data["message_id"]))

    def _line(self, text: str) -> None:
        self.write(("\n" if self._mid_line else "") + text + "\n")
        self._mid_line = False


async def converse(
    assistant: Assistant,
    user: Principal,
    *,
    token: str | None,
    read: Read = read_line,
    write: Write = write_out,
) -> uuid.UUID | None:
    """Chat until end of input or "exit"; returns the conversation's id."""
    conversation_id: uuid.UUID | None = None
    last_answer_id: uuid.UUID | None = None
    queued: str | None = None
    while True:
        line = queued if queued is not None else await read("you> ")
        queued = None
        if line is None or line.strip().lower() in QUIT:
            return conversation_id
        if not line.strip():
            continue
        try:
            turn = await assistant.open_turn(
                user,
                line,
                conversation_id=conversation_id,
                token=token,
                last_answer_id=last_answer_id,
            )
        except DomainError as exc:
            write(f"! {exc.detail}\n")
            continue
        conversation_id = turn.conversation_id
        printer = _Printer(write)
        await turn.run(printer)
        last_answer_id = printer.answer_id
        if printer.confirm is None:
            write("\n")
            continue
        answer = await read(f"{printer.confirm} [y/N] ")
        queued = "yes" if (answer or "").strip().lower() in ("y", "yes") else "no"


async def _main(open_container: Callable[[], AppContext], token: str | None) -> None:
    from mcp_server.stdio import resolve_user

    container = open_container()
    try:
        user = await resolve_user(container, token)
        assistant = Assistant.for_container(container)
        try:
            await assistant.start()
            mode = "offline assistant" if assistant.agent.mode == "offline" else "model"
            write_out(f"Chatting as {user.email} ({mode}). Type exit to leave.\n")
            await converse(assistant, user, token=token)
        finally:
            await assistant.aclose()
    finally:
        await container.aclose()


def run_chat(open_container: Callable[[], AppContext]) -> None:
    """The `todo chat` command, with the container `open_container` builds."""
    from services.migrations.runner import upgrade

    settings = get_settings()
    sys.stderr.write(settings.data_notice + "\n")
    if settings.is_sqlite:
        upgrade(settings.database_url)
    try:
        anyio.run(_main, open_container, os.environ.get(TOKEN_ENV) or None)
    except DomainError as exc:
        sys.stderr.write(f"todo chat: {exc.detail}\n")
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        write_out("\n")


__all__ = ["converse", "run_chat"]
