"""First sync of an edge from a hub on PostgreSQL holding N parcel sets, over HTTP.

A fresh PostgreSQL database is migrated and filled through the hub's import
(``hub.importing.importer.import_records``: orders, payments, waybills, inventories and
their receipts); the hub serves it from a thread of this process (uvicorn). The edge syncs
in a fresh Python process (``python -m clearline.bench.edge_sync sync URL KEY STORE``)
with the edge's own ``HubSync`` and ``DeclarationCache``, so its time and memory are its own.
A second process fetches the same pages and only parses them (what the hub and HTTP cost
alone). The floor is a bare ``executemany`` of as many rows into SQLite.
"""

from __future__ import annotations

import json
import os
import resource
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


def _child_sync(url: str, key: str, store: Path) -> dict[str, Any]:
    """Sync an empty edge cache from the hub until caught up, as the edge's sync thread does."""
    from edge.cache import DeclarationCache
    from edge.sync import HubSync

    cache = DeclarationCache(store)
    sync = HubSync(url, key, cache, lambda _page: None, threading.Event())
    t0 = time.monotonic()
    pages = 1
    while sync.pull_once():
        pages += 1
    elapsed = time.monotonic() - t0
    stored = cache.count()
    cache.close()
    return {"seconds": elapsed, "pages": pages, "synced": sync.synced, "stored": stored,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}  # fmt: skip


def _child_fetch(url: str, key: str) -> dict[str, Any]:
    """Fetch and parse every page the hub serves, storing nothing."""
    import httpx

    from edge.sync import parse_page

    t0 = time.monotonic()
    cursor, n = "", 0
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60.0) as client:
        while True:
            body = client.get(
                "/api/v1/sync/declarations", params={"cursor": cursor, "limit": 2000}
            ).json()
            n += len(parse_page(body)[0])
            cursor = body["next_cursor"]
            if not body["more"]:
                break
    return {"seconds": time.monotonic() - t0, "declarations": n}


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
    from hub.importing.importer import import_records
    from hub.services import users
    from hub.settings import HubSettings

    n = ctx.n(FULL, minimum=500)
    url, name = _database()
    hub: HubThread | None = None
    try:
        engine = make_engine(url)
        upgrade(engine)
        ctx.progress(f"edge_sync: importing {n:,} parcel sets into the hub")
        t0 = time.perf_counter()
        report = import_records(engine, _records(n))
        import_s = time.perf_counter() - t0
        with Session(engine) as session:
            _row, key = users.create_api_key(session, "bench-edge", Role.EDGE, datetime.now(UTC))
        engine.dispose()
        settings = HubSettings(
            database_url=url,
            admin_user="admin",
            admin_password="bench-hub-9f3k-pass-x",
            dev=False,
            audit_key_path=str(ctx.workdir / "edge-sync" / "audit.key"),
        )
        hub = HubThread(settings)
        hub.start()
        ctx.progress("edge_sync: syncing an empty edge")
        store = ctx.workdir / "edge-sync" / "cache.db"
        synced = _run_child("sync", hub.url, key, str(store))
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
        "hub_import_seconds": round(import_s, 1),
        "hub_import_new": report.new,
        "pages": synced["pages"],
        "synced": synced["synced"],
        "stored": synced["stored"],
        "complete": complete,
        "fetch_and_parse_only_seconds": round(fetched["seconds"], 2),
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
