"""Liveness and readiness."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.shared.api_deps import ContainerDep
from services.shared.db import ping
from services.shared.http import problem

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(container: ContainerDep) -> dict[str, str] | JSONResponse:
    try:
        await ping(container.engine)
    except Exception as exc:  # any failure to reach the database means not ready
        return problem(503, "Not ready", f"database unreachable: {type(exc).__name__}")
    try:
        await container.bus.ping()
    except Exception as exc:  # the bus (broker or sidecar) is not reachable
        return problem(503, "Not ready", f"event bus unreachable: {type(exc).__name__}")
    return {"status": "ok", "database": "ok", "bus": container.settings.event_bus}
