"""The edge store benchmarks run end to end at a tiny scale and report what they measured."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from clearline.bench import edge_restart, edge_sync
from clearline.bench.core import BenchContext
from hub.db import migrate
from hub.db.engine import make_engine
from hub.db.models import DECLARATION
from tests.conftest import require_service
from tests.hub.test_workers import pg_database

__all__ = ["pg_database"]


def _ctx(tmp_path: Path, scale: float) -> BenchContext:
    return BenchContext(scale=scale, workdir=tmp_path, progress=lambda _m: None)


def test_edge_restart_answers_from_the_store_it_built(tmp_path: Path) -> None:
    results = {r.name: r for r in edge_restart.run(_ctx(tmp_path, 0.001))}
    restart = results["edge_restart_s"]
    assert restart.details["parcel_sets"] == 1000
    assert restart.details["first_outcome"] == "RELEASE"
    assert sum(restart.details["outcomes"].values()) == restart.details["decisions"]
    assert 0 < restart.floor_value < restart.value
    assert results["edge_store_rss_mb"].value > 0
    assert results["edge_store_decision_p99_ms"].value > 0
    plc = results["edge_restart_plc_s"]
    # the whole edge, spawned on the store, answered the peer PLC in time with the outcome
    # decide_parcel gives the same parcel on the same store
    assert plc.details["outcome"] == plc.details["expected_outcome"]
    assert plc.meets_target is (plc.value <= edge_restart.TARGET_RESTART_S)
    assert 0 < plc.details["scanner_linked_s"] < plc.value
    assert 0 < plc.floor_value < plc.value
    assert plc.details["reply_ms"] > 0


def test_restart_to_plc_names_an_edge_that_does_not_start(tmp_path: Path) -> None:
    from clearline.bench.edge_restart_plc import restart_to_plc

    not_a_dir = tmp_path / "store"
    not_a_dir.write_text("a file where the edge's store folder should be", "utf-8")
    with pytest.raises(RuntimeError, match="the restarted edge exited"):
        restart_to_plc(tmp_path, not_a_dir, [("YT000000000001", 1.0)])


def test_edge_sync_brings_every_declaration_of_the_hub(tmp_path: Path) -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    results = {r.name: r for r in edge_sync.run(_ctx(tmp_path, 0.0005))}
    sync = results["edge_sync_s"]
    assert sync.details["complete"] is True
    assert sync.details["stored"] == sync.details["declarations"] == 2000
    assert sync.details["hub_imported_records"] == 2500  # four documents and a receipt a parcel
    assert sync.details["hub_copied_parcel_sets"] == 0
    assert 0 < sync.details["snapshot_seconds"] <= sync.value
    assert sync.details["snapshot_served_from"] == "kept"  # the hub's file, not read live
    assert sync.details["edge_cpu_us_per_declaration"] > 0
    assert sync.details["hub_process_cpu_seconds"] > 0  # the hub serves from this process
    # read from the backends' CPU times, counted in 10 ms ticks: 2,000 rows may cost less
    # than one, so only that it was read (the full-scale figures are in docs/benchmarks.md)
    assert sync.details["postgres_cpu_seconds"] is not None
    assert sync.details["postgres_cpu_seconds"] >= 0
    assert results["edge_sync_rss_mb"].value > 0


def test_hub_copies_are_parcels_and_buyers_of_their_own(pg_database: str) -> None:
    """Each SQL copy of the imported sets has codes, keys and buyers of its own."""
    engine = make_engine(pg_database)
    migrate.upgrade(engine)
    engine.dispose()
    edge_sync._seed(pg_database, 150, lambda _m: None, imported=50)  # the import and two copies
    engine = make_engine(pg_database)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(DECLARATION.c.kind, DECLARATION.c.logistics_no, DECLARATION.c.business_key,
                       DECLARATION.c.buyer_id_number, DECLARATION.c.payer_id_number)
            ).all()  # fmt: skip
    finally:
        engine.dispose()
    inventories = [r for r in rows if r.kind == "inventory"]
    assert len(inventories) == 150
    assert len({r.business_key for r in inventories}) == 150
    assert len({r.logistics_no for r in inventories}) == 150
    buyers = Counter(r.buyer_id_number for r in inventories)
    originals = Counter(r.buyer_id_number for r in inventories if "C" not in r.business_key[-3:])
    assert len(buyers) == 3 * len(originals)  # a copy's buyer is nobody else's
    copied = [r for r in inventories if r.buyer_id_number.endswith("C1")]
    assert len(copied) == 50
    payers = {r.payer_id_number for r in rows if r.kind == "payment"}
    assert {r.buyer_id_number for r in copied} <= payers  # its payment names the same buyer
