"""The edge's durable safety state: every fact that guards a release survives a restart.

Four facts decide whether a parcel may leave, and each is committed here *before* it takes
effect, then reloaded when the edge starts:

* inspector verdicts (a HOLD keeps a parcel on site until the declaration is gone);
* released declarations, so a second copy of a released label is caught as a duplicate; a
  key is kept for ``released_retain_s`` (the lifetime of a declaration at the site), never
  trimmed by count;
* the answer given for each item until the PLC confirms it, so a restarted edge repeats it
  instead of deciding again without the facts, together with the events that told the hub;
* the PLC confirm cursor, so confirmations posted while the edge was away are still read.

Times stored here are wall-clock UTC (they must outlive the process); they only bound how
long a fact is kept, never when a parcel is answered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from devices.events import DivertConfirmed
from edge.sqlite import open_store

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdict (
    verdict_id TEXT PRIMARY KEY, parcel_code TEXT NOT NULL, item_id INTEGER,
    verdict TEXT NOT NULL, at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_verdict_code ON verdict(parcel_code);
CREATE TABLE IF NOT EXISTS released (
    parcel_key TEXT PRIMARY KEY, item_id INTEGER NOT NULL, at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_released_at ON released(at);
CREATE TABLE IF NOT EXISTS answer (
    item_id INTEGER PRIMARY KEY, chute INTEGER NOT NULL, reason INTEGER NOT NULL,
    outcome TEXT NOT NULL, at TEXT NOT NULL, events TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS confirm_inbox (
    n INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER, item_id INTEGER NOT NULL,
    chute INTEGER NOT NULL, status INTEGER NOT NULL, at TEXT NOT NULL
);
"""
#: How long a released declaration key is kept (the declarations' lifetime at a site), s.
RELEASED_RETAIN_S = 90 * 86_400.0
#: How long an answer the PLC never confirmed is repeated, s: a PLC asks again within its
#: request's time, far less; a PLC that restarted numbers new items from 1 after longer.
ANSWER_RETAIN_S = 60.0


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer given for one item: chute, reason index, outcome, and the events sent."""

    item_id: int
    chute: int
    reason: int
    outcome: str
    at: datetime
    events: tuple[str, ...]  # the JSON of each event that told the hub (re-sent as is)


@dataclass(frozen=True, slots=True)
class Inbound:
    """A confirmation as the PLC link read it: ring entry, item, chute, status, time read."""

    seq: int | None
    item_id: int
    chute: int
    status: int
    at: datetime


class SafetyState:
    """SQLite store (WAL) of verdicts, released keys, open answers and the confirm cursor.

    ``path=None`` keeps everything in memory (tests, tools): the same rules, no restart.
    Holds are also kept in memory (``holds``) because every decision reads them.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        released_retain_s: float = RELEASED_RETAIN_S,
        answer_retain_s: float = ANSWER_RETAIN_S,
    ) -> None:
        """Open (or create) the store and load the holds."""
        # FULL: every commit is fsynced before the PLC hears the answer it guards, so a power
        # cut loses no HOLD, released key or answer given (NORMAL survives only a killed
        # process). Measured: 0.3-0.5 ms more per parcel at the median (docs/invariants.md)
        #: The store's file (None: in memory, this process's alone).
        self.path = None if path is None else Path(path)
        self._db = open_store(path if path is not None else ":memory:", synchronous="FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._released_retain = timedelta(seconds=released_retain_s)
        self._answer_retain = timedelta(seconds=answer_retain_s)
        rows = self._db.execute("SELECT DISTINCT parcel_code FROM verdict WHERE verdict = 'hold'")
        self.holds: set[str] = {str(r[0]) for r in rows}
        if self.holds:
            log.info("%d parcels on hold reloaded from the safety store", len(self.holds))

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    # --- verdicts -----------------------------------------------------------------------------

    def record_verdict(
        self, verdict_id: str, parcel_code: str, item_id: int | None, verdict: str, at: datetime
    ) -> bool:
        """Commit one verdict (a HOLD holds ``parcel_code`` from now on); False if known."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO verdict VALUES (?, ?, ?, ?, ?)",
                (verdict_id, parcel_code, item_id, verdict, at.isoformat()),
            )
        if verdict == "hold":
            self.holds.add(parcel_code)
        return cur.rowcount == 1

    def verdicts_cursor(self) -> str:
        """Return where the hub's verdict sync resumes (``""``: from the first verdict)."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM meta WHERE name = 'verdicts_cursor'"
            ).fetchone()
        return "" if row is None else str(row[0])

    def set_verdicts_cursor(self, cursor: str) -> None:
        """Keep the verdict sync cursor (after the verdicts it covers were recorded)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('verdicts_cursor', ?)", (cursor,))

    def verdicts(self) -> list[tuple[str, str, int | None, str]]:
        """Return every stored verdict as (verdict_id, parcel_code, item_id, verdict)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT verdict_id, parcel_code, item_id, verdict FROM verdict ORDER BY at"
            ).fetchall()
        return [(str(v), str(c), None if i is None else int(i), str(k)) for v, c, i, k in rows]

    # --- released declarations ------------------------------------------------------------------

    def released_item(self, parcel_key: str) -> int | None:
        """Return the item that released ``parcel_key``, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT item_id FROM released WHERE parcel_key = ?", (parcel_key,)
            ).fetchone()
        return None if row is None else int(row[0])

    def released_count(self) -> int:
        """Return how many released declaration keys are kept."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM released").fetchone()[0])

    # --- answers ------------------------------------------------------------------------------

    def record_answer(self, answer: Answer, released_key: str | None = None) -> None:
        """Commit an answer (and the declaration it releases) in one transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO answer VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        answer.item_id,
                        answer.chute,
                        answer.reason,
                        answer.outcome,
                        answer.at.isoformat(),
                        "\n".join(answer.events),
                    ),
                )
                if released_key is not None:
                    self._db.execute(
                        "INSERT OR IGNORE INTO released VALUES (?, ?, ?)",
                        (released_key, answer.item_id, answer.at.isoformat()),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def open_answer(self, item_id: int, now: datetime) -> Answer | None:
        """Return the answer given for ``item_id`` and not yet confirmed (None if none or old)."""
        with self._lock:
            row = self._db.execute(
                "SELECT item_id, chute, reason, outcome, at, events FROM answer WHERE item_id = ?",
                (item_id,),
            ).fetchone()
        if row is None:
            return None
        answer = _answer(row)
        return answer if now - answer.at <= self._answer_retain else None

    def open_answers(self) -> list[Answer]:
        """Return every answer the PLC has not confirmed yet (oldest first)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT item_id, chute, reason, outcome, at, events FROM answer ORDER BY at"
            ).fetchall()
        return [_answer(r) for r in rows]

    def journal_confirms(self, rows: list[Inbound], cursor: int | None) -> None:
        """Commit confirmations as the PLC link read them, and the cursor past them.

        The engine may be behind the link; what it has not handled yet stays in the inbox and
        is handled after a restart, while the PLC is read on from ``cursor`` (its ring holds
        only 16 entries, so the cursor must follow the reads, not the engine).
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT INTO confirm_inbox (seq, item_id, chute, status, at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(r.seq, r.item_id, r.chute, r.status, r.at.isoformat()) for r in rows],
            )
            if cursor is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('confirm_cursor', ?)", (str(cursor),)
                )
            self._db.execute("COMMIT")

    def journal_read(self, confirms: Sequence[DivertConfirmed]) -> None:
        """:meth:`journal_confirms` of confirmations as the PLC link read them, with the
        cursor past the last one (the ring's sequence numbers wrap at 65,536)."""
        rows = [Inbound(c.seq, c.item_id, c.chute, c.status, c.at) for c in confirms]
        last = confirms[-1].seq
        self.journal_confirms(rows, None if last is None else (last + 1) % 0x10000)

    def inbox(self) -> list[Inbound]:
        """Return the confirmations read from the PLC and not handled yet, in read order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, item_id, chute, status, at FROM confirm_inbox ORDER BY n"
            ).fetchall()
        return [Inbound(s, i, c, st, datetime.fromisoformat(a)) for s, i, c, st, a in rows]

    def confirmed(self, item_id: int, cursor: int | None, seq: int | None = None) -> None:
        """Close the item's answer, drop its inbox entry and move the confirm cursor past its
        entry (``cursor`` None: the link's journal keeps the cursor), in one commit."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM answer WHERE item_id = ?", (item_id,))
            self._db.execute(
                "DELETE FROM confirm_inbox WHERE item_id = ? AND seq IS ?", (item_id, seq)
            )
            if cursor is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('confirm_cursor', ?)", (str(cursor),)
                )
            self._db.execute("COMMIT")

    def confirm_cursor(self) -> int | None:
        """Return the confirm ring entry number to read next, or None on a fresh store."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM meta WHERE name = 'confirm_cursor'"
            ).fetchone()
        return None if row is None else int(row[0])

    # --- housekeeping -------------------------------------------------------------------------

    def prune(self, now: datetime) -> tuple[int, int]:
        """Forget released keys and open answers past their lifetime; return (keys, answers)."""
        with self._lock:
            keys = self._db.execute(
                "DELETE FROM released WHERE at < ?", ((now - self._released_retain).isoformat(),)
            ).rowcount
            answers = self._db.execute(
                "DELETE FROM answer WHERE at < ?", ((now - self._answer_retain).isoformat(),)
            ).rowcount
        if keys or answers:
            log.info(
                "safety store: %s released keys and %s answers past their time",
                f"{keys:,}",
                f"{answers:,}",
            )
        return keys, answers


def _answer(row: tuple[object, ...]) -> Answer:
    """Build an ``Answer`` from a database row."""
    item_id, chute, reason, outcome, at, events = row
    text = str(events)
    return Answer(
        int(str(item_id)),
        int(str(chute)),
        int(str(reason)),
        str(outcome),
        datetime.fromisoformat(str(at)),
        tuple(text.split("\n")) if text else (),
    )
