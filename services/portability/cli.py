"""`todo export` and `todo import FILE`, acting as the local user or `--email`."""

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import typer

from services.migrations.runner import upgrade
from services.portability.errors import ImportRefused, ImportTooLarge
from services.portability.export import export_document, export_tasks, tasks_csv
from services.portability.importing.drafts import MAX_BYTES
from services.portability.importing.service import import_file
from services.portability.schemas import ExportFormat, ImportReport
from services.shared.auth import accounts
from services.shared.auth.principal import Principal
from services.shared.context import AppContext
from services.shared.settings import get_settings


async def _user(container: AppContext, email: str | None) -> Principal:
    async with container.uow() as uow:
        if email is None:
            return await accounts.ensure_local_user(
                uow, email=container.settings.local_user_email, timezone=container.default_timezone
            )
        found = await uow.accounts.user_by_email(accounts.normalise_email(email))
    if found is None:
        raise typer.BadParameter(f"no account {email}", param_hint="--email")
    return found[0]


async def run_export(container: AppContext, *, format: ExportFormat, email: str | None) -> str:
    user = await _user(container, email)
    if format == "csv":
        async with container.uow() as uow:
            return tasks_csv(await export_tasks(uow, user=user))
    document = await export_document(container, user=user)
    return document.model_dump_json(indent=2) + "\n"


async def run_import(
    container: AppContext, *, content: bytes, filename: str, dry_run: bool, email: str | None
) -> ImportReport:
    user = await _user(container, email)
    async with container.uow() as uow:
        return await import_file(
            uow, user=user, content=content, dry_run=dry_run, filename=filename
        )


def _migrate() -> None:
    """The embedded database is brought up to date first, as `todo serve` does
    (outside any event loop: migrations run one of their own)."""
    settings = get_settings()
    if settings.is_sqlite:
        upgrade(settings.database_url)


def export_command(
    *,
    open_container: Callable[[], AppContext],
    format: str = "json",
    output: Path | None = None,
    email: str | None = None,
) -> None:
    """Write the export (`json`: everything; `csv`: the tasks) to `output`,
    or to standard output."""
    if format not in ("json", "csv"):
        raise typer.BadParameter("json or csv", param_hint="--format")
    chosen: ExportFormat = "csv" if format == "csv" else "json"

    async def run() -> str:
        container = open_container()
        try:
            return await run_export(container, format=chosen, email=email)
        finally:
            await container.aclose()

    _migrate()
    text = asyncio.run(run())
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"exported to {output}", err=True)


def import_command(
    path: Path,
    *,
    open_container: Callable[[], AppContext],
    dry_run: bool = False,
    email: str | None = None,
) -> None:
    """Import a file; on refusal print every problem and exit with status 1."""

    async def run(content: bytes) -> ImportReport:
        container = open_container()
        try:
            return await run_import(
                container, content=content, filename=path.name, dry_run=dry_run, email=email
            )
        finally:
            await container.aclose()

    if not path.is_file():
        raise typer.BadParameter(f"{path} is not a file", param_hint="FILE")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ImportTooLarge(f"{path} is over {MAX_BYTES // (1024 * 1024)} MB: split it")
        _migrate()
        report = asyncio.run(run(path.read_bytes()))
    except ImportTooLarge as exc:
        typer.secho(f"refused: {exc.detail}", fg="red", err=True)
        raise typer.Exit(1) from None
    except ImportRefused as exc:
        typer.secho(f"refused, nothing imported: {exc.detail}", fg="red", err=True)
        for problem in exc.report.errors:
            where = "file" if problem.row is None else f"row {problem.row}"
            typer.echo(f"  {where}: {problem.field}: {problem.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(summary(report))


def summary(report: ImportReport) -> str:
    verb = "would create" if report.dry_run else "created"
    lines = [
        f"{report.format}: {report.records} record(s); {verb} {report.created}, "
        f"{report.duplicates} duplicate(s), {report.skipped} skipped",
        *(f"  note: {n}" for n in report.notes),
        *(
            f"  row {i.row}: {i.outcome}: {i.title}" + (f" ({i.note})" if i.note else "")
            for i in report.items
            if i.outcome != "created" or i.note
        ),
    ]
    return "\n".join(lines)


__all__ = ["export_command", "import_command", "run_export", "run_import", "summary"]
