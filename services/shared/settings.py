"""Configuration from the environment (and `.env` when present).

A secret can also come from a file: `<NAME>_FILE` holds the path of a file
whose content is the value (e.g. `DATABASE_URL_FILE`), as a Kubernetes
Secret mounted as a volume gives it. Only the variables in `FILE_VARIABLES`
are read this way; setting both forms of one is an error.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Self

import platformdirs
from pydantic import Field, PrivateAttr, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url

APP_NAME = "todo-app"
SQLITE_FILE = "todo.db"
# Where `make run` kept the database before the per-user folder: the folder it ran in.
OLD_DEFAULT = Path(SQLITE_FILE)


def default_data_dir() -> Path:
    """This user's data folder: `$XDG_DATA_HOME/todo-app` (else `~/.local/share/todo-app`)
    on Linux, `~/Library/Application Support/todo-app` on macOS,
    `%LOCALAPPDATA%\\todo-app` on Windows. The same wherever a command starts."""
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


FILE_VARIABLES = ("DATABASE_URL", "SMTP_URL", "OPENAI_API_KEY")


class SecretFileError(ValueError):
    """A `<NAME>_FILE` that cannot give a value: the service must not start."""


class SettingsError(ValueError):
    """Settings a process cannot run with (each fine alone): it must not start."""


class SecretFilesSource(PydanticBaseSettingsSource):
    """`<NAME>_FILE` for each of `FILE_VARIABLES` that is a field here."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ reads every variable at once

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name in FILE_VARIABLES:
            field = name.lower()
            path = os.environ.get(f"{name}_FILE")
            if field not in self.settings_cls.model_fields or not path:
                continue
            if os.environ.get(name):
                raise SecretFileError(f"{name} and {name}_FILE are both set: keep one of them")
            found[field] = read_secret_file(f"{name}_FILE", Path(path))
        return found


def read_secret_file(variable: str, path: Path) -> str:
    """The file's content without its trailing newline; a clear error naming
    the variable and the path when it is missing, unreadable or empty."""
    try:
        value = path.read_text(encoding="utf-8").rstrip("\r\n")
    except FileNotFoundError:
        raise SecretFileError(f"{variable}={path}: there is no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretFileError(f"{variable}={path}: cannot be read ({exc})") from None
    if not value.strip():
        raise SecretFileError(f"{variable}={path}: the file is empty")
    return value


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
    # How long a finished turn, already written ahead, waits before it is folded
    # into its conversation in the background (0: at once).
    chat_fold_delay_seconds: float = Field(default=0.0, ge=0, le=3600)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments, then the environment, then the `<NAME>_FILE` files, then `.env`.
        return (
            init_settings,
            env_settings,
            SecretFilesSource(settings_cls),
            dotenv_settings,
            file_secret_settings,
        )


class Settings(ChatSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Empty: the SQLite file todo.db in DATA_DIR.
    database_url: str = ""
    event_bus: Literal["memory", "kafka", "dapr"] = "memory"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_group_prefix: str = ""
    # A consumer waiting this long to join its group (coordinator not answering) is logged.
    kafka_group_join_patience_seconds: float = Field(default=60.0, gt=0)
    dapr_http_port: int = 3500
    # Set (as Dapr's sidecar injector does): publish through the Dapr SDK over gRPC.
    dapr_grpc_port: int | None = None
    dapr_pubsub_name: str = "pubsub-kafka"
    # What fires reminders when they are due: `builtin`, a worker of the recurring-task
    # service that watches its table; `dapr-jobs`, one job per reminder in Dapr's scheduler
    # (the Jobs API through the sidecar: needs DAPR_GRPC_PORT).
    reminder_scheduler: Literal["builtin", "dapr-jobs"] = "builtin"
    # EVENT_BUS=dapr: the Dapr secret store the secrets come from, read once at start-up
    # through the sidecar (the chart's `secrets-kubernetes`); empty: from the environment.
    # DAPR_SECRET_NAME is the secret of that store that holds them as keys (in Kubernetes
    # the release's Secret); see `STORE_KEYS`.
    dapr_secret_store: str = ""
    dapr_secret_name: str = "todo-app"  # noqa: S105 - a name, not a secret
    # How long start-up waits for the sidecar before the store counts as unreachable.
    dapr_secret_wait_seconds: float = Field(default=60.0, gt=0, le=600)
    redis_url: str | None = None

    # The embedded database and the generated signing key; per user, not per folder.
    data_dir: Path = Field(default_factory=default_data_dir)
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
    # Where the events' JSON Schemas are served (each event's `dataschema`);
    # empty: PUBLIC_URL + /schemas/events.
    event_schema_base_url: str = ""

    @property
    def event_schemas_at(self) -> str:
        return self.event_schema_base_url or f"{self.public_url.rstrip('/')}/schemas/events"

    # The local user exists for the single-user laptop setup; by default it is
    # on exactly when the database is the embedded SQLite file.
    local_user: bool | None = None
    local_user_email: str = "me@todo.localhost"
    default_timezone: str | None = None

    ws_ping_seconds: float = Field(default=25.0, gt=0)
    relay_poll_seconds: float = Field(default=1.0, gt=0)
    # Outbox rows the relay publishes at a time, and how many such batches it
    # works on at once (events/relay.py says how, per bus and database).
    relay_batch_size: int = Field(default=200, ge=1, le=5000)
    relay_window: int = Field(default=8, ge=1, le=64)
    service_name: str = "all"
    smtp_url: str | None = None
    smtp_from: str = "todo <todo@localhost>"
    # Webhooks may only go to public addresses unless this is on (a laptop, or
    # a receiver inside the cluster): a user could otherwise make the service
    # POST into its own network.
    webhook_allow_private: bool = False
    # Web Push (browser push notifications); off: the push routes answer 404.
    push_enabled: bool = True
    # Web Push: the VAPID signing key (EC P-256, PEM); generated in DATA_DIR
    # when unset. In production it comes from the secret store.
    vapid_private_key_file: Path | None = None
    # Who runs this server, for push services (RFC 8292 `sub`): mailto: or https:.
    vapid_subject: str = "mailto:todo@localhost"
    # Push endpoints may be http:// and on loopback or private addresses
    # (a local push service in development and tests); off, only https:// to
    # public hosts, as every browser's push service is.
    push_allow_insecure: bool = False

    # How long a request's caller, once resolved from its bearer token, is
    # kept in this process (0: looked up in the database on every request).
    # Revocations and profile changes drop it at once (docs/reference.md).
    auth_cache_seconds: float = Field(default=10.0, ge=0, le=300)
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

    # How many processes serve task-api's port (`todo serve --workers`). More than one
    # needs everything they share outside the process: PostgreSQL, EVENT_BUS=kafka or dapr,
    # and REDIS_URL (the live feed, rate limits, cached callers, pending chat questions).
    workers: int = Field(default=1, ge=1, le=64)
    # The most connections one process holds to PostgreSQL (kept open once opened).
    db_pool_size: int = Field(default=20, ge=1, le=1000)
    db_echo: bool = False

    _database_by_default: bool = PrivateAttr(default=False)

    @model_validator(mode="after")
    def _default_database(self) -> Self:
        self.data_dir = self.data_dir.expanduser()
        if not self.database_url:
            self.database_url = sqlite_url(self.data_dir.absolute() / SQLITE_FILE)
            self._database_by_default = True
        return self

    @property
    def data_location(self) -> str:
        """Where the data lives, for a person: the SQLite file's path, or the
        server's URL without its password."""
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite":
            return f"{url.database or ':memory:'} (SQLite)"
        return url.render_as_string(hide_password=True)

    @property
    def data_notice(self) -> str:
        """What each command says first, on stderr: where the data is (and
        `left_behind`, when there is one)."""
        notice = f"todo: data in {self.data_location}; DATABASE_URL or DATA_DIR moves it"
        return notice + (f"\n{self.left_behind}" if self.left_behind else "")

    @property
    def left_behind(self) -> str | None:
        """A database in the current folder, where an earlier version kept it: not used."""
        here = OLD_DEFAULT.absolute()
        if self._database_by_default and here.is_file() and here != self.data_dir / SQLITE_FILE:
            return (
                f"todo: {here} is not used (an earlier default); to keep its tasks, "
                f"move it to {self.data_dir / SQLITE_FILE} while todo is stopped"
            )
        return None

    @property
    def signing_key_file(self) -> Path:
        """The JWT signing key: `JWT_PRIVATE_KEY_FILE`, else `jwt-private.pem` in `DATA_DIR`."""
        return self.jwt_private_key_file or self.data_dir / "jwt-private.pem"

    @property
    def push_key_file(self) -> Path:
        """The VAPID key: `VAPID_PRIVATE_KEY_FILE`, else `vapid-private.pem` in `DATA_DIR`."""
        return self.vapid_private_key_file or self.data_dir / "vapid-private.pem"

    def reminder_jobs_port(self) -> int:
        """The sidecar gRPC port for the Dapr Jobs API (REMINDER_SCHEDULER=dapr-jobs)."""
        if self.dapr_grpc_port is None:
            raise SettingsError(
                "REMINDER_SCHEDULER=dapr-jobs schedules reminders through the Dapr sidecar's "
                "gRPC API: set DAPR_GRPC_PORT (Dapr's sidecar injector sets it), or use "
                "REMINDER_SCHEDULER=builtin"
            )
        return self.dapr_grpc_port

    def worker_processes(self, service: str, workers: int | None = None) -> int:
        """How many processes serve `service` (`workers`, else WORKERS), once checked
        that nothing they share lives inside one of them."""
        count = self.workers if workers is None else workers
        if count == 1:
            return 1
        if count < 1:
            raise SettingsError(f"--workers {count}: give 1 or more worker processes")
        if service != "task-api":
            raise SettingsError(
                f"{count} workers: only task-api runs as several worker processes; "
                + (
                    "the embedded process (`todo serve`) is one process by design: "
                    "run `todo serve --service task-api` and the other services apart"
                    if service == "all"
                    else f"run more replicas of {service} instead"
                )
            )
        missing = []
        if self.is_sqlite:
            missing.append("DATABASE_URL of a PostgreSQL server (SQLite is one process's file)")
        if self.event_bus == "memory":
            missing.append("EVENT_BUS=kafka or dapr (the memory bus lives inside one process)")
        if not self.redis_url:
            missing.append(
                "REDIS_URL (the live feed, rate limits and pending chat questions "
                "span the workers through Redis)"
            )
        if missing:
            raise SettingsError(
                f"{count} task-api workers share what each would otherwise keep to itself: "
                "set " + "; ".join(missing) + ", or run one worker"
            )
        return count

    def secret_store_ports(self) -> tuple[int, int] | None:
        """The sidecar's (HTTP, gRPC) ports when the secrets come from a Dapr secret
        store (EVENT_BUS=dapr and DAPR_SECRET_STORE set), else None."""
        if not self.dapr_secret_store:
            return None
        if self.event_bus != "dapr":
            raise SettingsError(
                f"DAPR_SECRET_STORE={self.dapr_secret_store} reads the secrets through the Dapr "
                f"sidecar: set EVENT_BUS=dapr, or unset DAPR_SECRET_STORE to take them from "
                f"the environment (EVENT_BUS={self.event_bus})"
            )
        if self.dapr_grpc_port is None:
            raise SettingsError(
                f"DAPR_SECRET_STORE={self.dapr_secret_store} reads the secrets through the Dapr "
                "sidecar's gRPC API: set DAPR_GRPC_PORT (Dapr's sidecar injector sets it)"
            )
        return self.dapr_http_port, self.dapr_grpc_port

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def local_user_enabled(self) -> bool:
        return self.is_sqlite if self.local_user is None else self.local_user


# The keys of the secret store's secret (DAPR_SECRET_NAME), the same as the chart's
# Secret, and the setting each stands in for.
STORE_KEYS = {
    "openai-api-key": "OPENAI_API_KEY",
    "smtp-url": "SMTP_URL",
    "jwt-private.pem": "JWT_PRIVATE_KEY_FILE",
    "vapid-private.pem": "VAPID_PRIVATE_KEY_FILE",
}


@dataclass(frozen=True)
class StoreSecrets:
    """What start-up takes from the secret store: the settings with the store's
    OPENAI_API_KEY and SMTP_URL, and the store's signing keys (PEM)."""

    settings: Settings
    jwt_private_key: bytes | None
    vapid_private_key: bytes | None
    # The keys of `STORE_KEYS` the store's secret holds, and those it does not.
    found: tuple[str, ...]
    missing: tuple[str, ...]


def _set_otherwise(settings: Settings, key: str) -> bool:
    """Whether the setting `key` stands in for is set by the environment (or its
    `_FILE`, or `.env`)."""
    return {
        "openai-api-key": settings.openai_api_key is not None,
        "smtp-url": settings.smtp_url is not None,
        "jwt-private.pem": settings.jwt_private_key_file is not None,
        "vapid-private.pem": settings.vapid_private_key_file is not None,
    }[key]


def with_store_secrets(settings: Settings, secret: Mapping[str, str]) -> StoreSecrets:
    """`settings` with the values of the store's `secret` (its keys and values).

    Each secret has one source. A key the store holds is the value, and the same setting
    given by the environment too is an error (which one would an operator mean?). A key the
    store does not hold (or holds empty) leaves the setting as the environment gives it,
    unset by default: the OpenAI key and SMTP are optional (the offline assistant, no
    email), and without a stored JWT or VAPID key the key file is used, generated in
    DATA_DIR when missing, as in every other mode. Keys the store holds that are not in
    `STORE_KEYS` are not used."""
    found = tuple(k for k in STORE_KEYS if secret.get(k, "").strip())
    missing = tuple(k for k in STORE_KEYS if k not in found)
    clashes = [k for k in found if _set_otherwise(settings, k)]
    if clashes:
        where = (
            f"the Dapr secret store {settings.dapr_secret_store!r} "
            f"(secret {settings.dapr_secret_name!r})"
        )
        names = ", ".join(_variables(k) for k in clashes)
        raise SettingsError(
            f"{names}: set in the environment, and {where} holds "
            f"{', '.join(clashes)}; with DAPR_SECRET_STORE the secrets come from the store: "
            "unset these variables (or remove the keys from the store to use the environment's)"
        )
    update: dict[str, Any] = {}
    if "openai-api-key" in found:
        update["openai_api_key"] = SecretStr(secret["openai-api-key"].strip())
    if "smtp-url" in found:
        update["smtp_url"] = secret["smtp-url"].strip()
    return StoreSecrets(
        settings=settings.model_copy(update=update),
        jwt_private_key=_pem(secret, "jwt-private.pem", found),
        vapid_private_key=_pem(secret, "vapid-private.pem", found),
        found=found,
        missing=missing,
    )


def _variables(key: str) -> str:
    name = STORE_KEYS[key]
    return f"{name} (or {name}_FILE)" if name in FILE_VARIABLES else name


def _pem(secret: Mapping[str, str], key: str, found: tuple[str, ...]) -> bytes | None:
    return secret[key].encode() if key in found else None


def settings_error(exc: ValidationError) -> str:
    """What is wrong with the environment, one line per variable: its name as it is set
    (`REMINDER_SCHEDULER='weekly': Input should be 'builtin' or 'dapr-jobs'`)."""
    lines = []
    for error in exc.errors(include_url=False):
        where = "_".join(str(part) for part in error["loc"]).upper()
        message = str(error["msg"]).removeprefix("Value error, ")
        if where:
            lines.append(f"{where}={error['input']!r}: {message}")
        else:
            lines.append(message)
    return "\n".join(lines)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
