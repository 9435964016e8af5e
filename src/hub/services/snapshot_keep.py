"""The snapshot's rows kept written in a file, so an edge's first sync costs the database nothing.

Handing out every declaration is the database's largest piece of work for an edge's first sync
(about 10 µs of PostgreSQL CPU a declaration, on the same cores as everything else). A hub on
PostgreSQL therefore keeps the rows of a recent snapshot in a file under
``DATA_DIR/snapshots/SITE_ID/``: ``rows-{cursor}.copy`` holds exactly the rows a live snapshot
taken then would have streamed (``hub.services.snapshot``), and ``kept.json`` names it with its
cursor, row count and the database it was read from. ``GET /api/v1/sync/snapshot`` serves that
file, headed by the file's cursor; the edge's delta sync then brings everything that changed
since (a change gets a number above the cursor), so a file some minutes old loses nothing.

One thread per hub process looks every ``check_s`` seconds and rebuilds the file, under a lock
so that one process builds at a time, once ``rebuild_changes`` declarations changed since it was
read, or once anything changed and it is older than ``max_age_s``. It keeps none below
``min_declarations`` (a small site's live snapshot is quick). A file is written whole, synced
and renamed before ``kept.json`` points at it; a file read from another database (a database
dropped and made anew, restored elsewhere) is never served.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from hub.db.models import table_of
from hub.db.sync_models import SyncChange

log = logging.getLogger(__name__)

#: The kept snapshot's description, beside its rows.
META = "kept.json"
#: The only names a rows file has (``kept.json`` naming anything else is not served).
_ROWS_NAME = re.compile(r"rows-[0-9]+\.copy")
_SYNC = table_of(SyncChange)


@dataclass(frozen=True, slots=True)
class KeptSnapshot:
    """A file of snapshot rows: every declaration at or below ``cursor``, ``count`` of them."""

    path: Path
    cursor: int
    count: int
    database: str
    built_at: float
    build_s: float


@dataclass(frozen=True, slots=True)
class OpenSnapshot:
    """A kept snapshot with its rows file open: a rebuild that replaces it cannot take it away."""

    kept: KeptSnapshot
    file: BinaryIO

    def chunks(self, size: int) -> Iterator[bytes]:
        """Yield the file's bytes ``size`` at a time, then close it."""
        with self.file:
            while chunk := self.file.read(size):
                yield chunk


def database_identity(conn: Connection) -> str:
    """Name what a snapshot is read from: server port, database and its oid, schema.

    A database dropped and made again under the same name gets a new oid; two hubs on one
    database in schemas of their own differ by the schema.
    """
    row = conn.exec_driver_sql(
        "SELECT concat_ws('/', coalesce(inet_server_port(), 0), current_database(), oid, "
        "current_schema()) FROM pg_database WHERE datname = current_database()"
    ).scalar_one()
    return str(row)


class SnapshotStore:
    """The kept snapshot of one site's hub: read it, check it still fits, build a new one."""

    def __init__(self, directory: Path) -> None:
        """Keep files in ``directory`` (made on first build)."""
        self.directory = directory

    def current(self) -> KeptSnapshot | None:
        """Return the kept snapshot, or None when there is none whole."""
        try:
            meta = json.loads((self.directory / META).read_text(encoding="utf-8"))
            kept = KeptSnapshot(
                path=self.directory / str(meta["file"]),
                cursor=int(meta["cursor"]),
                count=int(meta["count"]),
                database=str(meta["database"]),
                built_at=float(meta["built_at"]),
                build_s=float(meta.get("build_s", 0.0)),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("kept snapshot in %s unreadable (%s); serving live", self.directory, err)
            return None
        if _ROWS_NAME.fullmatch(kept.path.name) is None:  # only a file of the keeper's own
            log.warning("kept snapshot names %r, not a rows file; serving live", meta["file"])
            return None
        if not kept.path.is_file():
            return None
        return kept

    def usable(self, conn: Connection) -> KeptSnapshot | None:
        """Return the kept snapshot if it was read from this database (None otherwise)."""
        kept = self.current()
        if kept is None or conn.dialect.name != "postgresql":
            return None
        if kept.database != database_identity(conn):
            log.warning("kept snapshot %s is of another database; serving live", kept.path.name)
            return None
        newest = conn.execute(select(func.coalesce(func.max(_SYNC.c.seq), 0))).scalar_one()
        if int(newest) < kept.cursor:  # numbers only grow: this is not the database it read
            log.warning("kept snapshot %s is ahead of the database; serving live", kept.path.name)
            return None
        return kept

    def open_usable(self, engine: Engine) -> OpenSnapshot | None:
        """Open the kept snapshot for serving, if it is usable for ``engine``'s database."""
        if engine.dialect.name != "postgresql":
            return None
        with engine.connect() as conn:
            kept = self.usable(conn)
            conn.rollback()
        if kept is None:
            return None
        try:
            return OpenSnapshot(kept, kept.path.open("rb"))
        except FileNotFoundError:  # replaced by a rebuild just now: serve live this once
            return None

    def build(self, engine: Engine) -> KeptSnapshot:
        """Read a snapshot's rows into a new file and make it the kept one; return it."""
        from hub.services.snapshot import read_rows  # the live snapshot's own reader

        self.directory.mkdir(parents=True, exist_ok=True)
        t0, started = time.monotonic(), time.time()
        tmp = self.directory / f"rows-{os.getpid()}.tmp"
        try:
            with read_rows(engine) as (conn, upto, count, rows):
                database = database_identity(conn)
                with tmp.open("wb") as f:
                    for chunk in rows:
                        f.write(chunk)
                    f.flush()
                    os.fsync(f.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)  # a build cut short leaves nothing behind
            raise
        path = self.directory / f"rows-{upto}.copy"
        tmp.replace(path)
        kept = KeptSnapshot(path, upto, count, database, started, round(time.monotonic() - t0, 2))
        self._point_at(kept)
        for old in self.directory.glob("rows-*.copy"):
            if old != path:
                old.unlink(missing_ok=True)  # a sync reading it keeps its open file
        log.info(
            "kept snapshot: %s declarations up to change %s in %.1f s, in %s",
            f"{count:,}", f"{upto:,}", kept.build_s, self.directory,
        )  # fmt: skip
        return kept

    def _point_at(self, kept: KeptSnapshot) -> None:
        """Write ``kept.json`` naming ``kept`` (whole or not at all)."""
        meta = {k: v for k, v in asdict(kept).items() if k != "path"}
        meta["file"] = kept.path.name
        tmp = self.directory / f"{META}.tmp"
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        tmp.replace(self.directory / META)

    def lock(self) -> _BuildLock:
        """Return the lock that lets one hub process build at a time."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return _BuildLock(self.directory / "build.lock")


class _BuildLock:
    """An exclusive, non-blocking ``flock`` on a file; released when the process ends."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

    def __enter__(self) -> bool:
        """Try to take the lock; return whether this process holds it."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def __exit__(self, *exc: object) -> None:
        """Release the lock and close the file."""
        os.close(self._fd)


class SnapshotKeeper:
    """The thread that keeps the snapshot file recent enough (see the module's text)."""

    def __init__(
        self,
        engine: Engine,
        store: SnapshotStore,
        *,
        check_s: float,
        rebuild_changes: int,
        max_age_s: float,
        min_declarations: int,
    ) -> None:
        """Keep what each look needs; nothing runs before ``start()``."""
        self.engine, self.store = engine, store
        self.check_s, self.rebuild_changes = check_s, rebuild_changes
        self.max_age_s, self.min_declarations = max_age_s, min_declarations
        self.built = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-snapshot-keeper", daemon=True)

    def start(self) -> SnapshotKeeper:
        """Start the thread (its first look comes ``check_s`` seconds after)."""
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (a build in progress is not waited for past ``timeout_s``)."""
        self._stop.set()
        self._thread.join(timeout_s)

    def due(self) -> bool:
        """Whether the kept file is missing, of another database, or too far behind.

        With a usable file only the changes after its cursor are counted (a range of the
        change numbers' index); the whole table is counted only while there is no file.
        """
        with self.engine.connect() as conn:
            kept = self.store.usable(conn)
            if kept is None:
                count = conn.execute(select(func.count()).select_from(_SYNC)).scalar_one()
                return int(count) >= self.min_declarations
            changed = conn.execute(
                select(func.count()).select_from(_SYNC).where(_SYNC.c.seq > kept.cursor)
            ).scalar_one()
        if int(changed) >= self.rebuild_changes:
            return True
        return int(changed) > 0 and time.time() - kept.built_at >= self.max_age_s

    def look_once(self) -> bool:
        """Rebuild if due and no other process is building; return whether this one built."""
        with self.store.lock() as mine:
            if not mine or not self.due():
                return False
            self.store.build(self.engine)
            self.built += 1
            return True

    def _run(self) -> None:
        while not self._stop.wait(self.check_s):
            try:
                self.look_once()
            except Exception:
                log.exception(
                    "keeping the sync snapshot failed; trying again in %.0f s", self.check_s
                )
