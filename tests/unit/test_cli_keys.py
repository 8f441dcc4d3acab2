"""`todo keys init`: the signing key is made once, kept after that, shared by the
services that load it, and a broken key file is refused without being replaced."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.notification.webpush import b64url_public_key
from services.shared.auth.keys import KeyRing, key_id, load_or_create_vapid_key
from services.shared.settings import get_settings

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("JWT_PRIVATE_KEY_FILE", raising=False)
    monkeypatch.delenv("VAPID_PRIVATE_KEY_FILE", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_creates_the_key_once_and_keeps_it(data_dir: Path) -> None:
    first = runner.invoke(app, ["keys", "init"])
    assert first.exit_code == 0, first.output
    path = data_dir / "jwt-private.pem"
    assert first.output.startswith(f"created {path}")
    pem = path.read_bytes()
    assert path.stat().st_mode & 0o777 == 0o600

    second = runner.invoke(app, ["keys", "init"])
    assert second.exit_code == 0, second.output
    assert second.output.startswith(f"kept {path}")
    assert path.read_bytes() == pem


def test_services_sign_with_the_key_it_made(data_dir: Path) -> None:
    made = runner.invoke(app, ["keys", "init"])
    ring = KeyRing.load(get_settings().signing_key_file, "todo-app", [])
    assert f"(kid {key_id(ring.private_key.public_key())})" in made.output


def test_honours_jwt_private_key_file(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "secrets" / "signing.pem"
    monkeypatch.setenv("JWT_PRIVATE_KEY_FILE", str(target))
    get_settings.cache_clear()
    result = runner.invoke(app, ["keys", "init"])
    assert result.exit_code == 0, result.output
    assert target.exists()
    assert not (data_dir / "jwt-private.pem").exists()


def test_a_broken_key_file_is_refused_and_left_alone(data_dir: Path) -> None:
    path = data_dir / "jwt-private.pem"
    path.write_text("not a key")
    result = runner.invoke(app, ["keys", "init"])
    assert result.exit_code == 1
    assert str(path) in result.output
    assert path.read_text() == "not a key"


def test_creates_the_vapid_key_once_beside_the_signing_key(data_dir: Path) -> None:
    first = runner.invoke(app, ["keys", "init"])
    assert first.exit_code == 0, first.output
    path = data_dir / "vapid-private.pem"
    assert f"created {path} (VAPID public key " in first.output
    assert path.stat().st_mode & 0o777 == 0o600
    key = load_or_create_vapid_key(path)
    assert f"(VAPID public key {b64url_public_key(key)})" in first.output
    pem = path.read_bytes()

    second = runner.invoke(app, ["keys", "init"])
    assert f"kept {path}" in second.output
    assert path.read_bytes() == pem


def test_honours_vapid_private_key_file(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "secrets" / "vapid.pem"
    monkeypatch.setenv("VAPID_PRIVATE_KEY_FILE", str(target))
    get_settings.cache_clear()
    result = runner.invoke(app, ["keys", "init"])
    assert result.exit_code == 0, result.output
    assert target.exists()
    assert not (data_dir / "vapid-private.pem").exists()


def test_an_rsa_key_is_not_taken_for_the_vapid_key(data_dir: Path) -> None:
    assert runner.invoke(app, ["keys", "init"]).exit_code == 0
    rsa_pem = (data_dir / "jwt-private.pem").read_bytes()
    path = data_dir / "vapid-private.pem"
    path.write_bytes(rsa_pem)
    result = runner.invoke(app, ["keys", "init"])
    assert result.exit_code == 1
    assert "does not hold an EC P-256 private key" in result.output
    assert path.read_bytes() == rsa_pem
