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

import json
import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from dapr.clients.grpc._jobs import ConstantFailurePolicy, Job
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from google.protobuf import any_pb2, json_format, struct_pb2  # type: ignore[import-untyped]

from events.dapr import SdkSidecar

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
        self._policy = ConstantFailurePolicy(
            max_retries=max_retries, interval_seconds=retry_seconds
        )
        self._sidecar = SdkSidecar(http_port=http_port, grpc_port=grpc_port, timeout=timeout)

    async def schedule(self, name: str, at: datetime, data: dict[str, Any]) -> None:
        """Schedule (or move) the one-shot job `name` to `at`; it replaces one of that name."""
        if at.tzinfo is None:
            raise ValueError(f"job {name!r}: the due time {at} has no time zone")
        value = struct_pb2.Value()
        json_format.ParseDict(data, value)
        packed = any_pb2.Any()
        packed.Pack(value)
        job = Job(name=name, due_time=at.isoformat(), data=packed, failure_policy=self._policy)
        client = await self._sidecar.client()
        await self._call(f"scheduling job {name}", client.schedule_job_alpha1, job, True)

    async def delete(self, name: str) -> None:
        """Delete the job `name`; deleting one that is not there is not an error."""
        client = await self._sidecar.client()
        await self._call(f"deleting job {name}", client.delete_job_alpha1, name)

    async def _call(self, doing: str, method: Callable[..., Awaitable[Any]], *args: Any) -> None:
        with warnings.catch_warnings():
            # The SDK warns on every call that the Jobs API is alpha.
            warnings.simplefilter("ignore", UserWarning)
            await self._sidecar.call(doing, method, *args)

    async def stop(self) -> None:
        await self._sidecar.close()

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
