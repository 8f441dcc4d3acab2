"""The composition root: one `bootstrap()` per process builds what it needs.

Only the entry points (`services.app`, `services.cli`, the services' `main`
modules) import it; everything below them is handed the container, typed as
`services.shared.context.AppContext`.

Nothing connects at import time; the engine connects on first use, the bus
and the workers when the app's lifespan calls `Container.start()`.
"""

import logging
import os
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy.ext.asyncio import AsyncEngine

from events.bus import Bus, Subscription
from events.factory import create_bus
from events.relay import OutboxRelay
from events.schemas import set_schema_base
from services.notification.channels import SmtpTarget, parse_smtp_url
from services.notification.webpush import PushSender
from services.recurring.reminders import ReminderScheduler
from services.shared.auth.cache import PrincipalCache
from services.shared.auth.invalidation import (
    Invalidation,
    LocalInvalidation,
    RedisInvalidation,
)
from services.shared.auth.keys import (
    KeyRing,
    load_or_create_vapid_key,
    parse_key_files,
    private_key_from_pem,
    vapid_key_from_pem,
)
from services.shared.auth.throttle import (
    LoginThrottle,
    MemoryFailureStore,
    RedisFailureStore,
    ThrottlePolicy,
)
from services.shared.db import create_engine, reader
from services.shared.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from services.shared.settings import (
    STORE_KEYS,
    Settings,
    SettingsError,
    get_settings,
    with_store_secrets,
)
from services.shared.timeutil import is_known_zone
from services.shared.uow import UnitOfWork
from services.tasks.realtime import ConnectionHub, Fanout, LocalFanout, RedisFanout

if TYPE_CHECKING:
    from events.jobs import DaprJobs

log = logging.getLogger(__name__)


class Worker(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Realtime:
    hub: ConnectionHub
    fanout: Fanout
    # Each process reads the live feed's topics itself (Kafka): no shared fanout.
    every_process: bool = False


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    keys: KeyRing
    bus: Bus
    relay: OutboxRelay
    realtime: Realtime
    reminders: ReminderScheduler
    smtp: SmtpTarget | None
    limiter: RateLimiter
    throttle: LoginThrottle = field(default_factory=lambda: LoginThrottle(MemoryFailureStore()))
    # Callers resolved from bearer tokens, kept AUTH_CACHE_SECONDS; dropped
    # here (and, with Redis, in the other processes) as revocations commit.
    invalidation: Invalidation = field(default_factory=lambda: LocalInvalidation(PrincipalCache(0)))
    extra_subscriptions: list[Subscription] = field(default_factory=list)
    # REMINDER_SCHEDULER=dapr-jobs: the Dapr Jobs API that fires the reminders instead.
    reminder_jobs: "DaprJobs | None" = None
    # The VAPID key from the Dapr secret store; None: VAPID_PRIVATE_KEY_FILE's (or DATA_DIR's).
    vapid_key: ec.EllipticCurvePrivateKey | None = None
    _started: bool = False
    _workers: list[Worker] = field(default_factory=list)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(
            self.engine,
            on_commit=self.relay.notify,
            on_principals_changed=self.invalidation.changed,
        )

    @property
    def principals(self) -> PrincipalCache:
        return self.invalidation.cache

    def reading(self) -> UnitOfWork:
        """A unit of work for reads only: autocommit, nothing to commit."""
        return UnitOfWork(self._reader)

    @cached_property
    def _reader(self) -> AsyncEngine:
        # Built once: each `execution_options` call makes a new engine object.
        return reader(self.engine)

    async def start(
        self, subscriptions: Sequence[Subscription] = (), workers: Sequence[Worker] = ()
    ) -> None:
        """Start consuming, relaying and the workers (the app's lifespan).

        What this process consumes and runs is the caller's to say: the app
        passes what `services.composition.compose` chose for its service."""
        if self._started:
            return
        self._started = True
        self._workers = list(workers)
        await self.realtime.fanout.start()
        await self.invalidation.start()
        await self.bus.start([*subscriptions, *self.extra_subscriptions])
        await self.relay.start()
        for worker in self._workers:
            await worker.start()

    @cached_property
    def push(self) -> PushSender | None:
        """Web Push, signed with the VAPID key (read, or generated in DATA_DIR, on
        first use: only the processes that deliver or subscribe need it). A key
        file that was named but cannot be read stops the process; a default one
        that cannot be created (a read-only file system) turns push off, as
        `PUSH_ENABLED=false` does."""
        settings = self.settings
        if not settings.push_enabled:
            return None
        if self.vapid_key is not None:
            return PushSender(
                self.vapid_key, settings.vapid_subject, allow_insecure=settings.push_allow_insecure
            )
        try:
            key = load_or_create_vapid_key(settings.push_key_file)
        except OSError as exc:
            if settings.vapid_private_key_file is not None:
                raise
            log.warning("web push is off: no VAPID key at %s (%s)", settings.push_key_file, exc)
            return None
        return PushSender(key, settings.vapid_subject, allow_insecure=settings.push_allow_insecure)

    @property
    def access_ttl(self) -> timedelta:
        return timedelta(seconds=self.settings.access_token_ttl_seconds)

    @property
    def default_timezone(self) -> str:
        return self.settings.default_timezone or system_timezone()

    async def aclose(self) -> None:
        if self._started:
            for worker in reversed(self._workers):
                await worker.stop()
            await self.relay.stop()
            await self.bus.stop()
            await self.realtime.fanout.stop()
            self._started = False
        await self.invalidation.stop()
        if self.reminder_jobs is not None:
            await self.reminder_jobs.stop()
        await self.limiter.aclose()
        await self.throttle.aclose()
        await self.engine.dispose()


def system_timezone() -> str:
    """This machine's IANA zone name, or UTC when it cannot be told."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text().strip())
    with suppress(OSError):
        candidates.append(str(Path("/etc/localtime").resolve()).split("zoneinfo/", 1)[-1])
    return next((c for c in candidates if c and is_known_zone(c)), "UTC")


@dataclass(frozen=True)
class Secrets:
    """The settings with the secrets in them, and the signing keys from a secret store."""

    settings: Settings
    jwt_key: rsa.RSAPrivateKey | None = None
    vapid_key: ec.EllipticCurvePrivateKey | None = None


def read_secrets(settings: Settings) -> Secrets:
    """With EVENT_BUS=dapr and DAPR_SECRET_STORE, the secrets of `STORE_KEYS` from that
    Dapr secret store, read once through the sidecar (`with_store_secrets` says which
    source wins); otherwise the settings as the environment gave them. A store that cannot
    be read is a SettingsError that names it: the process must not start."""
    ports = settings.secret_store_ports()
    if ports is None:
        return Secrets(settings)
    from events.dapr import DaprError, DaprUnavailable
    from events.secrets import read_secret

    store, name = settings.dapr_secret_store, settings.dapr_secret_name
    try:
        secret = read_secret(
            store,
            name,
            http_port=ports[0],
            grpc_port=ports[1],
            wait_seconds=settings.dapr_secret_wait_seconds,
        )
    except DaprUnavailable as exc:
        raise SettingsError(
            f"DAPR_SECRET_STORE={store}: the secrets cannot be read, the Dapr sidecar does "
            f"not answer: {exc}. Start the sidecar (or check DAPR_GRPC_PORT and "
            "DAPR_HTTP_PORT), or unset DAPR_SECRET_STORE to take the secrets from the environment"
        ) from None
    except DaprError as exc:
        raise SettingsError(
            f"DAPR_SECRET_STORE={store}: the secrets cannot be read: {exc}. The sidecar needs "
            f"a secret store component named {store} holding a secret {name} "
            "(DAPR_SECRET_NAME) that this app may read"
        ) from None
    stored = with_store_secrets(settings, secret)
    where = f"the Dapr secret store {store} (secret {name})"
    try:
        jwt_key = (
            private_key_from_pem(stored.jwt_private_key, f"jwt-private.pem of {where}")
            if stored.jwt_private_key is not None
            else None
        )
        vapid_key = (
            vapid_key_from_pem(stored.vapid_private_key, f"vapid-private.pem of {where}")
            if stored.vapid_private_key is not None
            else None
        )
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    log.info(
        "secrets from %s: %s; not there, from the environment or unset: %s",
        where,
        ", ".join(stored.found) or "none",
        ", ".join(f"{k} ({STORE_KEYS[k]})" for k in stored.missing) or "none",
    )
    return Secrets(stored.settings, jwt_key, vapid_key)


def bootstrap(settings: Settings | None = None, **overrides: Any) -> Container:
    settings = settings or get_settings()
    if overrides:
        settings = settings.model_copy(update=overrides)
    secrets = read_secrets(settings)
    settings = secrets.settings
    engine = create_engine(
        settings.database_url, pool_size=settings.db_pool_size, echo=settings.db_echo
    )
    bus = create_bus(
        settings.event_bus,
        client_id=settings.service_name,
        kafka_bootstrap_servers=settings.kafka_bootstrap_servers,
        dapr_http_port=settings.dapr_http_port,
        dapr_grpc_port=settings.dapr_grpc_port,
        dapr_pubsub_name=settings.dapr_pubsub_name,
        kafka_group_prefix=settings.kafka_group_prefix,
        kafka_group_join_patience=settings.kafka_group_join_patience_seconds,
    )
    set_schema_base(settings.event_schemas_at)
    relay = OutboxRelay(
        engine,
        bus,
        batch_size=settings.relay_batch_size,
        window=settings.relay_window,
        poll_interval=settings.relay_poll_seconds,
    )
    jobs = None
    if settings.reminder_scheduler == "dapr-jobs" and settings.dapr_grpc_port is not None:
        from events.jobs import DaprJobs

        jobs = DaprJobs(http_port=settings.dapr_http_port, grpc_port=settings.dapr_grpc_port)
    # A cached caller is dropped at once only where every process hears of the change: one
    # process (the memory bus), or several sharing Redis. Other processes reading the same
    # database (a broker, no Redis) look the token up every time.
    exact = settings.redis_url or settings.event_bus == "memory"
    principals = PrincipalCache(settings.auth_cache_seconds if exact else 0)
    hub = ConnectionHub()
    fanout: Fanout = LocalFanout(hub)
    every_process = bus.every_process_subscriptions
    if settings.redis_url and not every_process:
        fanout = RedisFanout(hub, settings.redis_url)
    return Container(
        settings=settings,
        engine=engine,
        keys=KeyRing.load(
            settings.signing_key_file,
            settings.jwt_issuer,
            parse_key_files(settings.jwt_previous_key_files),
            private_key=secrets.jwt_key,
        ),
        bus=bus,
        relay=relay,
        realtime=Realtime(hub, fanout, every_process),
        reminders=ReminderScheduler(engine, lambda: UnitOfWork(engine, on_commit=relay.notify)),
        invalidation=(
            RedisInvalidation(principals, settings.redis_url)
            if settings.redis_url
            else LocalInvalidation(principals)
        ),
        reminder_jobs=jobs,
        vapid_key=secrets.vapid_key,
        smtp=parse_smtp_url(settings.smtp_url, settings.smtp_from) if settings.smtp_url else None,
        limiter=RedisRateLimiter(settings.redis_url) if settings.redis_url else MemoryRateLimiter(),
        throttle=LoginThrottle(
            RedisFailureStore(settings.redis_url) if settings.redis_url else MemoryFailureStore(),
            ThrottlePolicy(
                account_failures=settings.login_lockout_account_failures,
                address_failures=settings.login_lockout_address_failures,
                lock_seconds=settings.login_lockout_seconds,
                max_lock_seconds=settings.login_lockout_max_seconds,
            ),
        ),
    )
