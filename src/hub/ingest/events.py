"""Edge event ingest: each event stored exactly once, and the parcel projection kept current."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.dml import Insert

from contracts.clock import Clock, SystemClock
from contracts.events import EdgeEvent
from hub.db.engine import StoreError
from hub.db.event_models import EVENT, PARCEL, PARCEL_CODE
from hub.event_kinds import EventRejectedError, parse_event
from hub.ingest.projection import StoredEvent, fold, further_codes, parcel_key
from hub.ingest.trust import EventTrust, TrustAlarm, record_alarms, screen_decided
from inspection.masking import scrub

logger = logging.getLogger(__name__)

#: Parcel keys refreshed per statement (well under every backend's bound-parameter limit).
KEY_CHUNK = 500
#: An event dated further ahead of the hub's clock than this is flagged (the edge clock jumped).
MAX_FUTURE = timedelta(minutes=5)
#: The alarm the hub records when one pass received two different decisions.

RawEvent = EdgeEvent | Mapping[str, Any] | bytes | str


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one event of a batch was refused: its 0-based position, id when known, the error."""

    index: int
    event_id: str | None
    error: str

    def as_json(self) -> dict[str, Any]:
        """Return the rejection as a JSON-ready dict."""
        return {"index": self.index, "event_id": self.event_id, "error": self.error}


@dataclass(slots=True)
class IngestReport:
    """What one ingest call did: events received, newly stored, already held, refused."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    parcels_updated: int = 0
    alarms: list[TrustAlarm] = field(default_factory=list)
    future: list[str] = field(default_factory=list)  # ids of events dated far ahead (stored)
    contradictions: int = 0  # passes found with two different decisions

    def as_json(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": len(self.rejected),
            "rejections": [r.as_json() for r in self.rejected],
            "parcels_updated": self.parcels_updated,
            "future": len(self.future),
            "contradictions": self.contradictions,
        }


def _raw_id(raw: RawEvent) -> str | None:
    """Best-effort event id of a raw event, for the rejection message."""
    if isinstance(raw, EdgeEvent):
        return str(raw.event_id)
    if isinstance(raw, Mapping):
        value = raw.get("event_id")
        return str(value)[:64] if value is not None else None
    return None


def insert_ignoring(conn: Connection, table: Table, key: str | Sequence[str]) -> Insert:
    """Return ``INSERT … ON CONFLICT (key) DO NOTHING`` on ``table`` in the connection dialect."""
    name = conn.dialect.name
    key = [key] if isinstance(key, str) else list(key)
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=key)
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing(index_elements=key)
    raise StoreError(f"database backend {name!r} is not supported for event ingest")


def validate_batch(
    raws: Sequence[RawEvent],
    now: datetime,
    report: IngestReport,
    site: str | None = None,
    origins: Sequence[tuple[str, str]] | None = None,
    trust: EventTrust | None = None,
) -> list[dict[str, Any]]:
    """Validate every raw event; return event rows to insert, rejections go to ``report``.

    A second copy of an event id inside the same batch counts as a duplicate; with ``site``
    given, an event of another site is refused; with ``origins`` (the (site, edge_id) each
    raw event came from, e.g. its MQTT topic), an event naming another site or edge is refused.
    """
    rows: list[dict[str, Any]] = []
    seen: set[UUID] = set()
    for index, raw in enumerate(raws):
        try:
            event, data = parse_event(raw)
        except EventRejectedError as err:
            report.rejected.append(Rejection(index, _raw_id(raw), str(err)))
            continue
        if origins is not None and origins[index] != (event.site, event.edge_id):
            came = "/".join(origins[index])
            msg = f"event names site {event.site!r} edge {event.edge_id!r} but came from {came}"
            report.rejected.append(Rejection(index, str(event.event_id), msg))
            continue
        if site is not None and event.site != site:
            msg = f"event names site {event.site!r} but this hub serves {site!r}"
            report.rejected.append(Rejection(index, str(event.event_id), msg))
            continue
        if trust is not None:
            alarm = trust.check(event, now)
            if alarm is not None:
                report.alarms.append(alarm)
                report.rejected.append(Rejection(index, str(event.event_id), alarm.detail))
                continue
        if event.event_id in seen:
            report.duplicates += 1
            continue
        seen.add(event.event_id)
        if event.at > now + MAX_FUTURE:  # stored all the same: refusing would lose it
            report.future.append(str(event.event_id))
            logger.warning(
                "edge %s event %s is dated %s, %.0f s ahead of the hub: is its clock wrong?",
                event.edge_id, event.event_id, event.at.isoformat(),
                (event.at - now).total_seconds(),
            )  # fmt: skip
        rows.append(
            {
                "event_id": event.event_id,
                "site": event.site,
                "edge_id": event.edge_id,
                "kind": event.kind.value,
                "at": event.at,
                "item_id": event.item_id,
                "parcel_code": event.parcel_code,
                "parcel_key": parcel_key(
                    event.site, event.edge_id, event.kind, event.item_id, event.parcel_code
                ),
                "data": data,
                "received_at": now,
            }
        )
    return rows


def ingest(
    engine: Engine,
    raws: Sequence[RawEvent],
    *,
    clock: Clock | None = None,
    site: str | None = None,
    origins: Sequence[tuple[str, str]] | None = None,
    trust: EventTrust | None = None,
) -> IngestReport:
    """Store a batch of edge events exactly once and refresh the parcels they belong to.

    Each event is validated on its own (size, wire schema, kind data); a refused event is
    listed in the report and nothing is written for it. Events already held are counted as
    duplicates and change nothing. With ``site``, events of other sites are refused; with
    ``origins`` (see ``validate_batch``), events that name another site or edge than where
    they came from. With ``trust``, events not signed by their enrolled edge are refused with
    a trust alarm; with or without it, a second, different ``decided`` for a pass is refused
    with one (the first decision stands). Raises StoreError when the database cannot be
    written; then nothing of the batch is stored and the whole batch may simply be offered
    again.
    """
    now = (clock or SystemClock()).now()
    report = IngestReport(received=len(raws))
    rows = validate_batch(raws, now, report, site, origins, trust)
    for rej in report.rejected:
        logger.warning("edge event %s refused: %s", rej.event_id, rej.error)
    if not rows:
        record_alarms(engine, report.alarms)
        return report
    rows.sort(key=lambda r: r["event_id"])  # one lock order: concurrent batches never deadlock
    try:
        with engine.begin() as conn:
            rows, conflicts = screen_decided(conn, rows, now)
            new_ids = insert_events(conn, rows) if rows else set()
            fresh = [r for r in rows if r["event_id"] in new_ids]
            keys = {r["parcel_key"]: r for r in fresh if r["parcel_key"]}
            report.parcels_updated = refresh_parcels(conn, keys, now)
    except SQLAlchemyError as err:
        raise StoreError(f"cannot store {len(rows)} edge events: {scrub(str(err))[:500]}") from err
    report.stored = len(new_ids)
    report.duplicates += len(rows) - len(new_ids)
    for alarm in conflicts:
        report.rejected.append(Rejection(-1, alarm.event_id, alarm.detail))
    report.alarms.extend(conflicts)
    report.contradictions = len(conflicts)
    record_alarms(engine, report.alarms)
    logger.debug(
        "ingested %s events: %s new, %s duplicates, %s refused",
        report.received,
        report.stored,
        report.duplicates,
        len(report.rejected),
    )
    return report


def insert_events(conn: Connection, rows: list[dict[str, Any]]) -> set[UUID]:
    """INSERT … ON CONFLICT DO NOTHING every row; return the ids that were newly stored."""
    stmt = insert_ignoring(conn, EVENT, "event_id").returning(EVENT.c.event_id)
    result = conn.execute(stmt, rows)
    return {UUID(str(v)) for v in result.scalars().all()}


def refresh_parcels(conn: Connection, keys: Mapping[str, Mapping[str, Any]], now: datetime) -> int:
    """Re-fold the parcels named by ``keys`` (key -> one of its new event rows); return count.

    Each parcel row is created if missing and locked (``FOR UPDATE`` on PostgreSQL; SQLite
    has one writer at a time) before its events are read, so concurrent ingests of the same
    parcel serialise and the last one folds every event.
    """
    ordered = sorted(keys)
    for start in range(0, len(ordered), KEY_CHUNK):
        chunk = ordered[start : start + KEY_CHUNK]
        stubs = [
            {
                "parcel_key": k,
                "site": keys[k]["site"],
                "edge_id": keys[k]["edge_id"] if keys[k]["item_id"] else "",
                "item_id": keys[k]["item_id"] or None,
                "codes": [],
                "reasons": [],
                "event_count": 0,
            }
            for k in chunk
        ]
        conn.execute(insert_ignoring(conn, PARCEL, "parcel_key"), stubs)
        if conn.dialect.name == "postgresql":
            conn.execute(
                select(PARCEL.c.parcel_key)
                .where(PARCEL.c.parcel_key.in_(chunk))
                .order_by(PARCEL.c.parcel_key)
                .with_for_update()
            ).all()
        grouped: dict[str, list[StoredEvent]] = {k: [] for k in chunk}
        query = select(
            EVENT.c.parcel_key,
            EVENT.c.event_id,
            EVENT.c.kind,
            EVENT.c.at,
            EVENT.c.item_id,
            EVENT.c.parcel_code,
            EVENT.c.data,
        ).where(EVENT.c.parcel_key.in_(chunk))
        for key, *rest in conn.execute(query):
            grouped[key].append(StoredEvent(*rest))
        updates = []
        aliases = []
        for key, events in grouped.items():
            values = fold(events)
            values["updated_at"] = now
            values["b_key"] = key
            updates.append(values)
            site = keys[key]["site"]
            aliases += [{"code": c, "parcel_key": key, "site": site} for c in further_codes(values)]
        stmt = update(PARCEL).where(PARCEL.c.parcel_key == bindparam("b_key"))
        conn.execute(stmt, updates)
        if aliases:
            conn.execute(insert_ignoring(conn, PARCEL_CODE, ("code", "parcel_key")), aliases)
    return len(ordered)
