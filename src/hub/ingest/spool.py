"""A small durable spool (SQLite file) holding received MQTT payloads until they are stored."""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
from pathlib import Path

from hub.db.engine import StoreError

logger = logging.getLogger(__name__)


class EventSpool:
    """Append-only queue of raw payloads on disk; entries leave only when acknowledged.

    ``put`` commits before it returns, so a payload the broker has been acknowledged for
    survives a hub crash or restart; ``take`` hands out the oldest entries again and again
    until ``ack`` removes them. Safe to call from several threads. One process owns a spool:
    a second hub opening the same file is refused (``StoreError``) instead of storing the
    first one's events.
    """

    def __init__(self, path: Path) -> None:
        """Open (or create) the spool file at ``path``; raise StoreError if it cannot."""
        self.path = path
        self._lock = threading.Lock()
        self._owner = _claim(path)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS spool ("
                "seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL)"
            )
        except (OSError, sqlite3.Error) as err:
            os.close(self._owner)
            raise StoreError(f"cannot open the event spool {path}: {err}") from err

    def put(self, topic: str, payload: bytes) -> None:
        """Append one payload and commit it; raise StoreError if the disk refuses."""
        try:
            with self._lock:
                self._db.execute(
                    "INSERT INTO spool (topic, payload) VALUES (?, ?)", (topic, payload)
                )
        except sqlite3.Error as err:
            raise StoreError(f"cannot write the event spool {self.path}: {err}") from err

    def take(self, limit: int) -> list[tuple[int, str, bytes]]:
        """Return up to ``limit`` of the oldest entries as ``(seq, topic, payload)``."""
        try:
            with self._lock:
                rows = self._db.execute(
                    "SELECT seq, topic, payload FROM spool ORDER BY seq LIMIT ?", (limit,)
                ).fetchall()
        except sqlite3.Error as err:
            raise StoreError(f"cannot read the event spool {self.path}: {err}") from err
        return [(int(s), str(t), bytes(p)) for s, t, p in rows]

    def ack(self, up_to_seq: int) -> None:
        """Remove every entry with a sequence number up to and including ``up_to_seq``."""
        try:
            with self._lock:
                self._db.execute("DELETE FROM spool WHERE seq <= ?", (up_to_seq,))
        except sqlite3.Error as err:
            raise StoreError(f"cannot update the event spool {self.path}: {err}") from err

    def __len__(self) -> int:
        """Number of entries waiting."""
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM spool").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the file (entries stay for the next start) and give up ownership."""
        with self._lock:
            self._db.close()
            if self._owner >= 0:
                os.close(self._owner)
                self._owner = -1


def claim_slot(directory: Path, most: int = 64) -> EventSpool:
    """Open the first free ``event-spool-{n}.db`` under ``directory`` (for shared ingest).

    Each hub process sharing a site's events needs a spool of its own; a restarted process
    takes the slot a dead one left (its lock dies with it) and stores what that one spooled.
    """
    for slot in range(most):
        path = directory / f"event-spool-{slot}.db"
        try:
            return EventSpool(path)
        except StoreError as err:
            if "in use by another hub" not in str(err):
                raise
    raise StoreError(f"all {most} event spool slots under {directory} are in use")


def spool_slot(spool: EventSpool) -> str:
    """Return the slot name of a spool opened by :func:`claim_slot` (its file's stem tail)."""
    return spool.path.stem.rsplit("-", 1)[-1]


def _claim(path: Path) -> int:
    """Lock ``path``'s owner file for this process; raise StoreError if another holds it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(f"{path}.owner", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise StoreError(f"cannot open the event spool {path}: {err}") from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StoreError(
            f"the event spool {path} is in use by another hub; give each hub its own "
            "CLEARLINE_DATA_DIR or CLEARLINE_EVENT_SPOOL_PATH"
        ) from None
    return fd
