"""Reply timing of the line model: each request is stamped when posted and when answered."""

from __future__ import annotations

import pytest

from clearline.bench.line_rig import bench_line
from devices.modbus_maps import RequestEntry
from simulators.line.config import LineConfigError
from simulators.line.model import LineModel
from simulators.line.responder import Answer, ScriptedEdge
from simulators.line.tracking import Parcel


def test_reply_latency_is_poll_plus_answer_time_in_virtual_time() -> None:
    model = LineModel(bench_line(4.0), seed=1, keep_records=True)
    replied: list[Parcel] = []
    model.listeners.append(lambda kind, p: replied.append(p) if kind == "replied" else None)
    ScriptedEdge(model, lambda r: Answer(1, 0, 0.03), poll_latency_s=0.01)
    model.start()
    model.run_for(5.0)
    model.stop_induction()
    model.run_for(10.0)
    assert len(model.records) >= 10
    for record in model.records:
        assert record.answered
        assert record.reply_latency_s == pytest.approx(0.04, abs=1e-9)
    assert len(replied) == len(model.records)


def test_late_and_missing_replies_are_told_apart() -> None:
    model = LineModel(bench_line(4.0), seed=2, keep_records=True)
    kinds: dict[int, list[str]] = {}
    model.listeners.append(lambda kind, p: kinds.setdefault(p.item_id, []).append(kind))

    def policy(request: RequestEntry) -> Answer | None:
        if request.item_id % 3 == 0:
            return None  # never answered
        delay = 5.0 if request.item_id % 3 == 1 else 0.0  # far past the decision point
        return Answer(1, 0, delay)

    ScriptedEdge(model, policy, poll_latency_s=0.01)
    model.start()
    model.run_for(4.0)
    model.stop_induction()
    model.run_for(15.0)
    by_id = {r.item_id: r for r in model.records}
    assert len(by_id) >= 9
    for item_id, record in by_id.items():
        kind = item_id % 3
        if kind == 2:  # answered in time
            assert record.answered and record.reply_latency_s == pytest.approx(0.01)
        elif kind == 1:  # answered after the decision point, while still on the belt
            assert not record.answered and record.reply_latency_s == pytest.approx(5.01)
            assert "replied" in kinds[item_id]
        else:  # never answered
            assert not record.answered and record.reply_latency_s is None
            assert "replied" not in kinds[item_id]
    assert model.stats.replies_late == sum(1 for i in by_id if i % 3 == 1)


def test_rate_changes_are_checked_against_the_belt() -> None:
    model = LineModel(bench_line(4.0), seed=3)
    model.set_induction(200.0 * 3600.0, min_gap_m=0.02)
    assert model.line.induction.rate_per_h == 720_000.0
    assert model.line.induction.min_gap_m == 0.02
    with pytest.raises(LineConfigError, match="induction"):
        model.set_induction(300.0 * 3600.0)  # 5 m/s / 300 = 0.017 m, under the 0.02 m gap
    assert model.line.induction.rate_per_h == 720_000.0
