"""The hub application factory: settings → engine → migrations → routers → FastAPI app."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.clock import Clock, SystemClock
from hub.api.metrics import HubMetrics, MetricsMiddleware
from hub.api.security import DocsAuthMiddleware, OriginCheckMiddleware, SecurityHeadersMiddleware
from hub.db import migrate
from hub.db.audit_models import AuditHead
from hub.db.engine import make_engine
from hub.ingest.trust import EventTrust
from hub.services import audit, users
from hub.services import rules as rules_service
from hub.services.audit_key import AuditKeyError, bind_key, load_key
from hub.services.errors import ServiceError, TooManyAttempts, Unauthenticated
from hub.services.login_limits import LoginLimiter
from hub.settings import HubSettings, HubSettingsError

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
    "hub.web.shell",
    "hub.web.docs",
    "hub.web.work",
    "hub.web.statistics",
    "hub.web.filing",
    "hub.web.admin",
    "hub.web.account",
    "hub.web.checking",
    "hub.web.rules",
    "hub.web.audit",
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


async def _service_error(request: Request, exc: Exception) -> Response:
    """Turn a service-layer error into its HTTP status with a clear JSON body."""
    assert isinstance(exc, ServiceError)
    from hub.web.shell import error_page, wants_page

    if wants_page(request):  # a person in a browser: the login, or a page in words
        return error_page(request, exc)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
    if isinstance(exc, TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after_s)}
    body = {"detail": exc.message, "field": exc.field}
    return JSONResponse(body, status_code=exc.status, headers=headers)


def open_audit_key(engine: Engine, settings: HubSettings) -> bytes:
    """Load (or, while the log is empty, make) the audit key and bind it to ``engine``.

    Raises :class:`HubSettingsError` when the key file is missing, too open or unreadable.
    """
    with Session(engine) as session:
        head = session.get(AuditHead, 1)
    # rows written under a key (not those from before the key): a new key cannot verify them
    rows = int(head.seq) - int(head.legacy_seq or 0) if head is not None else 0
    try:
        key = load_key(Path(settings.audit_key_file()), create=True, log_rows=rows)
    except AuditKeyError as err:
        raise HubSettingsError(str(err)) from err
    bind_key(engine, key)
    return key


def refuse_dev_passwords(session: Session, settings: HubSettings) -> None:
    """Outside dev mode, refuse to start while an account keeps the dev password."""
    if settings.dev:
        return
    names = users.dev_password_accounts(session)
    if names:
        raise HubSettingsError(
            f"account(s) {', '.join(names)} still have the dev/demo password; this database "
            "was served with --dev. Set a new password (clearline hub user passwd NAME) "
            "before serving it without --dev"
        )


def prepare_database(engine: Engine, settings: HubSettings, clock: Clock) -> None:
    """Migrate (when enabled), bind the audit key, create the bootstrap admin and seed the
    rules if missing; refuse dev passwords outside dev mode."""
    if settings.migrate_on_start:
        migrate.upgrade(engine)
    open_audit_key(engine, settings)
    with Session(engine) as session:
        now = clock.now()
        audit.seal_legacy(session, now)
        users.ensure_admin(session, settings, now)
        refuse_dev_passwords(session, settings)
        rules_service.seed(session, settings.rules_path, now)


def _start_images(db: Engine, mqtt: Any, settings: HubSettings, clock: Clock) -> Any:
    """Subscribe to the site's X-ray images: store, pre-screen and queue them for review."""
    from hub.ingest.xray import XrayImageIngest
    from hub.ingest.xray_store import XrayStore
    from inspection.xray.image import ImageConfig
    from inspection.xray.prescreen import PrescreenConfig

    store = XrayStore(engine=db)
    config = PrescreenConfig(image=ImageConfig(pixel_mm=store.settings.xray_pixel_mm))
    images = XrayImageIngest(db, mqtt.link, store, settings.site_id, config=config, clock=clock)
    if settings.mqtt_share_group:  # each image to one hub process, like the events
        images.topic_filter = f"$share/{settings.mqtt_share_group}/{images.topic_filter}"
    return images.start()


def _start_snapshot_keeper(db: Engine, settings: HubSettings, app_: FastAPI) -> Any:
    """On PostgreSQL, serve first syncs from a kept snapshot file and keep it recent."""
    app_.state.snapshot_store = None
    if db.dialect.name != "postgresql" or settings.sync_snapshot_check_s <= 0:
        return None
    from hub.services.snapshot_keep import SnapshotKeeper, SnapshotStore

    store = SnapshotStore(settings.snapshot_dir())
    app_.state.snapshot_store = store
    return SnapshotKeeper(
        db,
        store,
        check_s=settings.sync_snapshot_check_s,
        rebuild_changes=settings.sync_snapshot_rebuild_changes,
        max_age_s=settings.sync_snapshot_max_age_s,
        min_declarations=settings.sync_snapshot_min_declarations,
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
        mqtt = images = deadlines = None
        keeper = _start_snapshot_keeper(db, settings, app_)
        if settings.mqtt_url:
            from hub.ingest.mqtt import start_hub_mqtt
            from hub.ingest.trust import VerdictSigner, load_hub_key

            signer = VerdictSigner(
                db, load_hub_key(settings.signing_key_path), settings.verdict_ttl_s
            )
            mqtt = start_hub_mqtt(
                db,
                url=settings.mqtt_url,
                site=settings.site_id,
                spool_path=settings.spool_path(),
                clock=the_clock,
                trust=app_.state.event_trust,
                signer=signer,
                share_group=settings.mqtt_share_group,
            )
            app_.state.hub_mqtt = mqtt
            images = _start_images(db, mqtt, settings, the_clock)
            app_.state.xray_store = images.store
            if settings.review_deadline_every_s > 0:
                from hub.services.review_deadlines import DeadlineJob

                deadlines = DeadlineJob(db, the_clock, settings.review_deadline_every_s).start()
                app_.state.review_deadlines = deadlines
        try:
            yield
        finally:
            if keeper is not None:
                keeper.stop()
            if deadlines is not None:
                deadlines.stop()
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
        docs_url=None,  # served from packaged assets by hub.web.docs: no CDN
        redoc_url=None,
    )
    metrics = HubMetrics()
    app.state.settings = settings
    app.state.engine = db
    app.state.clock = the_clock
    app.state.metrics = metrics
    app.state.event_trust = EventTrust(db, require_enrolled=settings.edges_must_enrol())
    app.state.login_limiter = LoginLimiter(settings.login_max_failures, settings.login_window_s)
    app.add_exception_handler(ServiceError, _service_error)
    if settings.protect_docs:
        app.add_middleware(DocsAuthMiddleware, app_state=app.state)
    app.add_middleware(OriginCheckMiddleware, public_origin=settings.public_origin)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(SecurityHeadersMiddleware)
    for router in _routers():
        app.include_router(router)
    return app
