"""The kept snapshot file: an edge synced from it has the store a live snapshot gives, changes
made after it come with the delta, and a file of another database or schema is never served.

PostgreSQL only (the hub keeps no file on SQLite), on the real server.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.clock import ManualClock
from edge.cache import DeclarationCache
from edge.sync import HubSync
from hub.api.sync import SOURCE_HEADER
from hub.app import create_app
from hub.db.auth_models import Role
from hub.db.migrate import upgrade
from hub.importing.importer import import_records
from hub.services import snapshot as snapshot_service
from hub.services import users
from hub.services.snapshot_keep import META, SnapshotKeeper, SnapshotStore
from inspection.index import parcel_codes
from simulators.sample_declarations import parcel_sets, with_status
from tests.edge.test_snapshot import AT, _decisions, _fill, _records, _tables
from tests.hub import conftest as hub_fx
from tests.hub.conftest_api import hub_settings

pg_engine = hub_fx.pg_engine


@pytest.fixture
def hub(pg_engine: Engine, tmp_path: Path) -> Iterator[tuple[TestClient, str, list[str]]]:
    """A hub on PostgreSQL keeping its snapshot under ``tmp_path`` (no look of its own)."""
    upgrade(pg_engine)
    codes = _fill(pg_engine)
    with Session(pg_engine) as session:
        _row, key = users.create_api_key(session, "edge-1", Role.EDGE, AT)
    settings = hub_settings(data_dir=str(tmp_path / "hub"), sync_snapshot_check_s=3600)
    app = create_app(settings, engine=pg_engine, clock=ManualClock(AT))
    with TestClient(app) as client:
        yield client, key, codes


def _store(client: TestClient) -> SnapshotStore:
    store = client.app.state.snapshot_store  # type: ignore[attr-defined]
    assert isinstance(store, SnapshotStore)
    return store


def _edit_meta(store: SnapshotStore, edit: Any) -> dict[str, Any]:
    """Rewrite ``kept.json`` as ``edit(meta)`` changes it (what a tampered or stale file holds)."""
    meta_path = store.directory / META
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    edit(meta)
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    return dict(meta)


def _header(client: TestClient, key: str, source: str = "kept") -> dict[str, Any]:
    resp = client.get("/api/v1/sync/snapshot", headers={"X-API-Key": key})
    assert resp.headers[SOURCE_HEADER] == source
    lines = resp.content.split(b"\n")
    assert json.loads(lines[-2])["count"] == len(lines) - 3  # header, rows, trailer, ""
    header: dict[str, Any] = json.loads(lines[0])
    return header


def _sync(client: TestClient, key: str, store: Path) -> DeclarationCache:
    cache = DeclarationCache(store)
    sync = HubSync("http://hub", key, cache, lambda _e: None, threading.Event(),
                   snapshot=True, transport=client._transport)  # fmt: skip
    while sync.pull_once():
        pass
    return cache


def test_a_sync_from_the_kept_file_gives_the_live_snapshots_store(
    hub: tuple[TestClient, str, list[str]], pg_engine: Engine, tmp_path: Path
) -> None:
    client, key, codes = hub
    assert _header(client, key, "live")["count"] == 30 * 4 + 1  # no file yet
    live = _sync(client, key, tmp_path / "live.db")
    kept = _store(client).build(pg_engine)
    assert kept.count == 30 * 4 + 1 and kept.path.stat().st_size > 0
    header = _header(client, key)
    assert header["cursor"] == str(kept.cursor) and header["count"] == kept.count
    from_file = _sync(client, key, tmp_path / "kept.db")
    assert _tables(from_file) == _tables(live)
    assert _decisions(from_file, codes) == _decisions(live, codes)


def test_changes_after_the_file_come_with_the_delta(
    hub: tuple[TestClient, str, list[str]], pg_engine: Engine, tmp_path: Path
) -> None:
    client, key, _codes = hub
    kept = _store(client).build(pg_engine)
    new = next(iter(parcel_sets(1, seed=99, start=500)))
    changed = with_status(next(iter(parcel_sets(2, seed=11))), 500)  # parcel 1, now held
    import_records(pg_engine, _records([*new.declarations(), new.receipt, changed.receipt]))
    assert _header(client, key)["cursor"] == str(kept.cursor)  # the file, behind the database
    cache = _sync(client, key, tmp_path / "cache.db")
    reader = cache.reader()
    assert reader.lookup(parcel_codes(new.inventory)[0]) is not None
    entry = reader.books.entry((changed.inventory.kind, changed.inventory.business_key))
    assert entry is not None and entry.status == 500
    assert int(cache.meta("cursor") or 0) > kept.cursor


def test_a_file_of_another_database_is_not_served(
    hub: tuple[TestClient, str, list[str]], pg_engine: Engine
) -> None:
    client, key, _codes = hub
    store = _store(client)
    kept = store.build(pg_engine)
    _edit_meta(store, lambda m: m.update(database=m["database"].rsplit("/", 1)[0] + "/another"))
    with pg_engine.connect() as conn:
        assert store.usable(conn) is None
    import_records(
        pg_engine, _records(list(next(iter(parcel_sets(1, seed=5, start=900))).declarations()))
    )
    header = _header(client, key, "live")  # the database's own newest change
    assert int(header["cursor"]) > kept.cursor and header["count"] == kept.count + 4


def test_a_file_ahead_of_the_database_is_not_served(
    hub: tuple[TestClient, str, list[str]], pg_engine: Engine
) -> None:
    client, _key, _codes = hub
    store = _store(client)
    store.build(pg_engine)
    # what a database made anew, with fewer changes, would look like
    _edit_meta(store, lambda m: m.update(cursor=m["cursor"] + 1000))
    with pg_engine.connect() as conn:
        assert store.usable(conn) is None


def test_the_keeper_builds_when_due_and_one_process_at_a_time(
    hub: tuple[TestClient, str, list[str]], pg_engine: Engine
) -> None:
    client, _key, _codes = hub
    store = _store(client)
    keeper = SnapshotKeeper(pg_engine, store, check_s=3600, rebuild_changes=2,
                            max_age_s=3600, min_declarations=0)  # fmt: skip
    assert keeper.due()  # no file yet
    with store.lock() as mine:  # another process building
        assert mine and not keeper.look_once()
    assert keeper.look_once() and keeper.built == 1
    first = store.current()
    assert first is not None and not keeper.due()
    one = next(iter(parcel_sets(1, seed=7, start=700)))
    import_records(pg_engine, _records([one.order]))  # 1 change: under rebuild_changes
    assert not keeper.due()
    import_records(pg_engine, _records([one.payment]))  # 2 changes
    assert keeper.look_once()
    second = store.current()
    assert second is not None and second.cursor > first.cursor and not first.path.exists()
    import_records(pg_engine, _records([one.waybill]))  # 1 change: under rebuild_changes...
    assert not keeper.due()
    aged = SnapshotKeeper(pg_engine, store, check_s=3600, rebuild_changes=2,
                          max_age_s=1e-6, min_declarations=0)  # fmt: skip
    assert aged.due()  # ...but the file is older than max_age_s
    (store.directory / META).unlink()  # no file: a site under min_declarations keeps none
    small = SnapshotKeeper(pg_engine, store, check_s=3600, rebuild_changes=1,
                           max_age_s=3600, min_declarations=10_000)  # fmt: skip
    assert not small.due() and not small.look_once() and store.current() is None
    assert keeper.due()  # with no minimum, a missing file is due


def test_a_rebuild_during_a_sync_leaves_that_sync_its_file(
    hub: tuple[TestClient, str, list[str]], pg_engine: Engine
) -> None:
    client, _key, _codes = hub
    store = _store(client)
    first = store.build(pg_engine)
    serving = store.open_usable(pg_engine)
    assert serving is not None and serving.kept == first
    one = next(iter(parcel_sets(1, seed=8, start=800)))
    import_records(pg_engine, _records([one.order]))
    second = store.build(pg_engine)
    assert second.cursor > first.cursor and not first.path.exists()
    rows = b"".join(serving.chunks(1 << 10)).count(b"\n")
    assert rows == first.count and serving.file.closed


def test_a_kept_json_naming_another_file_is_not_served(
    hub: tuple[TestClient, str, list[str]], pg_engine: Engine, tmp_path: Path
) -> None:
    client, key, _codes = hub
    store = _store(client)
    store.build(pg_engine)
    secret = tmp_path / "secret.txt"
    secret.write_text("not a snapshot\n", encoding="utf-8")
    meta = _edit_meta(store, lambda m: m.update(file=os.path.relpath(secret, store.directory)))
    assert (store.directory / meta["file"]).is_file()  # a file that exists
    assert store.current() is None
    assert _header(client, key, "live")["count"] == 30 * 4 + 1


def test_a_build_cut_short_leaves_no_file(
    hub: tuple[TestClient, str, list[str]], pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _key, _codes = hub
    store = _store(client)
    real = snapshot_service._pg_rows

    def cut(*args: Any, **kw: Any) -> Iterator[bytes]:
        for chunk in real(*args, **kw):
            yield chunk
            raise ConnectionResetError("database went away")

    monkeypatch.setattr(snapshot_service, "_pg_rows", cut)
    with pytest.raises(ConnectionResetError):
        store.build(pg_engine)
    assert store.current() is None and not list(store.directory.glob("rows-*"))
