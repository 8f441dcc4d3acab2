"""The assistant's configuration (docs/reference.md, Configuration): which model, which MCP
server, tracing, and the limits of one chat turn.

The fields are declared once, as `services.shared.settings.ChatSettings`, which
the app's `Settings` also has; the values `Settings` carries win over the
environment's.
"""

from typing import Any

from services.shared.settings import ChatSettings

DEFAULT_MODEL: str = ChatSettings.model_fields["openai_model"].default


class AssistantSettings(ChatSettings):
    @property
    def model_enabled(self) -> bool:
        return self.openai_api_key is not None and bool(self.openai_api_key.get_secret_value())

    @property
    def tracing_enabled(self) -> bool:
        return bool(self.langfuse_public_key and self.langfuse_secret_key and self.langfuse_host)


def assistant_settings(settings: object | None = None, **overrides: Any) -> AssistantSettings:
    """The environment's values, under those `settings` (the app's) carries, under `overrides`."""
    carried = {
        name: getattr(settings, name)
        for name in AssistantSettings.model_fields
        if settings is not None and hasattr(settings, name)
    }
    return AssistantSettings(**{**carried, **overrides})


__all__ = ["DEFAULT_MODEL", "AssistantSettings", "assistant_settings"]
