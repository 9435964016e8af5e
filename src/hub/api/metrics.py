"""Prometheus metrics by route template, request logging without personal data, /healthz."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.deps import PUBLIC, EngineDep

log = logging.getLogger(__name__)

#: Latency histogram buckets, in seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HubMetrics:
    """The app's own metric registry (one per app, so tests can build many apps)."""

    def __init__(self) -> None:
        """Create the registry and the request metrics."""
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "clearline_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "clearline_http_request_duration_seconds",
            "HTTP request handling time by method and route template, in seconds.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )


def route_template(scope: Scope) -> str:
    """Return the matched route's path template (never the raw path with its ids)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "(unmatched)"


class MetricsMiddleware:
    """Counts and times every HTTP request by route template and logs one line for it.

    The log line holds method, route template, status and duration only: no query
    string, no body, no path parameters (they may carry parcel codes or ids).
    """

    def __init__(self, app: ASGIApp, metrics: HubMetrics) -> None:
        """Wrap ``app``; record into ``metrics``."""
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call, recording HTTP requests."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            method = str(scope.get("method", ""))
            route = route_template(scope)
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            log.info(
                "%s %s -> %s in %.1f ms",
                method,
                route,
                status,
                elapsed * 1000.0,
                extra={"route": route, "status": status, "duration_ms": elapsed * 1000.0},
            )


router = APIRouter(tags=["operations"])


@router.get(
    "/metrics", dependencies=[PUBLIC], summary="Prometheus metrics", response_class=Response
)
def metrics(request: Request) -> Response:
    """Return the metrics in the Prometheus text format."""
    hub_metrics: HubMetrics = request.app.state.metrics
    return Response(generate_latest(hub_metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/healthz",
    dependencies=[PUBLIC],
    summary="Liveness and database check",
    responses={503: {"description": "The database is unreachable"}},
)
def healthz(engine: EngineDep) -> Any:
    """Return 200 when the database answers, 503 otherwise."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as err:
        log.warning("health check: database unreachable: %s", type(err).__name__)
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return {"status": "ok", "database": "ok"}
