"""Grouped SQL queries behind the line page: each returns a few rows per line, never per event.

Parcel figures read the parcel projection (``parcel``), device states and alarms read the
event table (``event``). Every query is restricted to line passes (``edge_id`` set) of one
site when a site is given, so the ``(site, first_seen)`` and ``(site, at)`` indexes apply.
Times are UTC; latencies in milliseconds.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, case, cast, func, literal, or_, select, true, union
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from hub.db.event_models import EVENT, PARCEL
from inspection.masking import scrub

#: Percentiles reported for the decision latency (nearest rank).
PERCENTILES = (50, 95, 99)
#: Edge alarm names the hub works out itself from the projection (so never counted twice).
DERIVED_ALARMS = frozenset({"late_reply", "no_answer", "confirm_mismatch"})
#: How long before its decision or confirmation a parcel may have been first seen.
LOOKBACK = timedelta(hours=1)
#: Longest free text (device or alarm detail) passed to the page, in characters.
DETAIL_CHARS = 200

Key = tuple[str, str]
Rows = dict[Key, list[tuple[str, int]]]


def utc(value: Any) -> datetime:
    """A timestamp read from a raw column (text on SQLite) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def minute_label(column: Any, dialect: str) -> ColumnElement[Any]:
    """A timestamp truncated to its UTC minute, as ``YYYY-MM-DD HH:MM`` text."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI")
    return func.substr(column, 1, 16)


def _each_reason(dialect: str) -> Any:
    """A table-valued expansion of ``parcel.reasons`` (one row per reason)."""
    if dialect == "postgresql":
        return func.json_array_elements_text(PARCEL.c.reasons).table_valued("value").lateral()
    return func.json_each(PARCEL.c.reasons).table_valued("value")


class LineQueries:
    """The summary queries of one request: a connection, a window start and a site filter."""

    def __init__(self, conn: Connection, start: datetime, site: str | None) -> None:
        """Query over ``conn`` for parcels first seen from ``start`` (UTC), of ``site`` if set."""
        self.conn = conn
        self.dialect = conn.dialect.name
        self.start = start
        self.site = site

    def _lines(self, stmt: Select[Any], since: datetime) -> Select[Any]:
        """Restrict a parcel query to line passes of the site first seen from ``since``."""
        stmt = stmt.where(PARCEL.c.first_seen >= since, PARCEL.c.edge_id != "")
        return stmt.where(PARCEL.c.site == self.site) if self.site is not None else stmt

    def _events(self, stmt: Select[Any]) -> Select[Any]:
        """Restrict an event query to the site."""
        return stmt.where(EVENT.c.site == self.site) if self.site is not None else stmt

    def _grouped(self, column: ColumnElement[Any], source: Any = None) -> Rows:
        """Parcels of the window per line and per value of ``column`` (NULLs left out)."""
        stmt = select(PARCEL.c.site, PARCEL.c.edge_id, column.label("k"), func.count())
        stmt = self._lines(stmt.select_from(PARCEL if source is None else source), self.start)
        stmt = stmt.where(column.is_not(None)).group_by(PARCEL.c.site, PARCEL.c.edge_id, column)
        out: Rows = defaultdict(list)
        for site, edge, key, n in self.conn.execute(stmt):
            out[(site, edge)].append((str(key), int(n)))
        return out

    def by_outcome(self) -> Rows:
        """Parcels per line and outcome (``UNDECIDED`` when no decision arrived)."""
        return self._grouped(func.coalesce(PARCEL.c.outcome, "UNDECIDED"))

    def by_chute(self) -> Rows:
        """Decided parcels per line and chute."""
        return self._grouped(PARCEL.c.chute)

    def by_reason(self) -> Rows:
        """Parcels per line and reason (a parcel counts once for each of its reasons)."""
        each = _each_reason(self.dialect)
        return self._grouped(each.c.value, PARCEL.join(each, true()))

    def per_minute(self) -> dict[Key, dict[str, int]]:
        """Parcels per line and per UTC minute label (``YYYY-MM-DD HH:MM``)."""
        minute = minute_label(PARCEL.c.first_seen, self.dialect)
        stmt = select(PARCEL.c.site, PARCEL.c.edge_id, minute.label("m"), func.count())
        stmt = self._lines(stmt, self.start).group_by(PARCEL.c.site, PARCEL.c.edge_id, minute)
        out: dict[Key, dict[str, int]] = defaultdict(dict)
        for site, edge, label, n in self.conn.execute(stmt):
            out[(site, edge)][str(label)] = int(n)
        return out

    def totals(self) -> dict[Key, tuple[int, int]]:
        """Parcels and decided parcels of the window, per line."""
        stmt = select(PARCEL.c.site, PARCEL.c.edge_id, func.count(), func.count(PARCEL.c.outcome))
        stmt = self._lines(stmt, self.start).group_by(PARCEL.c.site, PARCEL.c.edge_id)
        return {(s, e): (int(n), int(d)) for s, e, n, d in self.conn.execute(stmt)}

    def latency(self) -> dict[Key, dict[str, float]]:
        """Count, nearest-rank p50/p95/p99 and max latency (ms) per line, ranked in SQL."""
        part = (PARCEL.c.site, PARCEL.c.edge_id)
        ms = PARCEL.c.latency_ms
        inner = self._lines(
            select(
                PARCEL.c.site,
                PARCEL.c.edge_id,
                ms.label("ms"),
                func.row_number().over(partition_by=part, order_by=ms).label("rn"),
                func.count().over(partition_by=part).label("n"),
                func.max(ms).over(partition_by=part).label("mx"),
            ).where(ms.is_not(None)),
            self.start,
        ).subquery()
        # rank of percentile p among n values: ceil(p * n / 100), in integer arithmetic
        ranks = [(p * inner.c.n + 99) // 100 for p in PERCENTILES]
        stmt = select(inner).where(or_(inner.c.rn == 1, *(inner.c.rn == r for r in ranks)))
        found: dict[Key, dict[str, float]] = defaultdict(dict)
        for row in self.conn.execute(stmt).mappings():
            got = found[(row["site"], row["edge_id"])]
            n, rn = int(row["n"]), int(row["rn"])
            got["count"], got["max_ms"] = n, float(row["mx"])
            for p in PERCENTILES:
                if rn == max(1, (p * n + 99) // 100):
                    got[f"p{p}_ms"] = float(row["ms"])
        return found

    def no_reads(self, since: datetime) -> dict[Key, tuple[int, int]]:
        """Parcels read, and of them those whose latest read was NOREAD, per line."""
        bad = func.sum(case((PARCEL.c.read_status == "NOREAD", 1), else_=0))
        stmt = select(PARCEL.c.site, PARCEL.c.edge_id, func.count(), bad)
        stmt = self._lines(stmt, since).where(PARCEL.c.read_status.is_not(None))
        stmt = stmt.group_by(PARCEL.c.site, PARCEL.c.edge_id)
        return {(s, e): (int(n), int(b or 0)) for s, e, n, b in self.conn.execute(stmt)}

    def devices(self) -> dict[Key, list[dict[str, Any]]]:
        """The latest ``device_state`` data and time of every device, per line (all history)."""
        device = EVENT.c.data["device_id"].as_string()
        part = (EVENT.c.site, EVENT.c.edge_id, device)
        order = (EVENT.c.at.desc(), EVENT.c.received_at.desc())
        inner = self._events(
            select(
                EVENT.c.site,
                EVENT.c.edge_id,
                EVENT.c.at,
                EVENT.c.data,
                func.row_number().over(partition_by=part, order_by=order).label("rn"),
            ).where(EVENT.c.kind == "device_state")
        ).subquery()
        out: dict[Key, list[dict[str, Any]]] = defaultdict(list)
        for site, edge, at, data, _rn in self.conn.execute(select(inner).where(inner.c.rn == 1)):
            out[(site, edge)].append(
                {
                    "device_id": str(data.get("device_id", "")),
                    "device_kind": str(data.get("device_kind", "")),
                    "online": bool(data.get("online")),
                    "since": utc(at),
                    "detail": scrub(str(data.get("detail", "")))[:DETAIL_CHARS],
                }
            )
        return out

    def late_replies(self, since: datetime, deadline_ms: float) -> dict[Key, tuple[int, datetime]]:
        """Parcels answered late since ``since``: count and latest time, per line.

        Late means a decision whose latency passed its deadline (the event's ``deadline_ms``,
        else ``deadline_ms``), a decision carrying LATE_DECISION, or a ``no_answer``
        confirmation from the sorter; a parcel counts once.
        """
        latency = EVENT.c.data["latency_ms"].as_float()
        deadline = func.coalesce(EVENT.c.data["deadline_ms"].as_float(), literal(deadline_ms))
        late_decided = self._events(
            select(EVENT.c.site, EVENT.c.edge_id, EVENT.c.parcel_key, EVENT.c.at.label("at"))
        ).where(EVENT.c.kind == "decided", EVENT.c.at >= since, latency > deadline)
        cols = (PARCEL.c.site, PARCEL.c.edge_id, PARCEL.c.parcel_key)
        late_reason = self._lines(select(*cols, PARCEL.c.decided_at), since - LOOKBACK).where(
            PARCEL.c.decided_at >= since,
            cast(PARCEL.c.reasons, String).like('%"LATE_DECISION"%'),
        )
        no_answer = self._lines(select(*cols, PARCEL.c.confirmed_at), since - LOOKBACK).where(
            PARCEL.c.confirmed_at >= since, PARCEL.c.confirmed_status == "no_answer"
        )
        both = union(late_decided, late_reason, no_answer).subquery()
        n = func.count(func.distinct(both.c.parcel_key))
        stmt = select(both.c.site, both.c.edge_id, n, func.max(both.c.at))
        stmt = stmt.group_by(both.c.site, both.c.edge_id)
        return {(s, e): (int(k), utc(at)) for s, e, k, at in self.conn.execute(stmt)}

    def mismatches(self, since: datetime) -> dict[Key, tuple[int, datetime]]:
        """Parcels diverted since ``since`` into another chute than the one answered."""
        stmt = select(
            PARCEL.c.site, PARCEL.c.edge_id, func.count(), func.max(PARCEL.c.confirmed_at)
        )
        stmt = self._lines(stmt, since - LOOKBACK).where(
            PARCEL.c.confirmed_at >= since,
            PARCEL.c.confirmed_status == "diverted",
            PARCEL.c.chute.is_not(None),
            PARCEL.c.confirmed_chute != PARCEL.c.chute,
        )
        stmt = stmt.group_by(PARCEL.c.site, PARCEL.c.edge_id)
        return {(s, e): (int(n), utc(at)) for s, e, n, at in self.conn.execute(stmt)}

    def edge_alarms(self, since: datetime) -> dict[Key, list[tuple[str, int, datetime, str]]]:
        """Alarm events since ``since`` per line and name: count, latest time, latest detail.

        Names in DERIVED_ALARMS are left out: the hub counts those from the projection.
        """
        name = EVENT.c.data["alarm"].as_string()
        part = (EVENT.c.site, EVENT.c.edge_id, name)
        inner = self._events(
            select(
                EVENT.c.site,
                EVENT.c.edge_id,
                name.label("name"),
                EVENT.c.at,
                EVENT.c.data,
                func.row_number().over(partition_by=part, order_by=EVENT.c.at.desc()).label("rn"),
                func.count().over(partition_by=part).label("n"),
            ).where(EVENT.c.kind == "alarm", EVENT.c.at >= since)
        ).subquery()
        stmt = select(inner).where(inner.c.rn == 1, inner.c.name.not_in(sorted(DERIVED_ALARMS)))
        out: dict[Key, list[tuple[str, int, datetime, str]]] = defaultdict(list)
        for row in self.conn.execute(stmt).mappings():
            detail = scrub(str(row["data"].get("detail", "")))[:DETAIL_CHARS]
            out[(row["site"], row["edge_id"])].append(
                (str(row["name"]), int(row["n"]), utc(row["at"]), detail)
            )
        return out
