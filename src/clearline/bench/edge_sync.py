"""First sync of an edge from a hub on PostgreSQL holding N parcel sets, over HTTP.

A fresh PostgreSQL database is migrated and filled: the first ``IMPORTED`` parcel sets
through the hub's import (``hub.importing.importer.import_records``: orders, payments,
waybills, inventories and their receipts), the rest as copies made in SQL with every code and
key suffixed (parcels of their own, of the same shapes; importing a million sets would take
the better part of an hour). The hub serves it from a thread of this process (uvicorn). The
edge syncs in a fresh Python process (``python -m clearline.bench.edge_sync sync URL KEY
STORE``) with the edge's own ``HubSync`` and ``DeclarationCache`` (a snapshot, then the delta),
so its time and memory are its own. It starts once the hub has written the snapshot file it
keeps for first syncs (``hub.services.snapshot_keep``), as a hub that has run a while has; the
build's time is in the details. A second process fetches the same snapshot and only
splits it into rows (what the hub and HTTP cost alone). The floor is a bare ``executemany``
of as many rows into SQLite.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clearline.bench.core import BenchContext, BenchResult

TARGET_SYNC_S = 60.0
TARGET_RSS_MB = 1024.0
FULL = 1_000_000
#: Parcel sets that go through the hub's own import; the rest are copies made in SQL.
IMPORTED = 10_000
#: Columns of a copy that name the parcel or its buyer (each gets the copy's suffix, so every
#: copy is a parcel of its own, found by codes of its own, linked to its own order and waybill,
#: bought by a buyer of its own: without the buyer's, each buyer would hold a list in every
#: copy, and each decision's annual-quota check would read a hundred of them).
_SUFFIXED = (
    "business_key", "order_no", "logistics_no", "invt_no", "cop_no", "pay_transaction_id",
    "buyer_id_number", "payer_id_number",
)  # fmt: skip
PG_ADMIN = os.environ.get("CLEARLINE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def _records(n: int) -> Iterator[Any]:
    from inspection.model import ParsedRecord
    from simulators.sample_declarations import parcel_sets

    i = 0
    for ps in parcel_sets(n, seed=7):
        for decl in ps.declarations():
            i += 1
            yield ParsedRecord(i, decl)
        i += 1
        yield ParsedRecord(i, ps.receipt)


def _copy_sql(copy: int) -> tuple[str, str, str]:
    """SQL that adds copy number ``copy`` of every imported declaration, its goods lines and
    its change number (PostgreSQL)."""
    from hub.db.models import DECLARATION, DECLARATION_LINE

    def ident(table: str, col: str) -> str:
        return f"md5({table}.{col}::text || '-{copy}')::uuid"

    decl_cols = [c.name for c in DECLARATION.columns]
    picks = []
    for name in decl_cols:
        if name == "id":
            picks.append(ident("d", "id"))
        elif name in _SUFFIXED:
            picks.append(f"CASE WHEN d.{name} = '' THEN '' ELSE d.{name} || 'C{copy}' END")
        else:
            picks.append(f"d.{name}")
    decls = (
        f"INSERT INTO declaration ({', '.join(decl_cols)}) SELECT {', '.join(picks)} "
        "FROM declaration d JOIN sync_change s ON s.declaration_id = d.id "
        f"WHERE s.seq <= :base ORDER BY s.seq"
    )
    line_cols = [c.name for c in DECLARATION_LINE.columns]
    line_picks = [ident("l", c) if c in ("id", "declaration_id") else f"l.{c}" for c in line_cols]
    lines = (
        f"INSERT INTO declaration_line ({', '.join(line_cols)}) SELECT {', '.join(line_picks)} "
        "FROM declaration_line l JOIN sync_change s ON s.declaration_id = l.declaration_id "
        "WHERE s.seq <= :base"
    )
    changes = (
        "INSERT INTO sync_change (declaration_id) SELECT "
        f"{ident('s', 'declaration_id')} FROM sync_change s WHERE s.seq <= :base ORDER BY s.seq"
    )
    return decls, lines, changes


def _seed(url: str, n: int, progress: Any, imported: int = IMPORTED) -> tuple[int, float]:
    """Fill the hub with ``n`` parcel sets: the first ``imported`` through its import, the
    rest as suffixed copies in SQL. Return how many records the import stored, and seconds."""
    from sqlalchemy import text

    from hub.db.engine import make_engine
    from hub.importing.importer import import_records

    engine = make_engine(url)
    t0 = time.perf_counter()
    report = import_records(engine, _records(min(n, imported)))
    with engine.begin() as conn:
        base = int(conn.execute(text("SELECT max(seq) FROM sync_change")).scalar_one())
    copies = -(-n // imported) - 1
    for copy in range(1, copies + 1):
        sets = min(imported, n - copy * imported)
        last = base if sets == imported else _seq_of_set(engine, sets)
        with engine.begin() as conn:
            for sql in _copy_sql(copy):
                conn.execute(text(sql), {"base": last})
        if copy % 10 == 0:
            progress(f"edge_sync: {(copy + 1) * imported:,} parcel sets in the hub")
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return report.new, time.perf_counter() - t0


def _seq_of_set(engine: Any, sets: int) -> int:
    """The change number of the last declaration of the first ``sets`` imported parcel sets."""
    from sqlalchemy import text

    with engine.begin() as conn:
        found = conn.execute(
            text("SELECT seq FROM sync_change ORDER BY seq OFFSET :k LIMIT 1"), {"k": sets * 4 - 1}
        ).scalar_one()
    return int(found)


def _cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _child_sync(url: str, key: str, store: Path) -> dict[str, Any]:
    """Sync an empty edge cache from the hub until caught up, as the edge's sync thread does
    (its first pull is the hub's snapshot, the pages after it the delta)."""
    from edge.cache import DeclarationCache
    from edge.sync import HubSync

    cache = DeclarationCache(store)
    sync = HubSync(url, key, cache, lambda _page: None, threading.Event())
    t0, cpu0 = time.monotonic(), _cpu_s()
    pages = 1
    more = sync.pull_once()
    snapshot_s = time.monotonic() - t0
    while more:
        more = sync.pull_once()
        pages += 1
    elapsed = time.monotonic() - t0
    cpu = _cpu_s() - cpu0
    stored = cache.count()
    cache.close()
    return {"seconds": elapsed, "snapshot_s": snapshot_s, "cpu_s": cpu, "pages": pages,
            "phases": {k: round(v, 2) for k, v in sync.snapshot_timings.items()},
            "synced": sync.synced, "stored": stored,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}  # fmt: skip


def _child_fetch(url: str, key: str) -> dict[str, Any]:
    """Fetch the hub's snapshot and split it into rows, storing nothing (the hub and HTTP)."""
    import httpx

    from edge.snapshot import split_lines
    from hub.api.sync import SOURCE_HEADER

    t0, cpu0 = time.monotonic(), _cpu_s()
    n = 0
    with (
        httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60.0) as client,
        client.stream("GET", "/api/v1/sync/snapshot") as resp,
    ):
        resp.raise_for_status()
        source = resp.headers.get(SOURCE_HEADER, "")
        for line in split_lines(resp.iter_bytes(1 << 20)):
            n += bool(line) and not line.startswith(b"{")
    return {"seconds": time.monotonic() - t0, "cpu_s": _cpu_s() - cpu0, "declarations": n,
            "source": source}  # fmt: skip


def _backend_cpu_s(url: str) -> float | None:
    """CPU seconds of the PostgreSQL backends now serving the hub's database (its pool);
    None when their processes cannot be read (another host or user)."""
    import psutil
    from sqlalchemy import text

    from hub.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            pids = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                     "AND pid <> pg_backend_pid()")
            ).scalars().all()  # fmt: skip
        total = 0.0
        for pid in pids:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    except (psutil.Error, OSError):
        return None
    finally:
        engine.dispose()
    return total


def _child(*args: str) -> dict[str, Any]:
    started = time.monotonic()
    if args[0] == "sync":
        report = _child_sync(args[1], args[2], Path(args[3]))
    else:
        report = _child_fetch(args[1], args[2])
    report["process_start_to_end_s"] = time.monotonic() - started
    return report


def _run_child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "clearline.bench.edge_sync", *args],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"edge sync process failed: {out.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(out.stdout)
    return report


def _wait_kept(directory: Path, declarations: int, timeout_s: float = 1800.0) -> float:
    """Wait until the hub keeps a snapshot of every declaration; return the build's seconds."""
    from hub.services.snapshot_keep import SnapshotStore

    store, deadline = SnapshotStore(directory), time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        kept = store.current()
        if kept is not None and kept.count >= declarations:
            return kept.build_s
        time.sleep(0.5)
    raise RuntimeError(
        f"the hub kept no snapshot of {declarations:,} declarations in {timeout_s} s"
    )


def _floor(path: Path, rows: int) -> float:
    """Seconds for a bare executemany of ``rows`` 300-byte rows into a fresh SQLite file."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (kind TEXT, key TEXT, body BLOB, PRIMARY KEY (kind, key))")
    body = b"x" * 300
    t0 = time.perf_counter()
    for start in range(0, rows, 2000):
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO t VALUES ('inventory', ?, ?)",
            ((f"AGT001:C{i:015d}", body) for i in range(start, min(rows, start + 2000))),
        )
        db.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    db.close()
    return elapsed


def _database() -> tuple[str, str]:
    """Create a fresh PostgreSQL database; return its URL and name."""
    from sqlalchemy import text

    from hub.db.engine import make_engine

    name = f"clearline_bench_sync_{uuid.uuid4().hex[:8]}"
    admin = make_engine(f"{PG_ADMIN}/postgres").execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{PG_ADMIN}/{name}", name


def _drop(name: str) -> None:
    from sqlalchemy import text

    from hub.db.engine import make_engine

    admin = make_engine(f"{PG_ADMIN}/postgres").execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def run(ctx: BenchContext) -> list[BenchResult]:
    """Fill a hub with N parcel sets, then time an edge's first sync from it."""
    from sqlmodel import Session

    from clearline.demo.hub_thread import HubThread
    from hub.db.auth_models import Role
    from hub.db.engine import make_engine
    from hub.db.migrate import upgrade
    from hub.services import users
    from hub.settings import HubSettings

    n = ctx.n(FULL, minimum=500)
    url, name = _database()
    hub: HubThread | None = None
    try:
        engine = make_engine(url)
        upgrade(engine)
        ctx.progress(f"edge_sync: filling the hub with {n:,} parcel sets")
        imported, import_s = _seed(url, n, ctx.progress)
        with Session(engine) as session:
            _row, key = users.create_api_key(session, "bench-edge", Role.EDGE, datetime.now(UTC))
        engine.dispose()
        settings = HubSettings(
            database_url=url,
            admin_user="admin",
            admin_password="bench-hub-9f3k-pass-x",
            dev=False,
            audit_key_path=str(ctx.workdir / "edge-sync" / "audit.key"),
            data_dir=str(ctx.workdir / "edge-sync" / "hub"),
            sync_snapshot_check_s=1.0,  # the keeper's first look a second after the start
            sync_snapshot_min_declarations=0,  # a file at any scale: the bench measures it
        )
        shutil.rmtree(settings.snapshot_dir(), ignore_errors=True)
        hub = HubThread(settings)
        hub.start()
        ctx.progress("edge_sync: the hub writes the snapshot it keeps for first syncs")
        kept_s = _wait_kept(settings.snapshot_dir(), n * 4)
        ctx.progress("edge_sync: syncing an empty edge")
        store = ctx.workdir / "edge-sync" / "cache.db"
        for stale in store.parent.glob("cache.db*"):
            stale.unlink()
        load0 = os.getloadavg()[0]
        pg0, hub0 = _backend_cpu_s(url), _cpu_s()
        synced = _run_child("sync", hub.url, key, str(store))
        hub_cpu, pg1 = _cpu_s() - hub0, _backend_cpu_s(url)
        fetched = _run_child("fetch", hub.url, key)
    finally:
        if hub is not None:
            hub.stop()
        _drop(name)
    floor_s = _floor(ctx.workdir / "edge-sync-floor.db", n * 4)
    complete = synced["synced"] == n * 4 and synced["stored"] == n * 4
    details = {
        "parcel_sets": n,
        "declarations": n * 4,
        "hub_database": "postgresql",
        "hub_fill_seconds": round(import_s, 1),
        "hub_imported_records": imported,
        "hub_copied_parcel_sets": max(0, n - IMPORTED),
        "pages": synced["pages"],
        "synced": synced["synced"],
        "stored": synced["stored"],
        "complete": complete,
        "snapshot_served_from": fetched["source"],  # X-Clearline-Snapshot: kept or live
        "kept_snapshot_build_seconds": kept_s,
        "snapshot_seconds": round(synced["snapshot_s"], 2),
        "snapshot_phases_seconds": synced.get("phases", {}),
        "edge_cpu_seconds": round(synced["cpu_s"], 2),
        "edge_cpu_us_per_declaration": round(synced["cpu_s"] / max(1, n * 4) * 1e6, 2),
        "hub_process_cpu_seconds": round(hub_cpu, 2),
        "postgres_cpu_seconds": None if pg0 is None or pg1 is None else round(pg1 - pg0, 2),
        "fetch_and_split_only_seconds": round(fetched["seconds"], 2),
        "fetch_and_split_only_cpu_seconds": round(fetched["cpu_s"], 2),
        "load_average_1min_before_after": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "store_mb": round(store.stat().st_size / 2**20, 1),
        "per_declaration_ms": round(synced["seconds"] / max(1, n * 4) * 1000, 4),
    }
    return [
        BenchResult(
            name="edge_sync_s",
            value=round(synced["seconds"], 2),
            unit="s",
            floor_name="bare executemany of as many rows into SQLite",
            floor_value=round(floor_s, 3),
            target=f"<= {TARGET_SYNC_S:.0f}",
            meets_target=complete and synced["seconds"] <= TARGET_SYNC_S,
            details=details,
        ),
        BenchResult(
            name="edge_sync_rss_mb",
            value=round(synced["rss_mb"], 1),
            unit="MiB",
            floor_name="(none: resident memory of the syncing edge process)",
            floor_value=0.0,
            target=f"<= {TARGET_RSS_MB:.0f}",
            meets_target=synced["rss_mb"] <= TARGET_RSS_MB,
        ),
    ]


if __name__ == "__main__":
    print(json.dumps(_child(*sys.argv[1:])))  # noqa: T201
