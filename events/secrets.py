"""Secrets through Dapr's secrets API: one secret of a secret store component, read once
when a process starts.

A secret of a Dapr secret store is a map of keys to values: in Kubernetes
(`secretstores.kubernetes`) a Secret with its data keys, in a local JSON file
(`secretstores.local.file` with `multiValued: true`) a top-level object with its
members. It is read with the official Dapr SDK over gRPC (`DaprClient.get_secret`,
DAPR_GRPC_PORT), with the synchronous client: the process has not started its event
loop yet.

A process may start before its sidecar (Kubernetes starts the containers of a pod
together), so the read first waits, up to `wait_seconds`, for the sidecar's
`/v1.0/healthz/outbound` (ready once its components are, without waiting for the
app). Errors are those of the Dapr transport (`events.dapr`): `DaprUnavailable` when the
sidecar does not answer in time, `DaprError` when Dapr refuses (no such store, no such
secret, not allowed), each naming the store, the secret and the sidecar's ports.
"""

import time
from collections.abc import Callable
from typing import Any

import grpc
import httpx
from dapr.clients import DaprClient
from dapr.conf import settings as dapr_settings

from events.dapr import _UNREACHABLE, DaprError, DaprUnavailable

__all__ = ["read_secret"]


class _Deadline(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Gives every call this timeout (the SDK's own default is a minute)."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        if client_call_details.timeout is None:
            client_call_details = client_call_details._replace(timeout=self._seconds)
        return continuation(client_call_details, request)


def _wait_ready(http_port: int, wait_seconds: float, where: str) -> None:
    url = f"http://127.0.0.1:{http_port}/v1.0/healthz/outbound"
    deadline = time.monotonic() + wait_seconds
    last = "no answer"
    with httpx.Client(timeout=min(2.0, wait_seconds)) as client:
        while True:
            try:
                status = client.get(url).status_code
                if status == 204:
                    return
                last = f"it answered HTTP {status}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            if time.monotonic() >= deadline:
                raise DaprUnavailable(
                    f"{where}: the Dapr sidecar did not become ready within {wait_seconds:g} s "
                    f"({url}: {last})"
                )
            time.sleep(0.2)


def read_secret(
    store: str,
    name: str,
    *,
    http_port: int,
    grpc_port: int,
    wait_seconds: float = 60.0,
    timeout: float = 5.0,
) -> dict[str, str]:
    """The keys and values of the secret `name` of the secret store `store`."""
    where = (
        f"secret {name!r} of the Dapr secret store {store!r} "
        f"(sidecar DAPR_GRPC_PORT={grpc_port}, DAPR_HTTP_PORT={http_port})"
    )
    _wait_ready(http_port, wait_seconds, where)
    # The client's constructor checks the sidecar's health again, blocking, at the address
    # in the SDK's process-wide settings: point it at this sidecar (ready now).
    dapr_settings.DAPR_HTTP_ENDPOINT = f"http://127.0.0.1:{http_port}"  # type: ignore[attr-defined]
    dapr_settings.DAPR_HEALTH_TIMEOUT = timeout  # type: ignore[attr-defined]
    client = DaprClient(address=f"127.0.0.1:{grpc_port}", interceptors=[_Deadline(timeout)])
    try:
        response = client.get_secret(store_name=store, key=name)
    except grpc.RpcError as exc:
        status = exc.code()
        details = exc.details() or str(status)
        if status in _UNREACHABLE:
            raise DaprUnavailable(f"{where}: {details}") from exc
        raise DaprError(f"{where}: {details}", error_code=status.name) from exc
    finally:
        client.close()  # type: ignore[no-untyped-call]
    return dict(response.secret)
