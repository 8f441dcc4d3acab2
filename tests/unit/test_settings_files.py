"""Secrets read from files: `<NAME>_FILE` names a file whose content is the
value (a Kubernetes Secret mounted as a volume); plain variables still work,
and a missing or empty file stops the start with the variable and the path."""

import subprocess
import sys
from pathlib import Path

import pytest

from assistant.config import AssistantSettings
from services.shared.settings import SecretFileError, Settings

URL = "postgresql+asyncpg://todo:s3cret@db.internal:5432/todo"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "SMTP_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the checkout


def secret(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def test_values_come_from_the_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL_FILE", str(secret(tmp_path, "database-url", URL + "\n")))
    monkeypatch.setenv("SMTP_URL_FILE", str(secret(tmp_path, "smtp-url", "smtp://u:p@mail:587")))
    monkeypatch.setenv("OPENAI_API_KEY_FILE", str(secret(tmp_path, "key", "sk-test-123\n")))
    settings = Settings()
    assert settings.database_url == URL  # the trailing newline is not part of it
    assert settings.smtp_url == "smtp://u:p@mail:587"
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-test-123"
    # The assistant's settings read the same way.
    chat = AssistantSettings()
    assert chat.openai_api_key is not None
    assert chat.openai_api_key.get_secret_value() == "sk-test-123"


def test_plain_variables_still_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", URL)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-plain")
    settings = Settings()
    assert settings.database_url == URL
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-plain"
    assert settings.smtp_url is None


def test_a_missing_file_names_the_variable_and_the_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "database-url"
    monkeypatch.setenv("DATABASE_URL_FILE", str(missing))
    with pytest.raises(SecretFileError) as error:
        Settings()
    assert str(error.value) == f"DATABASE_URL_FILE={missing}: there is no such file"


@pytest.mark.parametrize("content", ["", "\n", "  \n"])
def test_an_empty_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str
) -> None:
    path = secret(tmp_path, "smtp-url", content)
    monkeypatch.setenv("SMTP_URL_FILE", str(path))
    with pytest.raises(SecretFileError, match=f"SMTP_URL_FILE={path}: the file is empty"):
        Settings()


def test_a_directory_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENAI_API_KEY_FILE", str(tmp_path))
    with pytest.raises(SecretFileError, match=f"OPENAI_API_KEY_FILE={tmp_path}: cannot be read"):
        Settings()


def test_both_forms_at_once_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", URL)
    monkeypatch.setenv("DATABASE_URL_FILE", str(secret(tmp_path, "database-url", URL)))
    with pytest.raises(SecretFileError, match="DATABASE_URL and DATABASE_URL_FILE are both set"):
        Settings()


def test_the_command_stops_with_the_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "database-url"
    monkeypatch.setenv("DATABASE_URL_FILE", str(missing))
    done = subprocess.run(
        [sys.executable, "-c", "from services.cli import main; main()", "db", "upgrade"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == f"todo: DATABASE_URL_FILE={missing}: there is no such file"
