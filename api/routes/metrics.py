"""Prometheus ``/metrics``: process metrics plus outbox gauges computed at scrape time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from api.dependencies import get_app_container
from infrastructure.container import Container
from infrastructure.observability.outbox_collector import OutboxCollector

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
def metrics(container: Annotated[Container, Depends(get_app_container)]) -> Response:
    """Unauthenticated, like most exporters; disable with ``DUALWRITE_METRICS_ENABLED=false``."""
    if not container.settings.metrics_enabled:
        return Response(status_code=404, content="metrics disabled", media_type="text/plain")
    # A registry per scrape, so the collector reads this app's container (tests run several).
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(OutboxCollector(container.outbox_queries, container.reconcile_runs))
    body = generate_latest(REGISTRY) + generate_latest(scrape)
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
