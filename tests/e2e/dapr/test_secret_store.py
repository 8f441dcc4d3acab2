"""Secrets from a Dapr secret store, through real daprd: the local stack's
`secretstores.local.file` store (dapr/components/secrets-local.yaml) on a JSON file of the
test, read by each service at start-up with DAPR_SECRET_STORE.

The four services run with no OpenAI key, SMTP URL or JWT key in their environment: the
assistant calls the model with the store's key, tokens are signed with the store's key (the
JWKS says so) and verify at every service, reminder emails go to the store's SMTP server.
A store that cannot be reached, a secret it does not hold and a secret set in both places
each stop the start with one clear line.
"""

import os
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.shared.auth.keys import key_id
from tests.e2e.dapr.conftest import (
    SECRET_NAME,
    DaprCluster,
    Sidecars,
    daprd_binary,
    redis_state_store_component,
    write_secret_store,
)
from tests.e2e.processes import TODO, poll, sign_up
from tests.integration.test_acceptance import Inbox
from testsupport.openai_standin import OpenAIStandIn, text
from testsupport.ports import free_port

OPENAI_KEY = "sk-from-the-dapr-secret-store"
STORE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
STORE_PEM = STORE_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()


@pytest.fixture
async def openai_standin() -> AsyncIterator[OpenAIStandIn]:
    standin = OpenAIStandIn()
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture
def secret_store(smtp: tuple[Inbox, int]) -> dict[str, str]:
    # No vapid-private.pem: the notification service falls back to its key file.
    return {
        "openai-api-key": OPENAI_KEY,
        "smtp-url": f"smtp://127.0.0.1:{smtp[1]}",
        "jwt-private.pem": STORE_PEM,
    }


@pytest.fixture
def cluster_env(openai_standin: OpenAIStandIn) -> dict[str, str]:
    return {"OPENAI_BASE_URL": openai_standin.base_url, "CHAT_MODEL_RETRIES": "0"}


@pytest.fixture
def cluster_components() -> dict[str, str]:
    return {"statestore-redis.yaml": redis_state_store_component()}


@pytest.mark.timeout(180)
async def test_the_services_take_their_secrets_from_the_store(
    dapr_cluster: DaprCluster, smtp: tuple[Inbox, int], openai_standin: OpenAIStandIn
) -> None:
    cluster = dapr_cluster.apps
    inbox, _ = smtp
    api, notes_url, audit_url = (
        cluster.url("task-api"),
        cluster.url("notification"),
        cluster.url("audit"),
    )
    assert "OPENAI_API_KEY" not in cluster.env
    assert "SMTP_URL" not in cluster.env
    assert "JWT_PRIVATE_KEY_FILE" not in cluster.env
    async with httpx.AsyncClient(timeout=30) as client:
        # Tokens are signed with the store's key, and every service verifies them.
        jwks = (await client.get(f"{api}/.well-known/jwks.json")).json()
        assert jwks["keys"][0]["kid"] == key_id(STORE_KEY.public_key())
        email, me = await sign_up(client, api, "secrets", notes_url=notes_url)
        trail = await client.get(f"{audit_url}/api/audit", headers=me)
        assert trail.status_code == 200, trail.text

        # The assistant calls the model with the store's OpenAI key.
        openai_standin.script(text("Hello from the model."))
        chat = await client.post(f"{api}/api/chat", headers=me, json={"message": "hello"})
        assert chat.status_code == 200, chat.text
        assert "event: error" not in chat.text, chat.text
        assert openai_standin.authorizations == [f"Bearer {OPENAI_KEY}"]

        # Reminder emails go through the store's SMTP server.
        created = await client.post(
            f"{api}/api/tasks",
            headers=me,
            json={
                "title": "Renew the certificate",
                "remind_at": (datetime.now(UTC) + timedelta(seconds=2)).isoformat(),
            },
        )
        assert created.status_code == 201, created.text
        await poll(lambda: _received(inbox))
        assert email in inbox.messages[0]["To"]

    # What a key missing from the store becomes is said once at start-up.
    log = (cluster.logs / "notification.log").read_text()
    assert "openai-api-key, smtp-url, jwt-private.pem" in log
    assert "vapid-private.pem (VAPID_PRIVATE_KEY_FILE)" in log


async def _received(inbox: Inbox) -> bool:
    return len(inbox.messages) >= 1


# -- start-up errors ---------------------------------------------------------------------


def serve(env: dict[str, str], grpc: int, http: int, port: int) -> subprocess.CompletedProcess[str]:
    """`todo serve --service audit` with the secrets in the store DAPR_SECRET_STORE."""
    return subprocess.run(  # noqa: S603 - our own command
        [TODO, "serve", "--service", "audit", "--port", str(port)],
        env={
            **env,
            "EVENT_BUS": "dapr",
            "DAPR_SECRET_STORE": "secrets-kubernetes",
            "DAPR_HTTP_PORT": str(http),
            "DAPR_GRPC_PORT": str(grpc),
            "DAPR_SECRET_WAIT_SECONDS": "2",
            "DATABASE_URL": "postgresql+asyncpg://todo@127.0.0.1:1/unused",
            "LOCAL_USER": "false",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_clear_line(done: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    # After the line that says where the data is, one that says what is wrong.
    [line] = [x for x in done.stderr.splitlines()[1:] if x.startswith("todo: ")]
    for part in parts:
        assert part in line, line


def clean_env(base: dict[str, str]) -> dict[str, str]:
    names = ("OPENAI_API_KEY", "SMTP_URL", "JWT_PRIVATE_KEY_FILE", "VAPID_PRIVATE_KEY_FILE")
    return {k: v for k, v in base.items() if not {k, k.removesuffix("_FILE")} & set(names)}


def test_an_unreachable_store_stops_the_start(tmp_path: Path) -> None:
    grpc, http = free_port(), free_port()  # no sidecar there
    done = serve(clean_env({**os.environ, "DATA_DIR": str(tmp_path)}), grpc, http, free_port())
    assert_one_clear_line(
        done,
        "DAPR_SECRET_STORE=secrets-kubernetes",
        f"DAPR_GRPC_PORT={grpc}",
        "does not answer",
        "within 2 s",
    )


@pytest.fixture
async def lone_sidecar(tmp_path: Path) -> AsyncIterator[tuple[Sidecars, int]]:
    """One daprd with only the secret store: its secret `todo-app` holds an OpenAI key, its
    secret `broken` a JWT key that is not one. The app port it waits on is the audit
    service's."""
    resources = tmp_path / "components"
    resources.mkdir()
    write_secret_store(
        resources,
        {"openai-api-key": OPENAI_KEY},
        {"broken": {"jwt-private.pem": "-----BEGIN PRIVATE KEY-----\nnot a key"}},
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    app_port = free_port()
    sidecars = Sidecars(logs, daprd=daprd_binary(), resources=resources, apps={"audit": app_port})
    try:
        sidecars.start("audit")
        # Ready for the app's calls before the app listens (its start waits on the same).
        url = f"{sidecars.url('audit')}/v1.0/healthz/outbound"
        await sidecars.wait_http("audit.daprd", url, 204)
        yield sidecars, app_port
    finally:
        sidecars.stop_all()


async def test_a_secret_the_store_does_not_hold_stops_the_start(
    lone_sidecar: tuple[Sidecars, int], tmp_path: Path
) -> None:
    sidecars, port = lone_sidecar
    env = clean_env({**os.environ, "DATA_DIR": str(tmp_path), "DAPR_SECRET_NAME": "other"})
    done = serve(env, sidecars.grpc["audit"], sidecars.http["audit"], port)
    assert_one_clear_line(
        done,
        "DAPR_SECRET_STORE=secrets-kubernetes",
        "secret 'other'",
        "secret other not found",
        "(DAPR_SECRET_NAME)",
    )


async def test_a_secret_in_the_store_and_the_environment_stops_the_start(
    lone_sidecar: tuple[Sidecars, int], tmp_path: Path
) -> None:
    sidecars, port = lone_sidecar
    env = clean_env({**os.environ, "DATA_DIR": str(tmp_path), "DAPR_SECRET_NAME": SECRET_NAME})
    done = serve(
        {**env, "OPENAI_API_KEY": "sk-env"}, sidecars.grpc["audit"], sidecars.http["audit"], port
    )
    assert_one_clear_line(
        done,
        "OPENAI_API_KEY (or OPENAI_API_KEY_FILE): set in the environment",
        "'secrets-kubernetes'",
        "unset these variables",
    )


async def test_a_key_the_store_holds_that_is_not_one_stops_the_start(
    lone_sidecar: tuple[Sidecars, int], tmp_path: Path
) -> None:
    sidecars, port = lone_sidecar
    env = clean_env({**os.environ, "DATA_DIR": str(tmp_path), "DAPR_SECRET_NAME": "broken"})
    done = serve(env, sidecars.grpc["audit"], sidecars.http["audit"], port)
    assert_one_clear_line(
        done,
        "jwt-private.pem of the Dapr secret store secrets-kubernetes (secret broken)",
        "does not hold an RSA private key",
    )
