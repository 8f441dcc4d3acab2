"""`todo chat`: the same assistant in the terminal, with a y/n prompt for what needs a yes."""

from assistant.chat import Assistant
from assistant.terminal import converse
from tests.conftest import User
from tests.integration.assistant.conftest import titles
from tests.integration.assistant.test_remote_mcp import principal_of


class Terminal:
    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)
        self.prompts: list[str] = []
        self.out: list[str] = []

    async def read(self, prompt: str) -> str | None:
        self.prompts.append(prompt)
        return self.lines.pop(0) if self.lines else None

    def write(self, text: str) -> None:
        self.out.append(text)

    @property
    def screen(self) -> str:
        return "".join(self.out)


async def test_a_terminal_conversation_with_a_confirmation(
    assistant: Assistant, alice: User
) -> None:
    terminal = Terminal("buy milk tomorrow", "", "delete the milk task", "y", "exit")
    conversation = await converse(
        assistant, principal_of(alice), token=None, read=terminal.read, write=terminal.write
    )
    assert conversation is not None
    assert "Added “Buy milk”, due tomorrow." in terminal.screen
    assert "  · add_task\n" in terminal.screen
    assert terminal.prompts.count("you> ") == 4
    assert 'Delete "Buy milk"? Reply yes or no. [y/N] ' in terminal.prompts
    assert "Deleted “Buy milk”." in terminal.screen
    assert await titles(alice) == []
    listed = (await alice.get(f"/api/conversations/{conversation}/messages")).json()
    assert [m["content"] for m in listed["items"] if m["role"] == "user"] == [
        "buy milk tomorrow",
        "delete the milk task",
        "yes",
    ]


async def test_anything_but_y_declines(assistant: Assistant, alice: User) -> None:
    await alice.add(title="Old report")
    terminal = Terminal("delete the old report", "")
    await converse(
        assistant, principal_of(alice), token=None, read=terminal.read, write=terminal.write
    )
    assert "OK, I left everything as it was." in terminal.screen
    assert await titles(alice) == ["Old report"]
