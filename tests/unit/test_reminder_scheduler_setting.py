"""REMINDER_SCHEDULER chooses what fires reminders: the recurring-task service's own worker
(`builtin`, the default) or the Dapr Jobs API (`dapr-jobs`, which needs the sidecar's gRPC
port); any other value stops every command with a message that names the variable and
the values it takes."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.bootstrap import bootstrap
from services.cli import main
from services.composition import compose
from services.recurring.reminders import ReminderScheduler
from services.shared.settings import Settings, SettingsError, get_settings, settings_error
from testsupport.ports import free_port


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in ("REMINDER_SCHEDULER", "DAPR_GRPC_PORT", "EVENT_BUS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'todo.db'}")
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()  # the settings of this environment stay behind with it


def routes(service: str, **overrides: object) -> tuple[list[str], list[object]]:
    container = bootstrap(Settings(), service_name=service, **overrides)
    process = compose(service, container)
    paths = [route.path for router in process.routers for route in router.routes]  # type: ignore[attr-defined]
    return paths, process.workers


def test_the_builtin_scheduler_is_the_default() -> None:
    assert Settings().reminder_scheduler == "builtin"
    paths, workers = routes("recurring-task")
    assert "/job/{name}" not in paths
    assert any(isinstance(w, ReminderScheduler) for w in workers)


def test_dapr_jobs_takes_the_job_callback_instead_of_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REMINDER_SCHEDULER", "dapr-jobs")
    monkeypatch.setenv("DAPR_GRPC_PORT", "50001")
    assert Settings().reminder_scheduler == "dapr-jobs"
    paths, workers = routes("recurring-task")
    assert "/job/{name}" in paths
    assert not any(isinstance(w, ReminderScheduler) for w in workers)
    # Only the service that keeps the reminders answers the callback.
    assert "/job/{name}" not in routes("task-api")[0]


@pytest.mark.parametrize("value", ["weekly", "dapr", "BUILTIN", ""])
def test_a_value_it_cannot_take_names_the_variable_and_the_choices(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("REMINDER_SCHEDULER", value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    message = settings_error(refused.value)
    assert message.startswith(f"REMINDER_SCHEDULER={value!r}: ")
    assert "'builtin' or 'dapr-jobs'" in message


def test_dapr_jobs_without_the_sidecars_grpc_port_stops_the_service_saying_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REMINDER_SCHEDULER", "dapr-jobs")
    settings = Settings()  # commands that fire no reminders (migrations) still run
    with pytest.raises(SettingsError) as refused:
        routes("recurring-task")
    assert "set DAPR_GRPC_PORT" in str(refused.value)
    assert "REMINDER_SCHEDULER=builtin" in str(refused.value)
    assert settings.reminder_scheduler == "dapr-jobs"


def test_every_command_stops_with_the_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REMINDER_SCHEDULER", "weekly")
    monkeypatch.setattr("sys.argv", ["todo", "serve"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "todo: REMINDER_SCHEDULER='weekly': Input should be 'builtin' or 'dapr-jobs'" in err
    assert "Traceback" not in err


def test_serving_the_reminders_without_the_port_stops_with_the_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REMINDER_SCHEDULER", "dapr-jobs")
    monkeypatch.setenv("LOCAL_USER", "false")
    port = str(free_port())
    monkeypatch.setattr(
        "sys.argv", ["todo", "serve", "--service", "recurring-task", "--port", port]
    )
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "todo: REMINDER_SCHEDULER=dapr-jobs schedules reminders" in err
    assert "set DAPR_GRPC_PORT" in err
