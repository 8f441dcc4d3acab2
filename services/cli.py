"""The `todo` command."""

import asyncio
import errno
import os
import socket
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from services.bootstrap import bootstrap
from services.migrations.runner import upgrade, upgrade_reporting, wait_for_schema
from services.notification.webpush import b64url_public_key
from services.shared.auth import accounts
from services.shared.auth.keys import (
    key_id,
    load_or_create_private_key,
    load_or_create_vapid_key,
)
from services.shared.settings import (
    SecretFileError,
    Settings,
    SettingsError,
    get_settings,
    settings_error,
)

app = typer.Typer(help="todo-app: a chat-first task assistant.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
token_app = typer.Typer(help="Personal access tokens.", no_args_is_help=True)
keys_app = typer.Typer(
    help="The keys that sign access tokens and Web Push messages.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(keys_app, name="keys")


class ServiceName(StrEnum):
    ALL = "all"
    TASK_API = "task-api"
    RECURRING_TASK = "recurring-task"
    NOTIFICATION = "notification"
    AUDIT = "audit"


def say_where_the_data_is(settings: Settings) -> None:
    typer.echo(settings.data_notice, err=True)


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is printed; a busy port is one
    clear line and exit status 1."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            reason = "is already in use (is todo already running?)"
        else:
            reason = f"cannot be used: {exc.strerror or exc}"
        typer.secho(
            f"error: port {port} on {host} {reason}; choose another: "
            f"make run PORT={port + 1}, or todo serve --port {port + 1}",
            fg="red",
            err=True,
        )
        raise typer.Exit(1) from None
    sock.set_inheritable(True)
    return sock


async def _login_link() -> str:
    container = bootstrap()
    try:
        async with container.uow() as uow:
            user = await accounts.ensure_local_user(
                uow,
                email=container.settings.local_user_email,
                timezone=container.default_timezone,
            )
        async with container.uow() as uow:
            secret = await accounts.create_login_link(
                uow,
                user_id=user.user_id,
                ttl=timedelta(seconds=container.settings.login_link_ttl_seconds),
            )
        return secret
    finally:
        await container.aclose()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    service: Annotated[ServiceName, typer.Option(help="What this process runs")] = ServiceName.ALL,
    migrate: Annotated[
        bool, typer.Option("--migrate", help="Apply migrations first (always done on SQLite)")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Processes serving the port (task-api with PostgreSQL, Kafka or Dapr, and "
            "Redis); default WORKERS, else 1",
        ),
    ] = None,
) -> None:
    """Serve the system (`all`, the embedded single process) or one service."""
    import uvicorn

    from services.app import build_app
    from services.shared.logs import configure

    settings = get_settings()
    processes = settings.worker_processes(service.value, workers)
    listening = _listen(host, port)
    say_where_the_data_is(settings)
    if settings.is_sqlite or migrate:
        _upgrade_and_say(settings)
    if settings.local_user_enabled and service in (ServiceName.ALL, ServiceName.TASK_API):
        secret = asyncio.run(_login_link())
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        url = f"http://{shown}:{port}"
        again = "todo login-link" + ("" if url == settings.public_url else f" --url {url}")
        typer.secho(
            f"\n  Open {url}/login?token={secret}\n"
            "  (a one-time login link for the local user; signed out? "
            f"`{again}` prints a fresh one)\n",
            fg="green",
            err=True,
        )
    log_config = configure(settings.log_format, settings.log_level)
    if processes > 1:
        _serve_workers(listening, service, processes, log_config)
        return
    try:
        served = build_app(service=service.value, settle_heap=True)
    except BaseException:
        listening.close()
        raise
    config = uvicorn.Config(served, host=host, port=port, log_config=log_config)
    uvicorn.Server(config).run(sockets=[listening])


def _serve_workers(
    listening: socket.socket, service: ServiceName, processes: int, log_config: object
) -> None:
    """`processes` workers accepting on one socket, each building its own app (and
    container) from the environment; uvicorn's supervisor restarts one that dies.
    Their counters and histograms are summed on `/metrics` through files in
    PROMETHEUS_MULTIPROC_DIR (a fresh folder unless it is set)."""
    import shutil
    import tempfile

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    os.environ["SERVICE_NAME"] = service.value
    made = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        made = tempfile.mkdtemp(prefix="todo-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
    host, port = listening.getsockname()[:2]
    config = uvicorn.Config(
        "services.app:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=processes,
        log_config=log_config,  # type: ignore[arg-type]
    )
    typer.echo(f"todo: {processes} {service.value} workers on {host}:{port}", err=True)
    try:
        Multiprocess(config, sockets=[listening]).run()
    finally:
        listening.close()
        if made:
            shutil.rmtree(made, ignore_errors=True)


@app.command("login-link")
def login_link(
    url: Annotated[
        str | None,
        typer.Option(help="Where the page is served (default: PUBLIC_URL)"),
    ] = None,
) -> None:
    """Print a fresh one-time login link for the local user of this data (after
    signing out, or when the one `todo serve` printed is spent or expired)."""
    settings = get_settings()
    if not settings.local_user_enabled:
        typer.secho(
            f"error: {settings.data_location} has no local user (LOCAL_USER is off): "
            "sign in with an email and password",
            fg="red",
            err=True,
        )
        raise typer.Exit(1)
    say_where_the_data_is(settings)
    if settings.is_sqlite:
        upgrade(settings.database_url)
    secret = asyncio.run(_login_link())
    minutes = settings.login_link_ttl_seconds // 60
    typer.echo(f"{(url or settings.public_url).rstrip('/')}/login?token={secret}")
    typer.echo(f"(works once, for {minutes} minutes)", err=True)


@app.command("chat")
def chat() -> None:
    """Chat with the assistant in the terminal, as the user of TODO_API_TOKEN or the local user."""
    from assistant.terminal import run_chat

    run_chat(bootstrap)


@app.command("mcp")
def mcp_stdio() -> None:
    """MCP server on stdio (for Claude Desktop): acts as the user of
    TODO_API_TOKEN, or the local user."""
    from mcp_server.stdio import run_stdio

    run_stdio(bootstrap)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations to DATABASE_URL (default: the SQLite file in DATA_DIR)."""
    settings = get_settings()
    if settings.left_behind:
        typer.echo(settings.left_behind, err=True)
    _upgrade_and_say(settings)


def _upgrade_and_say(settings: Settings) -> None:
    done = upgrade_reporting(settings.database_url)
    where = settings.data_location
    if done.created:
        message = f"created the database {where}, at revision {done.after}"
    elif done.before is None:
        message = f"set up the empty database {where}, at revision {done.after}"
    elif done.before != done.after:
        message = f"migrated the database {where} from revision {done.before} to {done.after}"
    else:
        message = f"the database {where} is already at the latest revision, {done.after}"
    typer.echo(message, err=True)


@db_app.command("wait")
def db_wait(
    timeout: Annotated[float, typer.Option(min=0, help="Seconds to wait before giving up")] = 600,
) -> None:
    """Wait until DATABASE_URL is reachable and migrated to this version (a service's
    start in a cluster, where the migrations run beside it)."""
    url = get_settings().database_url
    try:
        revision = asyncio.run(wait_for_schema(url, give_up_after=timeout))
    except TimeoutError as exc:
        typer.secho(f"error: {exc}; run `todo db upgrade`", fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"database is at migration {revision}", err=True)


@keys_app.command("init")
def keys_init() -> None:
    """Create the signing key (JWT_PRIVATE_KEY_FILE, else DATA_DIR/jwt-private.pem) and the
    Web Push key (VAPID_PRIVATE_KEY_FILE, else DATA_DIR/vapid-private.pem) when they are
    missing, and print their paths, the key id and the VAPID public key. Run it once before
    starting several services that share the keys, so they never race to create them."""
    settings = get_settings()
    path = settings.signing_key_file
    existed = path.exists()
    try:
        key = load_or_create_private_key(path)
    except (OSError, ValueError) as exc:
        typer.secho(f"error: {path}: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{'kept' if existed else 'created'} {path} (kid {key_id(key.public_key())})")
    path = settings.push_key_file
    existed = path.exists()
    try:
        vapid = load_or_create_vapid_key(path)
    except (OSError, ValueError) as exc:
        typer.secho(f"error: {path}: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    public = b64url_public_key(vapid)
    typer.echo(f"{'kept' if existed else 'created'} {path} (VAPID public key {public})")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="What the token is for, e.g. claude-desktop")],
    email: Annotated[str | None, typer.Option(help="Account; default: the local user")] = None,
    expires_in_days: Annotated[
        int | None,
        typer.Option(min=1, max=3650, help="Days until it expires; default: until revoked"),
    ] = None,
) -> None:
    """Print a new personal access token (shown once)."""

    async def create() -> str:
        container = bootstrap()
        try:
            async with container.uow() as uow:
                if email is None:
                    user = await accounts.ensure_local_user(
                        uow,
                        email=container.settings.local_user_email,
                        timezone=container.default_timezone,
                    )
                else:
                    found = await uow.accounts.user_by_email(accounts.normalise_email(email))
                    if found is None:
                        raise typer.BadParameter(f"no account {email}", param_hint="--email")
                    user = found[0]
            async with container.uow() as uow:
                token = await accounts.create_personal_token(
                    uow,
                    user_id=user.user_id,
                    name=name,
                    expires_in=None if expires_in_days is None else timedelta(days=expires_in_days),
                )
            return token.token
        finally:
            await container.aclose()

    settings = get_settings()
    if settings.is_sqlite:
        upgrade(settings.database_url)
    typer.echo(asyncio.run(create()))


@app.command()
def parse(
    text: Annotated[str | None, typer.Argument(help="What a person would type")] = None,
    now: Annotated[str | None, typer.Option(help="The present, ISO 8601 (default: now)")] = None,
    tz: Annotated[str | None, typer.Option(help="IANA zone (default: this machine's)")] = None,
    batch: Annotated[
        str | None,
        typer.Option(help='JSON lines {"id","text","now","tz"} from FILE ("-" for stdin)'),
    ] = None,
) -> None:
    """Print the offline parser's JSON reading of an utterance."""
    from services.parse_command import parse_batch, parse_one

    if (text is None) == (batch is None):
        raise typer.BadParameter("give either TEXT or --batch FILE")
    try:
        if batch is not None:
            parse_batch(batch, default_tz=tz)
        else:
            typer.echo(parse_one(text or "", now=now, tz=tz))
    except ValueError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None


class ExportFormatName(StrEnum):
    JSON = "json"
    CSV = "csv"


@app.command("export")
def export(
    format: Annotated[
        ExportFormatName, typer.Option(help="json: all your data; csv: your tasks")
    ] = ExportFormatName.JSON,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout)")
    ] = None,
    email: Annotated[str | None, typer.Option(help="Account; default: the local user")] = None,
) -> None:
    """Export your data: tasks, notifications and audit trail (JSON), or tasks as CSV."""
    from services.portability.cli import export_command

    export_command(open_container=bootstrap, format=format.value, output=output, email=email)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="Our JSON export, a CSV or an iCalendar file")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would be created; change nothing")
    ] = False,
    email: Annotated[str | None, typer.Option(help="Account; default: the local user")] = None,
) -> None:
    """Import tasks: all of the file, or nothing and a report of every problem."""
    from services.portability.cli import import_command

    import_command(file, open_container=bootstrap, dry_run=dry_run, email=email)


def main() -> None:
    try:
        get_settings()  # a secret file that cannot be read stops every command here
    except SecretFileError as exc:
        typer.echo(f"todo: {exc}", err=True)
        raise SystemExit(2) from None
    except ValidationError as exc:  # a setting with a value it cannot take
        for line in settings_error(exc).splitlines():
            typer.echo(f"todo: {line}", err=True)
        raise SystemExit(2) from None
    try:
        app()
    except SettingsError as exc:  # settings this command cannot run with
        typer.echo(f"todo: {exc}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
