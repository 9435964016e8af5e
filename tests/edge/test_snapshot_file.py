"""A snapshot is built in a file of its own and takes the store's place whole: an edge killed
mid-build finds its old store (or an empty one), never part of a snapshot; a store some other
connection keeps open gets the snapshot copied in instead.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from edge.cache import BUILDING, DeclarationCache
from edge.snapshot import split_lines
from hub.db.migrate import upgrade
from hub.importing.importer import import_records
from hub.services import snapshot
from inspection.model import ParsedRecord
from simulators.sample_declarations import parcel_sets
from tests.hub import conftest as hub_fx

sqlite_engine = hub_fx.sqlite_engine

#: Run in a child: load the snapshot in argv[2] into the store argv[1], written to disk every
#: 10 rows, and SIGKILL the process after 300 rows (mid-build).
_KILLED_MID_BUILD = """
import os, signal, sys
from pathlib import Path
import edge.snapshot
from edge.cache import DeclarationCache
from edge.snapshot import split_lines

edge.snapshot.BATCH = 10

def lines():
    for i, line in enumerate(split_lines([Path(sys.argv[2]).read_bytes()])):
        if i == 300:
            os.kill(os.getpid(), signal.SIGKILL)
        yield line

DeclarationCache(sys.argv[1]).load_snapshot(lines())
"""


def _snapshot(engine: Engine, sets: int, seed: int) -> bytes:
    upgrade(engine)
    records: list[Any] = []
    for ps in parcel_sets(sets, seed=seed):
        records += [*ps.declarations(), ps.receipt]
    import_records(engine, [ParsedRecord(i + 1, r) for i, r in enumerate(records)])
    return b"".join(snapshot.stream(engine))


def _rows(cache: DeclarationCache) -> dict[str, list[Any]]:
    db = cache._db
    return {
        t: sorted(db.execute(f"SELECT * FROM ix_{t}").fetchall())
        for t in ("entry", "code", "doc", "status", "ledger")
    } | {"meta": sorted(db.execute("SELECT * FROM meta").fetchall())}


def _kill_mid_build(store: Path, stream: bytes, tmp_path: Path) -> None:
    source = tmp_path / "snapshot.bin"
    source.write_bytes(stream)
    out = subprocess.run(
        [sys.executable, "-c", _KILLED_MID_BUILD, str(store), str(source)],
        check=False, capture_output=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == -signal.SIGKILL, out.stderr.decode()[-2000:]
    building = store.with_name(store.name + BUILDING)
    assert building.exists()  # the child died with part of the snapshot written


def test_an_edge_killed_mid_snapshot_keeps_its_old_store(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    whole = _snapshot(sqlite_engine, 100, seed=5)
    store = tmp_path / "cache.db"
    cache = DeclarationCache(store)
    cache.load_snapshot(split_lines([whole]))
    cache.store((), (), None, "rules: kept")  # meta the snapshot does not carry
    before = _rows(cache)
    assert len(before["entry"]) == 100 and ("rules", "rules: kept") in before["meta"]
    cache.close()
    _kill_mid_build(store, whole, tmp_path)
    reopened = DeclarationCache(store)
    assert _rows(reopened) == before
    assert not store.with_name(store.name + BUILDING).exists()  # removed on opening
    assert reopened.load_snapshot(split_lines([whole])).count == 400  # and a retry succeeds
    assert _rows(reopened)["meta"] == before["meta"]


def test_an_empty_edge_killed_mid_snapshot_stays_empty(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    whole = _snapshot(sqlite_engine, 100, seed=6)
    store = tmp_path / "cache.db"
    DeclarationCache(store).close()
    _kill_mid_build(store, whole, tmp_path)
    cache = DeclarationCache(store)
    assert cache.count() == 0 and cache.meta("cursor") is None
    assert cache.reader().books.entry_count() == 0


def test_a_failed_snapshot_leaves_no_file_behind(sqlite_engine: Engine, tmp_path: Path) -> None:
    whole = _snapshot(sqlite_engine, 20, seed=7)
    cache = DeclarationCache(tmp_path / "cache.db")
    with pytest.raises(ValueError):
        cache.load_snapshot(split_lines([whole[: len(whole) // 2]]))
    assert sorted(p.name for p in tmp_path.iterdir() if BUILDING in p.name) == []
    assert cache.count() == 0


def test_a_store_open_elsewhere_gets_the_snapshot_copied_in(
    sqlite_engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    whole = _snapshot(sqlite_engine, 30, seed=8)
    moved = DeclarationCache(tmp_path / "moved.db")
    moved.load_snapshot(split_lines([whole]))
    store = tmp_path / "cache.db"
    cache = DeclarationCache(store)
    reader = cache.reader()
    other = sqlite3.connect(store)  # e.g. an operator's sqlite3 shell
    assert other.execute("SELECT count(*) FROM ix_entry").fetchone() == (0,)
    with caplog.at_level("INFO", logger="edge.cache"):
        cache.load_snapshot(split_lines([whole]))
    assert "copied in" in caplog.text
    assert _rows(cache) == _rows(moved)
    assert other.execute("SELECT count(*) FROM ix_entry").fetchone() == (30,)
    code = _rows(cache)["code"][0][0]
    assert reader.lookup(code) is not None  # the cache's own reader sees it too
    assert not store.with_name(store.name + BUILDING).exists()
    other.close()


def test_readers_answer_from_the_new_store_after_the_move(
    sqlite_engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    whole = _snapshot(sqlite_engine, 30, seed=9)
    store = tmp_path / "cache.db"
    cache = DeclarationCache(store)
    reader = cache.reader()
    code = "NOSUCHCODE"
    assert reader.lookup(code) is None
    with caplog.at_level("INFO", logger="edge.cache"):
        cache.load_snapshot(split_lines([whole]))
    assert "file replaced" in caplog.text
    code = _rows(cache)["code"][0][0]
    assert reader.lookup(code) is not None
    assert cache.count() == 120 and reader.books.entry_count() == 30
