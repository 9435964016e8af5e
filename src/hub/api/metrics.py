"""Prometheus metrics by route template, request logging without personal data, /healthz.

The metrics name only route templates, a fixed set of methods and statuses: never a raw
path, query, user name or address. Refused requests (401, 403, 429) are counted by
status alone, not per route, so /metrics does not show who was turned away where. With
``protect_metrics`` set, /metrics needs a supervisor's credentials or an API key.
"""

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
from sqlmodel import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.db.auth_models import Role
from hub.deps import (
    API_KEY_HEADER,
    PUBLIC,
    SESSION_COOKIE,
    EngineDep,
    SettingsDep,
    current_principal,
)
from hub.services.errors import Forbidden

log = logging.getLogger(__name__)

#: Methods counted by name; any other is counted as OTHER.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Statuses of requests refused for their credentials (counted without their route).
REFUSED = frozenset({401, 403, 429})
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
        self.refused = Counter(
            "clearline_http_refused",
            "HTTP requests refused for their credentials or rate, by status only.",
            ["status"],
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
            method = method if method in KNOWN_METHODS else "OTHER"
            route = route_template(scope)
            if status in REFUSED:
                self.metrics.refused.labels(str(status)).inc()
            else:
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
    "/metrics",
    dependencies=[PUBLIC],
    summary="Prometheus metrics",
    response_class=Response,
    responses={401: {"description": "Credentials needed (protect_metrics)"}},
)
def metrics(request: Request, settings: SettingsDep) -> Response:
    """Return the metrics in the Prometheus text format (behind auth with protect_metrics)."""
    if settings.protect_metrics:
        _check_metrics_caller(request)
    hub_metrics: HubMetrics = request.app.state.metrics
    return Response(generate_latest(hub_metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _check_metrics_caller(request: Request) -> None:
    """Let through a supervisor (or admin) or any API key; raise 401/403 otherwise."""
    auth = request.headers.get("authorization", "")
    bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    with Session(request.app.state.engine) as session:
        principal = current_principal(
            session,
            request.app.state.clock,
            bearer,
            request.headers.get(API_KEY_HEADER),
            request.cookies.get(SESSION_COOKIE),
        )
    if principal.kind != "api_key" and not principal.allowed(frozenset({Role.SUPERVISOR})):
        raise Forbidden("the metrics are for supervisors and machines")


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
