"""The edge store benchmarks run end to end at a tiny scale and report what they measured."""

from __future__ import annotations

from pathlib import Path

from clearline.bench import edge_restart, edge_sync
from clearline.bench.core import BenchContext
from tests.conftest import require_service


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


def test_edge_sync_brings_every_declaration_of_the_hub(tmp_path: Path) -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    results = {r.name: r for r in edge_sync.run(_ctx(tmp_path, 0.0005))}
    sync = results["edge_sync_s"]
    assert sync.details["complete"] is True
    assert sync.details["stored"] == sync.details["declarations"] == 2000
    assert sync.details["hub_imported_records"] == 2500  # four documents and a receipt a parcel
    assert sync.details["hub_copied_parcel_sets"] == 0
    assert 0 < sync.details["snapshot_seconds"] <= sync.value
    assert results["edge_sync_rss_mb"].value > 0
