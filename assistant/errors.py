"""What can go wrong in a chat turn beyond the user's own mistakes.

    AssistantError            a turn cannot go on; its detail becomes the `error` event
     ├── ModelError           the model's server failed, refused, or did not answer in time
     └── ToolsUnavailable     the MCP server could not be reached or refused the connection

A tool that fails (bad argument, unknown task) is not an exception here: its
error goes back to the model, or into the offline assistant's answer.
"""


class AssistantError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ModelError(AssistantError):
    pass


class ToolsUnavailable(AssistantError):
    pass


__all__ = ["AssistantError", "ModelError", "ToolsUnavailable"]
