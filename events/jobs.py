"""The Dapr Jobs API (alpha): one-shot jobs kept by Dapr's scheduler service, which calls
the app back through its sidecar when a job is due.

Jobs are scheduled and deleted through the official Dapr SDK over gRPC
(`schedule_job_alpha1`, `delete_job_alpha1`). A job's data is a JSON object, sent as a
`google.protobuf.Value`, so daprd hands it back as the JSON body of `POST /job/<name>` on the
app port (the route `router()` mounts). The app's answer decides what happens next: 2xx is
done; any other status makes the scheduler trigger the job again under the job's failure
policy (here: every `retry_seconds`, up to `max_retries` times).

Errors are those of the Dapr transport: `DaprError` when Dapr refuses, `DaprUnavailable`
when the sidecar (or its scheduler) does not answer.
"""

import asyncio
import json
import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
from dapr.aio.clients import DaprClient
from dapr.clients.exceptions import DaprGrpcError
from dapr.clients.grpc._jobs import ConstantFailurePolicy, Job
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from google.protobuf import any_pb2, json_format, struct_pb2  # type: ignore[import-untyped]

from events.dapr import _UNREACHABLE, DaprError, DaprUnavailable, open_sdk_client

__all__ = ["DaprJobs", "JobNotDue", "TriggerHandler"]

log = logging.getLogger(__name__)

# What the app does when a job is due: given the job's name and data.
TriggerHandler = Callable[[str, dict[str, Any]], Awaitable[None]]


class JobNotDue(Exception):
    """A trigger came before the job's time (not from the scheduler): try again later."""


class DaprJobs:
    """One-shot jobs through the sidecar on these loopback ports."""

    def __init__(
        self,
        *,
        http_port: int,
        grpc_port: int,
        timeout: float = 5.0,
        retry_seconds: int = 5,
        max_retries: int = 720,
    ) -> None:
        self._http_port = http_port
        self._grpc_port = grpc_port
        self._timeout = timeout
        self._policy = ConstantFailurePolicy(
            max_retries=max_retries, interval_seconds=retry_seconds
        )
        self._sdk: DaprClient | None = None

    async def _client(self) -> DaprClient:
        if self._sdk is None:
            # The client's constructor waits, blocking, until the sidecar is ready: ask first.
            url = f"http://127.0.0.1:{self._http_port}/v1.0/healthz"
            try:
                async with httpx.AsyncClient(timeout=self._timeout) as client:
                    ready = (await client.get(url)).status_code == 204
            except httpx.HTTPError as exc:
                raise DaprUnavailable(f"no answer from the Dapr sidecar at {url}: {exc!r}") from exc
            if not ready:
                raise DaprUnavailable(f"the Dapr sidecar at {url} is not ready")
            self._sdk = open_sdk_client(
                http_port=self._http_port, grpc_port=self._grpc_port, ready_timeout=self._timeout
            )
        return self._sdk

    async def schedule(self, name: str, at: datetime, data: dict[str, Any]) -> None:
        """Schedule (or move) the one-shot job `name` to `at`; it replaces one of that name."""
        if at.tzinfo is None:
            raise ValueError(f"job {name!r}: the due time {at} has no time zone")
        value = struct_pb2.Value()
        json_format.ParseDict(data, value)
        packed = any_pb2.Any()
        packed.Pack(value)
        job = Job(name=name, due_time=at.isoformat(), data=packed, failure_policy=self._policy)
        client = await self._client()
        await self._call(f"scheduling job {name}", client.schedule_job_alpha1, job, True)

    async def delete(self, name: str) -> None:
        """Delete the job `name`; deleting one that is not there is not an error."""
        client = await self._client()
        await self._call(f"deleting job {name}", client.delete_job_alpha1, name)

    async def _call(self, doing: str, method: Callable[..., Awaitable[Any]], *args: Any) -> None:
        try:
            with warnings.catch_warnings():
                # The SDK warns on every call that the Jobs API is alpha.
                warnings.simplefilter("ignore", UserWarning)
                async with asyncio.timeout(self._timeout):
                    await method(*args)
        except TimeoutError as exc:
            raise DaprUnavailable(
                f"{doing}: no answer from the Dapr sidecar at 127.0.0.1:{self._grpc_port} "
                f"within {self._timeout} s"
            ) from exc
        except DaprGrpcError as exc:
            status = exc.code()  # type: ignore[no-untyped-call]
            code: str | None = exc.error_code() or None  # type: ignore[no-untyped-call]
            message = f"{doing}: {exc.details()}"  # type: ignore[no-untyped-call]
            if status in _UNREACHABLE:
                raise DaprUnavailable(message, error_code=code) from exc
            raise DaprError(message, error_code=code) from exc

    async def stop(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()  # type: ignore[no-untyped-call]
            self._sdk = None

    @staticmethod
    def router(on_trigger: TriggerHandler) -> APIRouter:
        """`POST /job/{name}`, where daprd delivers a due job (its data as the JSON body)."""
        router = APIRouter(tags=["dapr"])

        async def triggered(name: str, request: Request) -> JSONResponse:
            body = await request.body()
            try:
                data = json.loads(body) if body.strip() else {}
            except ValueError:
                data = None
            if not isinstance(data, dict):
                return JSONResponse(
                    {"detail": f"job {name}: the body must be a JSON object (the job's data)"},
                    status_code=400,
                )
            try:
                await on_trigger(name, data)
            except JobNotDue as exc:
                return JSONResponse({"detail": str(exc)}, status_code=409)
            except ValueError as exc:
                return JSONResponse({"detail": f"job {name}: {exc}"}, status_code=400)
            except Exception:
                # The scheduler triggers it again under the job's failure policy.
                log.exception("job %s failed; the scheduler will trigger it again", name)
                return JSONResponse({"detail": f"job {name} failed"}, status_code=500)
            return JSONResponse({"status": "done"})

        router.add_api_route("/job/{name}", triggered, methods=["POST"], include_in_schema=False)
        return router
