"""The durable outbox: every edge event is on disk before it is sent, and kept until acked.

An event is *unsent* until the broker acknowledges it. Without hub confirmation the broker's
acknowledgement removes it; with confirmation it is then only marked *sent* (``sent_at``) and
stays until the hub itself has confirmed holding it (see ``edge.confirm``), so a broker that
loses its queue or a hub that was away when the event passed loses nothing.

Times kept here (``created_at``, ``sent_at``) are monotonic seconds, so a wall-clock jump
never holds an event back nor rushes it; a new process cannot compare the previous one's
monotonic times, so on opening every event already stored counts as old backlog.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.sqlite import open_store

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at REAL NOT NULL,
    sent_at REAL
);
"""
_SENT_INDEX = "CREATE INDEX IF NOT EXISTS ix_outbox_sent_at ON outbox(sent_at)"
#: The time given to events found on opening: older than any age asked about.
_LONG_AGO = -1e12


@dataclass(frozen=True, slots=True)
class Pending:
    """One stored event waiting to be sent."""

    seq: int
    event_id: str
    topic: str
    payload: bytes
    created_at: float


class Outbox:
    """A SQLite-backed queue of events (WAL; survives a killed process).

    Batches mix the newest events (live traffic, ``live_window_s``) with the oldest backlog,
    so a long replay after an outage never delays what is happening now.
    """

    def __init__(
        self,
        path: str | Path,
        live_window_s: float = 2.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = open_store(path)
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
        if "sent_at" not in columns:  # a store written before hub confirmation existed
            self._db.execute("ALTER TABLE outbox ADD COLUMN sent_at REAL")
        self._db.execute(_SENT_INDEX)
        # the previous process's monotonic times mean nothing now: all of it is old backlog
        self._db.execute(
            "UPDATE outbox SET created_at = ?, sent_at = CASE WHEN sent_at IS NULL "
            "THEN NULL ELSE ? END",
            (_LONG_AGO, _LONG_AGO),
        )
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._live_window_s = live_window_s
        self.path = Path(path)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def put(self, event_id: str, topic: str, payload: bytes, now: float | None = None) -> None:
        """Store one event durably (a duplicate event id is ignored)."""
        self.put_many([(event_id, topic, payload)], now)

    def put_many(self, items: list[tuple[str, str, bytes]], now: float | None = None) -> None:
        """Store several events in one transaction."""
        at = self._monotonic() if now is None else now
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT OR IGNORE INTO outbox(event_id, topic, payload, created_at) "
                "VALUES (?, ?, ?, ?)",
                [(e, t, p, at) for e, t, p in items],
            )
            self._db.execute("COMMIT")

    def next_batch(self, limit: int, now: float | None = None) -> list[Pending]:
        """Return up to ``limit`` unsent events: live ones first (oldest first), then backlog."""
        at = self._monotonic() if now is None else now
        live_cut = at - self._live_window_s
        with self._lock:
            live = self._db.execute(
                "SELECT seq, event_id, topic, payload, created_at FROM outbox "
                "WHERE sent_at IS NULL AND created_at >= ? ORDER BY seq LIMIT ?",
                (live_cut, max(1, limit // 2)),
            ).fetchall()
            rest = self._db.execute(
                "SELECT seq, event_id, topic, payload, created_at FROM outbox "
                "WHERE sent_at IS NULL ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        seen: set[int] = set()
        out: list[Pending] = []
        for row in live + rest:
            if row[0] not in seen and len(out) < limit:
                seen.add(row[0])
                out.append(Pending(row[0], row[1], row[2], bytes(row[3]), row[4]))
        return out

    def mark_sent(self, seqs: list[int], now: float | None = None) -> None:
        """Note that the broker acknowledged these events; they wait for the hub's word."""
        if not seqs:
            return
        at = self._monotonic() if now is None else now
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "UPDATE outbox SET sent_at = ? WHERE seq = ?", [(at, s) for s in seqs]
            )
            self._db.execute("COMMIT")

    def sent_batch(self, limit: int, min_age_s: float, now: float | None = None) -> list[Pending]:
        """Return up to ``limit`` sent events (oldest first) the broker acked ``min_age_s`` ago."""
        at = self._monotonic() if now is None else now
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, topic, payload, created_at FROM outbox "
                "WHERE sent_at IS NOT NULL AND sent_at <= ? ORDER BY seq LIMIT ?",
                (at - min_age_s, limit),
            ).fetchall()
        return [Pending(r[0], r[1], r[2], bytes(r[3]), r[4]) for r in rows]

    def ack(self, seqs: list[int]) -> None:
        """Forget events that reached their destination (the broker, or the hub itself)."""
        if not seqs:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
            self._db.execute("COMMIT")

    def pending(self) -> int:
        """Return how many events are not yet known to be delivered (unsent or unconfirmed)."""
        return self.counts()[0]

    def counts(self) -> tuple[int, int]:
        """Return ``(pending, unsent)`` read in one query."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*), COUNT(*) - COUNT(sent_at) FROM outbox"
            ).fetchone()
        return int(row[0]), int(row[1])

    def unsent(self) -> int:
        """Return how many events the broker has not acknowledged yet."""
        return self.counts()[1]
