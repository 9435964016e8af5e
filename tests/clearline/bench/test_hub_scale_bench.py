"""The hub_scale benchmark runs end to end at a tiny scale and reports every process count."""

from __future__ import annotations

from pathlib import Path

from clearline.bench import hub_scale
from clearline.bench.core import BenchContext
from tests.conftest import require_service


def test_hub_scale_reports_one_two_and_four_processes(tmp_path: Path) -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    require_service("Mosquitto", "127.0.0.1", 1883)
    ctx = BenchContext(scale=0.01, workdir=tmp_path, progress=lambda _m: None)
    results = hub_scale.run(ctx)
    assert [r.details["processes"] for r in results] == list(hub_scale.PROCESS_COUNTS)
    for result in results:
        assert result.details["events"] == hub_scale.EDGES * 2 * 7  # 2 parcels an edge
        assert result.value > 0 and result.floor_value > 0
        assert result.details["cpus"] >= 1
