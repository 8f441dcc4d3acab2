"""Configuration from the environment (and `.env` when present)."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ChatSettings(BaseSettings):
    """The chat's settings, declared once: `Settings` has them, and the
    assistant reads them as `assistant.config.AssistantSettings`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # No key: the offline assistant answers.
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
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


class Settings(ChatSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./todo.db"
    event_bus: Literal["memory", "kafka", "dapr"] = "memory"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_group_prefix: str = ""
    dapr_http_port: int = 3500
    dapr_pubsub_name: str = "pubsub-kafka"
    redis_url: str | None = None

    data_dir: Path = Path("./.todo")
    jwt_private_key_file: Path | None = None
    # Key rotation: earlier signing keys (PEM files, comma-separated) whose
    # tokens still verify until they expire; the JWKS lists them too.
    jwt_previous_key_files: str = ""
    jwt_issuer: str = "todo-app"
    access_token_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    login_link_ttl_seconds: int = Field(default=15 * 60, ge=30)
    # Remote MCP clients connected over OAuth: short-lived access tokens,
    # refresh tokens that rotate on every use.
    oauth_access_token_ttl_seconds: int = Field(default=3600, ge=60)
    oauth_refresh_token_ttl_days: int = Field(default=30, ge=1)

    public_url: str = "http://127.0.0.1:8000"
    # The local user exists for the single-user laptop setup; by default it is
    # on exactly when the database is the embedded SQLite file.
    local_user: bool | None = None
    local_user_email: str = "me@todo.localhost"
    default_timezone: str | None = None

    ws_ping_seconds: float = Field(default=25.0, gt=0)
    relay_poll_seconds: float = Field(default=1.0, gt=0)
    service_name: str = "all"
    smtp_url: str | None = None
    smtp_from: str = "todo <todo@localhost>"
    # Webhooks may only go to public addresses unless this is on (a laptop, or
    # a receiver inside the cluster): a user could otherwise make the service
    # POST into its own network.
    webhook_allow_private: bool = False

    rate_limit_per_user_per_second: int = Field(default=100, ge=1)
    rate_limit_auth_per_minute: int = Field(default=20, ge=1)
    # Password guessing: after this many consecutive failed logins of one
    # account (or from one address) further attempts wait, twice as long
    # after every further failure, up to the maximum.
    login_lockout_account_failures: int = Field(default=5, ge=1)
    login_lockout_address_failures: int = Field(default=20, ge=1)
    login_lockout_seconds: float = Field(default=30.0, gt=0)
    login_lockout_max_seconds: float = Field(default=900.0, gt=0)
    # Browser origins allowed to call the API cross-origin (comma-separated);
    # empty: no CORS headers at all, so only the app's own page can.
    cors_origins: str = ""

    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"

    db_pool_size: int = Field(default=10, ge=1)
    db_echo: bool = False

    @property
    def signing_key_file(self) -> Path:
        """The JWT signing key: `JWT_PRIVATE_KEY_FILE`, else `jwt-private.pem` in `DATA_DIR`."""
        return self.jwt_private_key_file or self.data_dir / "jwt-private.pem"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def local_user_enabled(self) -> bool:
        return self.is_sqlite if self.local_user is None else self.local_user


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
