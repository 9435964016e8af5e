"""The line latency benchmark at a tiny scale: it runs end to end and reports its figures.

Only the shape of the result is checked here; the timing itself is measured by
``clearline bench`` on a quiet machine.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from clearline.bench.cli import registry
from clearline.bench.core import BenchContext
from clearline.bench.line_latency import (
    MIN_LINE_S,
    MIN_STEP_S,
    STEP_RATES_PER_S,
    LatencyPlan,
    Window,
    measure,
    plan_for,
    run,
)
from simulators.site.results import ItemResult

log = logging.getLogger(__name__)


def _ctx(tmp_path: Path, scale: float = 0.001) -> BenchContext:
    return BenchContext(scale=scale, workdir=tmp_path, progress=lambda m: log.info("%s", m))


def test_registered_and_planned_from_the_scale(tmp_path: Path) -> None:
    assert registry()["line_latency"] is run
    full = plan_for(_ctx(tmp_path, 1.0))
    assert (full.line_s, full.step_s, full.rates_per_s) == (60.0, 15.0, STEP_RATES_PER_S)
    tiny = plan_for(_ctx(tmp_path))
    assert (tiny.line_s, tiny.step_s) == (MIN_LINE_S, MIN_STEP_S)
    assert tiny.parcels() > 11.1 * tiny.line_s + sum(r * tiny.step_s for r in tiny.rates_per_s)


def _item(item_id: int, reply_ms: float | None, in_time: bool | None) -> ItemResult:
    return ItemResult(item_id, item_id, ("CL1",), 1.0, "2026-01-01T00:00:00", 0.0,
                      reply_ms=reply_ms, reply_in_time=in_time)


def test_a_window_passes_only_with_p99_in_target_and_nothing_late() -> None:
    fast = [_item(i, 5.0 + i % 7, True) for i in range(200)]
    assert Window.of(40.0, 2.0, fast, 0.5).passed
    slow = [*fast[:190], *(_item(i, 80.0, True) for i in range(190, 200))]
    assert not Window.of(40.0, 2.0, slow, 0.5).passed
    late = [*fast[:199], _item(199, None, False)]
    window = Window.of(40.0, 2.0, late, 0.5)
    assert not window.passed and window.late == 1
    assert window.as_json()["answered"] == 199
    undecided = [*fast[:199], _item(199, 3.0, None)]  # never reached its decision point
    assert Window.of(40.0, 2.0, undecided, 0.5).late == 1
    assert not Window.of(40.0, 2.0, [], 0.0).passed


@pytest.mark.timeout(90)
def test_tiny_run_reports_both_figures_with_floors(tmp_path: Path) -> None:
    plan = LatencyPlan(line_s=2.0, step_s=1.0, rates_per_s=(40.0, 80.0), warmup_s=0.5,
                       floor_reads=50)
    line, rate = measure(_ctx(tmp_path), plan)
    assert line.name == "line_scan_to_reply_p99" and line.unit == "ms"
    assert line.target == "<= 50"
    assert line.floor_value > 0 and line.details["floor"]["reads"] == 50
    assert line.details["parcels"] >= 5
    assert line.details["answered"] + line.details["late"] >= line.details["parcels"]
    assert 0 < line.details["p50_ms"] <= line.details["p99_ms"] <= line.details["max_ms"]
    assert line.value == line.details["p99_ms"]
    assert line.details["xray"].startswith("off")
    assert line.details["edge"]["requests"] > 0
    assert rate.name == "line_max_sustained_rate" and rate.unit == "parcels/s"
    assert rate.target == ">= 100" and rate.floor_value > 0
    steps = rate.details["steps"]
    assert [s["rate_per_s"] for s in steps] + rate.details["steps_skipped"] == [40.0, 80.0]
    assert all(s["parcels"] > 0 for s in steps)
    best = 0.0
    for step in steps:  # the highest rate reached before the first failing step
        if not step["passed"]:
            break
        best = step["rate_per_s"]
    assert rate.value == best
