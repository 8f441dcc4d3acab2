"""The chat assistant: tool-calling agent, offline parser, conversations.

    assistant = Assistant.for_container(container)    # assistant.chat
    turn = await assistant.open_turn(user, "buy milk tomorrow")
    await turn.run(emit)                               # token, tool_call, ..., done | error

HTTP: `assistant.api` (POST /api/chat, /api/conversations, `assistant_lifespan`);
the terminal: `assistant.terminal.run_chat` (`todo chat`). Nothing is imported
here, so `assistant.parsing` (`todo parse`) stays free of the SDKs.
"""

__all__: list[str] = []
