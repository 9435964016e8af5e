"""First sync from the hub's snapshot: the same store and decisions as the delta sync, a
change made during the snapshot not lost, a broken stream leaves the old store, edge keys only.

Runs on SQLite and on PostgreSQL (the ``engine`` fixture of ``tests/hub/conftest.py``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.clock import ManualClock
from contracts.facts import ParcelFacts
from contracts.statuses import XrayState
from edge import snapshot as edge_snapshot
from edge import sync as sync_module
from edge.cache import DeclarationCache
from edge.snapshot import SnapshotError, split_lines
from edge.store import decode
from edge.sync import HubSync, SyncApplied
from hub.app import create_app
from hub.db.auth_models import Role
from hub.db.migrate import upgrade
from hub.importing.importer import import_records
from hub.services import snapshot, users
from inspection.index import parcel_codes
from inspection.model import Declaration, Notice, ParsedRecord
from inspection.pipeline import decide_parcel
from inspection.rules import load_rules
from simulators.sample_declarations import parcel_sets, with_status
from tests.hub import conftest as hub_fx
from tests.hub.conftest_api import hub_settings

engine = hub_fx.engine
sqlite_engine = hub_fx.sqlite_engine
pg_engine = hub_fx.pg_engine

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _records(items: list[Any]) -> list[ParsedRecord]:
    return [ParsedRecord(i + 1, r) for i, r in enumerate(items)]


def _notice(message_type: str, decl: Declaration) -> Notice:
    return Notice(
        message_type, decl.business_key, invt_no=decl.invt_no, status="800", time=AT,
        fields={"copNo": decl.cop_no, "returnStatus": "800"},
    )  # fmt: skip


def _fill(engine: Engine) -> list[str]:
    """File 30 parcels with every case a snapshot must carry; return every code to ask."""
    sets = list(parcel_sets(30, seed=11))
    sets[3] = with_status(sets[3], 500)
    sets[4] = with_status(sets[4], 100)
    odd = {"goodsInfo": 'tab\there, back\\slash, "quoted"\nnew line', "insuredFee": "1.5"}
    sets[12] = replace(sets[12], inventory=replace(sets[12].inventory, extra=odd))
    items: list[Any] = []
    for ps in sets:
        items += [*ps.declarations(), ps.receipt]
    items.append(replace(sets[5].inventory, extra={**sets[5].inventory.extra, "appType": "3"}))
    items.append(replace(sets[6].order, extra={**sets[6].order.extra, "appType": "3"}))
    inv = sets[10].inventory  # a second list sharing a waybill number: a conflict
    items.append(replace(inv, business_key=inv.business_key + "X", cop_no=inv.cop_no + "X"))
    import_records(engine, _records(items))
    import_records(
        engine,
        _records([_notice("CEB624", sets[7].inventory), _notice("CEB626", sets[8].inventory)]),
    )
    codes = {c for ps in sets for c in parcel_codes(ps.inventory)}
    return sorted(codes | {"NOSUCHCODE1"})


@pytest.fixture
def hub(engine: Engine) -> Iterator[tuple[TestClient, str, list[str]]]:
    """A hub app on the migrated database, filled, with an edge key."""
    upgrade(engine)
    codes = _fill(engine)
    with Session(engine) as session:
        _row, key = users.create_api_key(session, "edge-1", Role.EDGE, AT)
    app = create_app(hub_settings(), engine=engine, clock=ManualClock(AT))
    with TestClient(app) as client:
        yield client, key, codes


def _sync(client: TestClient, key: str, store: Path, *, snapshot: bool) -> DeclarationCache:
    cache = DeclarationCache(store)
    got: list[object] = []
    sync = HubSync(
        "http://hub", key, cache, got.append, threading.Event(), snapshot=snapshot,
        transport=client._transport,
    )  # fmt: skip
    while sync.pull_once():
        pass
    assert any(isinstance(g, SyncApplied) for g in got)
    return cache


def _tables(cache: DeclarationCache) -> dict[str, Any]:
    """Every row of the store's index, bodies decoded (what a decision can read)."""
    db = cache._db
    return {
        "entry": sorted(
            (k, key, decode(b), s, c, r, h)
            for k, key, b, s, c, r, h in db.execute("SELECT * FROM ix_entry")
        ),
        "code": db.execute("SELECT code, kind, key FROM ix_code ORDER BY code, rowid").fetchall(),
        "doc": sorted(
            (k, a, b, decode(body)) for k, a, b, body in db.execute("SELECT * FROM ix_doc")
        ),
        "status": sorted(db.execute("SELECT * FROM ix_status").fetchall()),
        "pending": db.execute("SELECT * FROM ix_pending").fetchall(),
        "ledger": sorted(db.execute("SELECT * FROM ix_ledger").fetchall()),
        "cursor": cache.meta("cursor"),
        "rules": cache.meta("rules"),
    }


def _decisions(cache: DeclarationCache, codes: list[str]) -> list[Any]:
    index, rules = cache.reader(), load_rules()
    clock = ManualClock(datetime(2026, 11, 24, tzinfo=UTC))
    facts = ParcelFacts(weight_kg=1.0, weight_stable=True, xray=XrayState.CLEARED)
    out = []
    for code in codes:
        d = decide_parcel(index, (code,), facts, rules, clock)
        out.append((code, d.decision.outcome, d.decision.reasons, d.failed))
    return out


@pytest.mark.parametrize("rows_per_insert", [100, 7])  # one statement for all, or many
def test_snapshot_gives_the_store_and_decisions_of_the_delta_sync(
    hub: tuple[TestClient, str, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rows_per_insert: int,
) -> None:
    monkeypatch.setattr(edge_snapshot, "ROWS_PER_INSERT", rows_per_insert)
    client, key, codes = hub
    delta = _sync(client, key, tmp_path / "delta.db", snapshot=False)
    snap = _sync(client, key, tmp_path / "snap.db", snapshot=True)
    want, got = _tables(delta), _tables(snap)
    assert (
        len(got["entry"]) == 29 and got["pending"] == []
    )  # 31 lists, less 1 withdrawn, 1 cancelled
    assert any(r[5] == 1 for r in got["entry"])  # the returned list
    for name in want:
        assert got[name] == want[name], name
    assert _decisions(snap, codes) == _decisions(delta, codes)
    outcomes = {o for _c, o, _r, _f in _decisions(snap, codes)}
    assert len(outcomes) >= 3  # released, held, inspected or rejected: not one trivial answer


def test_a_change_during_the_snapshot_comes_with_the_delta_after_it(
    engine: Engine, tmp_path: Path
) -> None:
    upgrade(engine)
    _fill(engine)
    stream = snapshot.stream(engine)
    header = next(stream)  # the transaction's snapshot is taken
    new = next(iter(parcel_sets(1, seed=99, start=500)))
    amended = next(iter(parcel_sets(2, seed=11)))  # parcel 1 again, refiled with status 500
    changed = with_status(amended, 500)
    import_records(engine, _records([*new.declarations(), new.receipt, changed.receipt]))
    cache = DeclarationCache(tmp_path / "cache.db")
    loaded = cache.load_snapshot(split_lines([header, *stream]))
    assert loaded.count == 30 * 4 + 1
    assert cache.reader().lookup(parcel_codes(new.inventory)[0]) is None
    key = (changed.inventory.kind, changed.inventory.business_key)
    assert cache.reader().books.entry(key).status == 800  # type: ignore[union-attr]
    with Session(engine) as session:
        _row, api_key = users.create_api_key(session, "edge-2", Role.EDGE, AT)
    app = create_app(hub_settings(), engine=engine, clock=ManualClock(AT))
    with TestClient(app) as client:
        sync = HubSync("http://hub", api_key, cache, lambda _e: None, threading.Event(),
                       transport=client._transport)  # fmt: skip
        assert sync.cursor == loaded.cursor
        while sync.pull_once():
            pass
    reader = cache.reader()
    assert reader.lookup(parcel_codes(new.inventory)[0]) is not None
    assert reader.books.entry(key).status == 500  # type: ignore[union-attr]


def test_a_broken_snapshot_leaves_the_old_store(engine: Engine, tmp_path: Path) -> None:
    upgrade(engine)
    _fill(engine)
    cache = DeclarationCache(tmp_path / "cache.db")
    whole = b"".join(snapshot.stream(engine))
    cache.load_snapshot(split_lines([whole]))
    before, reader = _tables(cache), cache.reader()
    lines = whole.split(b"\n")
    cut = b"\n".join(lines[:60]) + b"\n" + lines[60][:25]  # the connection drops mid-row
    bad_header = json.loads(lines[0])
    bad_header["count"] += 1
    broken = [
        cut,
        b"\n".join(lines[:-2]) + b"\n",  # every row, no trailer
        b"\n".join([json.dumps(bad_header).encode(), *lines[1:]]),  # miscounted
    ]
    for body in broken:
        with pytest.raises((SnapshotError, ValueError)):
            cache.load_snapshot(split_lines([body]))
        assert _tables(cache) == before
        assert reader.lookup(before["code"][0][0]) is not None  # readers kept answering
    cache.close()
    assert _tables(DeclarationCache(tmp_path / "cache.db")) == before  # and after a restart


def test_a_sync_cut_off_mid_snapshot_keeps_the_old_store_and_retries(
    hub: tuple[TestClient, str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, key, _codes = hub
    cache = DeclarationCache(tmp_path / "cache.db")
    real = snapshot.stream

    def dropped(*args: Any, **kw: Any) -> Iterator[bytes]:
        for i, chunk in enumerate(real(*args, **kw)):
            if i == 2:
                raise ConnectionResetError("hub went away")
            yield chunk

    monkeypatch.setattr(snapshot, "stream", dropped)
    sync = HubSync("http://hub", key, cache, lambda _e: None, threading.Event(),
                   transport=client._transport)  # fmt: skip
    with pytest.raises(Exception):  # noqa: B017  (whatever the transport raises)
        sync.pull_once()
    assert cache.count() == 0 and cache.meta("cursor") is None and sync.cursor == ""
    monkeypatch.setattr(snapshot, "stream", real)
    while sync.pull_once():
        pass
    assert cache.count() > 100 and sync.cursor == cache.meta("cursor") != ""


def test_only_an_edge_key_gets_a_snapshot(hub: tuple[TestClient, str, list[str]]) -> None:
    client, key, _codes = hub
    assert client.get("/api/v1/sync/snapshot").status_code == 401
    assert client.get("/api/v1/sync/snapshot", headers={"X-API-Key": "nope"}).status_code == 401
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        _row, other = users.create_api_key(session, "sup", Role.SUPERVISOR, AT)
    assert client.get("/api/v1/sync/snapshot", headers={"X-API-Key": other}).status_code == 403
    ok = client.get("/api/v1/sync/snapshot", headers={"X-API-Key": key})
    assert ok.status_code == 200 and ok.headers["content-type"] == "application/x-ndjson"
    assert json.loads(ok.content.split(b"\n")[-2]) == {"end": True, "count": 30 * 4 + 1}


def test_an_edge_far_behind_takes_a_snapshot_one_near_takes_pages(
    hub: tuple[TestClient, str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, key, codes = hub
    fresh = _sync(client, key, tmp_path / "fresh.db", snapshot=True)
    old = DeclarationCache(tmp_path / "old.db")
    first = HubSync("http://hub", key, old, lambda _e: None, threading.Event(), snapshot=False,
                    transport=client._transport, page_size=50)  # fmt: skip
    first.pull_once()  # 50 of 121 declarations, then the edge stops
    old.close()
    seen: list[str] = []
    monkeypatch.setattr(sync_module, "SNAPSHOT_BEHIND", 100)  # 71 waiting: pages
    near = HubSync("http://hub", key, DeclarationCache(tmp_path / "old.db"), lambda _e: None,
                   threading.Event(), transport=client._transport)  # fmt: skip
    monkeypatch.setattr(near, "pull_snapshot", lambda: seen.append("snapshot") or False)
    near.pull_once()
    assert seen == []
    monkeypatch.setattr(sync_module, "SNAPSHOT_BEHIND", 60)  # 21 waiting after that page
    behind = DeclarationCache(tmp_path / "behind.db")
    HubSync("http://hub", key, behind, lambda _e: None, threading.Event(), snapshot=False,
            transport=client._transport, page_size=50).pull_once()  # fmt: skip
    far = HubSync("http://hub", key, behind, lambda _e: None, threading.Event(),
                  transport=client._transport)  # fmt: skip
    snapshots = 0
    real = far.pull_snapshot

    def counted() -> bool:
        nonlocal snapshots
        snapshots += 1
        return real()

    monkeypatch.setattr(far, "pull_snapshot", counted)
    while far.pull_once():
        pass
    assert snapshots == 1
    assert _tables(behind) == _tables(fresh)
    assert _decisions(behind, codes) == _decisions(fresh, codes)
