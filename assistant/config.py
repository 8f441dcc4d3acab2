"""The assistant's configuration (docs/reference.md, Configuration): which model, which MCP
server, tracing, and the limits of one chat turn.

Read from the environment like `Settings`; any field `Settings` also has wins,
so moving a field into `Settings` changes nothing for its users.
"""

from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "gpt-4o-mini"


class AssistantSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # No key: the offline assistant answers.
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = DEFAULT_MODEL
    # Set: tools come from that MCP server over streamable HTTP, as the caller's
    # token; unset: from this process's own server, in memory.
    mcp_url: str | None = None

    langfuse_public_key: str | None = None
    langfuse_secret_key: SecretStr | None = None
    langfuse_host: str | None = None

    chat_max_tool_steps: int = Field(default=6, ge=1, le=20)
    chat_history_tokens: int = Field(default=6000, ge=500)
    chat_model_timeout_seconds: float = Field(default=30.0, gt=0)
    chat_model_retries: int = Field(default=1, ge=0, le=5)
    chat_state_ttl_seconds: int = Field(default=900, ge=10)
    chat_max_message_chars: int = Field(default=4000, ge=1)

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
