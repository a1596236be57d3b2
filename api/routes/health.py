"""Liveness and readiness probes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.dependencies import get_app_container
from infrastructure.container import Container

router = APIRouter(tags=["health"])
PROBE_TIMEOUT_SECONDS = 5.0


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(container: Container = Depends(get_app_container)) -> JSONResponse:
    """Every store this deployment uses answers; 503 with per-store status otherwise."""
    probes = container.readiness_probes()
    stores: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=max(len(probes), 1)) as pool:
        futures = {name: pool.submit(probe) for name, probe in probes.items()}
        for name, future in futures.items():
            try:
                future.result(timeout=PROBE_TIMEOUT_SECONDS)
                stores[name] = {"status": "ok"}
            except Exception as exc:
                stores[name] = {"status": "unavailable", "error": str(exc) or type(exc).__name__}
    ready = all(s["status"] == "ok" for s in stores.values())
    return JSONResponse(
        status_code=200 if ready else 503,
        content={
            "status": "ready" if ready else "unavailable",
            "orm": container.settings.orm.value,
            "stores": stores,
        },
    )
