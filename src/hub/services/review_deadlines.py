"""Review deadlines fired once: an image whose deadline passed with no verdict is recorded.

The review queue works a deadline out on every read; this job makes its passing an event.
Each run looks at the unreviewed images of the queue window that have no ``review_deadline``
row yet, works out each one's deadline the way the queue does, and for each one past it
writes the row and an audit record ``review_deadline`` in one transaction. The row's primary
key (the image id) makes a second firing impossible, whichever process tries it; the
advisory lock of :func:`hub.db.jobs.run_exclusive` makes only one process try at a time.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from contracts.clock import Clock
from contracts.statuses import XrayState
from hub.db.jobs import run_exclusive
from hub.db.site_models import REVIEW_DEADLINE
from hub.db.xray_models import XRAY_IMAGE
from hub.ingest.xray_store import ReviewSettings
from hub.services import audit

logger = logging.getLogger(__name__)

#: Images one run looks at, at most (the rest wait for the next run).
BATCH = 500
#: The job's name for the advisory lock.
JOB = "review-deadlines"
#: The audit action of a fired deadline.
ACTION = "review_deadline"
_REVIEWABLE = (XrayState.SUSPECT.value, XrayState.PENDING.value)


@dataclass(frozen=True, slots=True)
class Due:
    """One image whose review deadline passed with no verdict."""

    image_id: uuid.UUID
    site: str
    item_id: int
    parcel_code: str | None
    deadline: datetime
    source: str


def process_name() -> str:
    """This process, as recorded in ``fired_by``: host and pid."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def due_images(conn: Connection, now: datetime, settings: ReviewSettings) -> list[Due]:
    """The unreviewed images of the queue window past their deadline and not yet fired."""
    from hub.services.review import queue_entry  # the queue's own deadline rule

    since = now - timedelta(hours=settings.review_window_h)
    fired = select(REVIEW_DEADLINE.c.image_id).where(
        REVIEW_DEADLINE.c.image_id == XRAY_IMAGE.c.image_id
    )
    rows = conn.execute(
        select(XRAY_IMAGE)
        .where(
            and_(
                XRAY_IMAGE.c.verdict.is_(None),
                XRAY_IMAGE.c.state.in_(_REVIEWABLE),
                XRAY_IMAGE.c.received_at >= since,
                ~fired.exists(),
            )
        )
        .order_by(XRAY_IMAGE.c.received_at)
        .limit(BATCH)
    ).mappings()
    due = []
    for row in rows:
        entry = queue_entry(conn, row, now, settings, found=[])
        if entry.deadline <= now:
            due.append(
                Due(
                    row["image_id"],
                    row["site"],
                    row["item_id"],
                    entry.parcel_code,
                    entry.deadline,
                    entry.deadline_source,
                )
            )
    return due


def _insert(conn: Connection, due: Due, now: datetime, by: str) -> bool:
    """Write the row unless it exists; whether this call wrote it."""
    values = {
        "image_id": due.image_id,
        "site": due.site,
        "item_id": due.item_id,
        "parcel_code": due.parcel_code,
        "deadline": due.deadline,
        "deadline_source": due.source,
        "fired_at": now,
        "fired_by": by[:64],
    }
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(REVIEW_DEADLINE).values(**values)
    statement = statement.on_conflict_do_nothing(index_elements=["image_id"])
    return conn.execute(statement.returning(REVIEW_DEADLINE.c.image_id)).first() is not None


def fire_due(engine: Engine, settings: ReviewSettings, now: datetime, by: str = "") -> int:
    """Record every deadline passed since the last run, once each; the number recorded."""
    by = by or process_name()
    with engine.connect() as conn:
        due = due_images(conn, now, settings)
    fired = 0
    for item in due:
        with Session(engine) as session:
            if not _insert(session.connection(), item, now, by):
                continue  # another run recorded it first
            code = item.parcel_code or f"item {item.item_id}"
            audit.append(
                session,
                at=now,
                actor="hub",
                role="system",
                action=ACTION,
                subject=str(item.image_id),
                why=f"review deadline passed: {code} on site {item.site}, no verdict by "
                f"{item.deadline:%H:%M:%S} ({item.source})",
                data={
                    "site": item.site,
                    "item_id": item.item_id,
                    "parcel_code": item.parcel_code,
                    "deadline": item.deadline.isoformat(),
                },
            )
            session.commit()
            fired += 1
            # normal on a busy day (the parcel is held; the audit log and the table keep it)
            logger.info(
                "review deadline passed: image %s (%s) on site %s", item.image_id, code, item.site
            )
    return fired


def run_once(engine: Engine, settings: ReviewSettings, clock: Clock) -> int:
    """One run of the job in whichever hub process holds its lock; 0 when another does."""
    ran, fired = run_exclusive(engine, JOB, lambda: fire_due(engine, settings, clock.now()))
    return int(fired or 0) if ran else 0


class DeadlineJob:
    """The background thread that runs the job every ``every_s`` seconds until stopped."""

    def __init__(
        self, engine: Engine, clock: Clock, every_s: float, settings: ReviewSettings | None = None
    ) -> None:
        """Keep what each run needs."""
        self.engine = engine
        self.clock = clock
        self.every_s = every_s
        self.settings = settings if settings is not None else ReviewSettings()
        self.fired = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> DeadlineJob:
        """Start the thread."""
        self._thread = threading.Thread(target=self._run, name="hub-review-deadlines", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (a run in progress finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        """Run the job, then wait; a failed run is logged and tried again next time."""
        while not self._stop.wait(self.every_s):
            try:
                self.fired += run_once(self.engine, self.settings, self.clock)
            except Exception:
                logger.exception("review deadline job failed; trying again in %.1f s", self.every_s)
