"""The hub application factory: settings → engine → migrations → routers → FastAPI app."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.clock import Clock, SystemClock
from hub.api.metrics import HubMetrics, MetricsMiddleware
from hub.db import migrate
from hub.db.engine import make_engine
from hub.services import rules as rules_service
from hub.services import users
from hub.services.errors import ServiceError, Unauthenticated
from hub.settings import HubSettings

log = logging.getLogger(__name__)

#: Router modules of this package, always included.
CORE_ROUTERS = (
    "hub.api.auth",
    "hub.api.declarations",
    "hub.api.receipts",
    "hub.api.rules",
    "hub.api.sync",
    "hub.api.audit",
    "hub.api.metrics",
)
#: Router modules included when they are installed (each exposes ``router``).
OPTIONAL_ROUTERS = (
    "hub.api.events",
    "hub.api.parcels",
    "hub.api.stats",
    "hub.api.verdicts",
    "hub.api.lines",
    "hub.api.review",
    "hub.web.trace",
    "hub.web.lines",
    "hub.web.review",
)


def _routers() -> list[APIRouter]:
    found: list[APIRouter] = []
    for name in CORE_ROUTERS + OPTIONAL_ROUTERS:
        if name in OPTIONAL_ROUTERS and importlib.util.find_spec(name) is None:
            log.debug("router %s not installed; skipped", name)
            continue
        router = getattr(importlib.import_module(name), "router", None)
        if not isinstance(router, APIRouter):
            raise TypeError(f"{name} has no APIRouter named router")
        found.append(router)
    return found


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    """Turn a service-layer error into its HTTP status with a clear JSON body."""
    assert isinstance(exc, ServiceError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
    body = {"detail": exc.message, "field": exc.field}
    return JSONResponse(body, status_code=exc.status, headers=headers)


def prepare_database(engine: Engine, settings: HubSettings, clock: Clock) -> None:
    """Migrate (when enabled), create the bootstrap admin and seed the rules if missing."""
    if settings.migrate_on_start:
        migrate.upgrade(engine)
    with Session(engine) as session:
        now = clock.now()
        users.ensure_admin(session, settings, now)
        rules_service.seed(session, settings.rules_path, now)


def _start_images(db: Engine, mqtt: Any, settings: HubSettings, clock: Clock) -> Any:
    """Subscribe to the site's X-ray images: store, pre-screen and queue them for review."""
    from hub.ingest.xray import XrayImageIngest
    from hub.ingest.xray_store import XrayStore
    from inspection.xray.image import ImageConfig
    from inspection.xray.prescreen import PrescreenConfig

    store = XrayStore()
    config = PrescreenConfig(image=ImageConfig(pixel_mm=store.settings.xray_pixel_mm))
    return XrayImageIngest(
        db, mqtt.link, store, settings.site_id, config=config, clock=clock
    ).start()


def create_app(
    settings: HubSettings | None = None,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """Build the hub app: check settings, open and migrate the database, add the routers.

    ``engine`` (a test's, say) is used as given and not disposed; otherwise one is made
    from ``settings.database_url`` and disposed at shutdown. Raises
    :class:`hub.settings.HubSettingsError` for unsafe settings and
    :class:`hub.db.engine.StoreError` when the database cannot be prepared.
    """
    settings = (settings if settings is not None else HubSettings()).checked()
    if settings.dev:
        log.warning("hub in dev mode: the bootstrap admin may use the built-in dev password")
    own_engine = engine is None
    db = engine if engine is not None else make_engine(settings.database_url)
    the_clock = clock if clock is not None else SystemClock()
    prepare_database(db, settings, the_clock)

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        mqtt = images = None
        if settings.mqtt_url:
            from hub.ingest.mqtt import start_hub_mqtt

            mqtt = start_hub_mqtt(
                db,
                url=settings.mqtt_url,
                site=settings.site_id,
                spool_path=settings.spool_path(),
                clock=the_clock,
            )
            app_.state.hub_mqtt = mqtt
            images = _start_images(db, mqtt, settings, the_clock)
            app_.state.xray_store = images.store
        try:
            yield
        finally:
            if images is not None:
                images.stop()
            if mqtt is not None:
                mqtt.stop()
            if own_engine:
                db.dispose()

    app = FastAPI(
        title="Clearline hub",
        version="1",
        summary="Declarations, receipts, rules, sync, parcels and reviews of a customs site.",
        lifespan=lifespan,
    )
    metrics = HubMetrics()
    app.state.settings = settings
    app.state.engine = db
    app.state.clock = the_clock
    app.state.metrics = metrics
    app.add_exception_handler(ServiceError, _service_error)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    for router in _routers():
        app.include_router(router)
    return app
