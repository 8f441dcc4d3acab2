"""Secrets from a Dapr secret store (EVENT_BUS=dapr, DAPR_SECRET_STORE): which settings
name the store, and how the store's secret and the environment combine. The store itself
(real daprd) is tests/e2e/dapr/test_secret_store.py."""

from pathlib import Path

import pytest
from pydantic import SecretStr

from services.shared.settings import (
    STORE_KEYS,
    Settings,
    SettingsError,
    with_store_secrets,
)

PEM = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (*STORE_KEYS.values(), "EVENT_BUS", "DAPR_SECRET_STORE", "DAPR_GRPC_PORT"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the checkout


def dapr(**values: object) -> Settings:
    return Settings(
        event_bus="dapr", dapr_secret_store="secrets-kubernetes", dapr_grpc_port=50001, **values
    )


def test_the_store_is_read_only_when_named_in_dapr_mode() -> None:
    assert Settings(event_bus="dapr", dapr_grpc_port=50001).secret_store_ports() is None
    assert dapr(dapr_http_port=3500).secret_store_ports() == (3500, 50001)


def test_the_store_names_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAPR_SECRET_STORE", "secrets-kubernetes")
    monkeypatch.setenv("DAPR_SECRET_NAME", "todo-todo-app-secrets")
    settings = Settings()
    assert settings.dapr_secret_store == "secrets-kubernetes"
    assert settings.dapr_secret_name == "todo-todo-app-secrets"
    assert Settings(dapr_secret_name="todo-app").dapr_secret_name == "todo-app"


def test_a_store_outside_dapr_mode_is_an_error() -> None:
    settings = Settings(event_bus="kafka", dapr_secret_store="secrets-kubernetes")
    with pytest.raises(SettingsError, match=r"DAPR_SECRET_STORE=secrets-kubernetes.*=dapr"):
        settings.secret_store_ports()


def test_a_store_without_the_grpc_port_is_an_error() -> None:
    settings = Settings(event_bus="dapr", dapr_secret_store="secrets-kubernetes")
    with pytest.raises(SettingsError, match="set DAPR_GRPC_PORT"):
        settings.secret_store_ports()


def test_the_stores_values_are_the_settings() -> None:
    stored = with_store_secrets(
        dapr(),
        {
            "openai-api-key": "sk-from-store\n",
            "smtp-url": "smtp://mail:25",
            "jwt-private.pem": PEM,
            "vapid-private.pem": PEM,
            "redis-url": "not one of ours",
        },
    )
    assert stored.settings.openai_api_key == SecretStr("sk-from-store")
    assert stored.settings.smtp_url == "smtp://mail:25"
    assert stored.jwt_private_key == PEM.encode()
    assert stored.vapid_private_key == PEM.encode()
    assert stored.found == tuple(STORE_KEYS)
    assert stored.missing == ()


def test_a_key_the_store_lacks_is_the_environments_or_unset() -> None:
    stored = with_store_secrets(dapr(smtp_url="smtp://env:25"), {"openai-api-key": "sk-store"})
    assert stored.settings.openai_api_key == SecretStr("sk-store")
    assert stored.settings.smtp_url == "smtp://env:25"
    assert stored.jwt_private_key is None  # JWT_PRIVATE_KEY_FILE, or generated in DATA_DIR
    assert stored.missing == ("smtp-url", "jwt-private.pem", "vapid-private.pem")
    nothing = with_store_secrets(dapr(), {"openai-api-key": "  "})  # empty counts as absent
    assert nothing.settings.openai_api_key is None
    assert nothing.found == ()


@pytest.mark.parametrize(
    ("values", "key", "variable"),
    [
        ({"openai_api_key": SecretStr("sk-env")}, "openai-api-key", "OPENAI_API_KEY"),
        ({"smtp_url": "smtp://env:25"}, "smtp-url", "SMTP_URL"),
        ({"jwt_private_key_file": Path("/k.pem")}, "jwt-private.pem", "JWT_PRIVATE_KEY_FILE"),
        ({"vapid_private_key_file": Path("/v.pem")}, "vapid-private.pem", "VAPID_PRIVATE_KEY_FILE"),
    ],
)
def test_a_secret_in_both_the_store_and_the_environment_is_an_error(
    values: dict[str, object], key: str, variable: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        with_store_secrets(dapr(**values), {key: "from the store"})
    message = str(caught.value)
    assert message.startswith(variable)
    assert "'secrets-kubernetes'" in message
    assert key in message
    assert "unset these variables" in message


def test_the_file_form_counts_as_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key = tmp_path / "openai"
    key.write_text("sk-file")
    monkeypatch.setenv("OPENAI_API_KEY_FILE", str(key))
    with pytest.raises(SettingsError, match=r"OPENAI_API_KEY \(or OPENAI_API_KEY_FILE\)"):
        with_store_secrets(dapr(), {"openai-api-key": "sk-store"})
