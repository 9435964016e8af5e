"""The line model on a virtual clock: conservation, rejects, recirculation, e-stop, config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contracts import registers as reg
from contracts.statuses import ConfirmStatus, PlcState
from devices import modbus_maps as mm
from devices.modbus_maps import RequestEntry
from simulators.faults import FaultProfile
from simulators.line.clock import RealTimePacer, VirtualClock
from simulators.line.config import (
    ChuteConfig,
    InductionConfig,
    LineConfig,
    LineConfigError,
    load_site,
    parse_site,
)
from simulators.line.core import EventCore
from simulators.line.model import LineModel
from simulators.line.responder import Answer, ScriptedEdge, round_robin
from simulators.line.runner import MAX_LAG_S
from simulators.modbus_sims.checkweigher import CheckweigherRuntime
from simulators.modbus_sims.plc import build_runner
from simulators.modbus_sims.spec import PlcSpec

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "site.yaml"


def _line(**changes: Any) -> LineConfig:
    base: dict[str, Any] = {
        "name": "L1",
        "belt_speed_m_s": 2.0,
        "scanner_m": 2.0,
        "checkweigher_m": 3.0,
        "xray_m": 4.0,
        "decision_point_m": 8.0,  # 3 s after the scanner
        "loop_length_m": 40.0,
        "chutes": [
            ChuteConfig(number=n, position_m=8.0 + 2 * n, capacity=50, drain_per_h=6000)
            for n in (1, 2, 3, 4)
        ]
        + [ChuteConfig(number=99, position_m=30.0, capacity=10_000)],
        "reject_chute": 99,
        "induction": InductionConfig(rate_per_h=15_000),
    }
    base.update(changes)
    return LineConfig(**base)


def _records_by_status(model: LineModel) -> dict[ConfirmStatus, int]:
    out: dict[ConfirmStatus, int] = {}
    for r in model.records:
        out[r.status] = out.get(r.status, 0) + 1
    return out


def _conserved(model: LineModel) -> None:
    assert model.stats.inducted == model.stats.finished + len(model.items)


def test_ten_minutes_answered_in_time_all_diverted() -> None:
    cw = CheckweigherRuntime()
    model = LineModel(_line(), seed=4, checkweigher=cw, keep_records=True)
    edge = ScriptedEdge(model, round_robin([1, 2, 3, 4]))
    model.start()
    model.run_for(600.0)
    stats = model.stats
    assert 2300 < stats.inducted < 2700  # 15,000/h Poisson for 10 minutes
    _conserved(model)
    assert edge.lost == 0
    assert stats.replies_late == stats.no_answer == stats.recirculated == 0
    assert set(stats.diverted) == {1, 2, 3, 4}
    assert _records_by_status(model) == {ConfirmStatus.DIVERTED: stats.finished}
    assert stats.finished <= cw.seq <= stats.inducted  # every finished item was weighed


def test_answers_after_the_deadline_are_ignored_and_sent_to_reject() -> None:
    model = LineModel(_line(), seed=1, keep_records=True)
    ScriptedEdge(model, lambda r: Answer(1, 0, delay_s=r.deadline_ms / 1000.0 + 0.2))
    model.start()
    model.run_for(120.0)
    _conserved(model)
    assert model.stats.answered_in_time == 0
    assert model.stats.replies_late > 0
    assert {r.chute for r in model.records} == {99}
    assert _records_by_status(model) == {ConfirmStatus.NO_ANSWER: model.stats.finished}


def test_no_answer_goes_to_reject_and_invalid_chutes_count_as_none() -> None:
    model = LineModel(_line(), seed=2, keep_records=True)
    ScriptedEdge(model, lambda r: None if r.item_id % 2 else Answer(77))  # 77: no such chute
    model.start()
    model.run_for(60.0)
    _conserved(model)
    assert model.stats.replies_invalid > 0
    assert {(r.chute, r.status) for r in model.records} == {(99, ConfirmStatus.NO_ANSWER)}


def test_full_lane_recirculates_until_the_limit_then_rejects() -> None:
    chutes = [
        ChuteConfig(number=1, position_m=10.0, capacity=1, drain_per_h=0),
        ChuteConfig(number=99, position_m=30.0, capacity=10_000),
    ]
    model = LineModel(_line(chutes=chutes, recirculation_limit=2), keep_records=True)
    ScriptedEdge(model, lambda r: Answer(1, 5))
    model.start(induct=False)
    a = model.induct()
    model.run_for(1.0)
    b = model.induct()
    model.run_for(300.0)
    _conserved(model)
    by_item = {r.item_id: r for r in model.records}
    assert (by_item[a.item_id].chute, by_item[a.item_id].status) == (1, ConfirmStatus.DIVERTED)
    second = by_item[b.item_id]
    assert (second.chute, second.status, second.laps) == (99, ConfirmStatus.DIVERTED, 2)
    assert model.stats.recirculated == 3  # lap 0, 1 and 2 found the lane full
    assert model.stats.recirculation_limit == 1
    assert model.stats.requests == 4  # one request per lap
    confirms = mm.read_confirms(model.plc.regs, 0, 0)
    assert [(c.item_id, c.chute, c.status) for c in confirms.entries] == [
        (a.item_id, 1, 0),
        (b.item_id, 1, 1),
        (b.item_id, 1, 1),
        (b.item_id, 1, 1),
        (b.item_id, 99, 0),
    ]


def test_estop_aborts_every_tracked_item_and_stops_induction() -> None:
    model = LineModel(_line(), seed=3, keep_records=True)
    ScriptedEdge(model, round_robin([1, 2]))
    model.start()
    model.run_for(30.0)
    on_belt = len(model.items)
    assert on_belt > 0
    before = model.stats.inducted
    model.estop()
    assert model.plc.state == PlcState.ESTOP
    assert model.stats.aborted == on_belt
    assert not model.items
    model.run_for(30.0)
    assert model.stats.inducted == before
    _conserved(model)
    aborted = mm.read_confirms(model.plc.regs, 0, (model.plc.confirm_head - on_belt) % 65536)
    assert [c.status for c in aborted.entries][-min(on_belt, 16) :] == [4] * min(on_belt, 16)
    with pytest.raises(RuntimeError, match="not running"):
        model.induct()
    model.reset()
    model.run_for(30.0)
    assert model.plc.regs[reg.PLC_STATE.address] == PlcState.RUNNING
    assert model.stats.inducted > before
    _conserved(model)


def test_lost_track_items_are_confirmed_as_such() -> None:
    model = LineModel(_line(lost_track_rate=1.0), keep_records=True)
    model.start()
    model.run_for(20.0)
    _conserved(model)
    assert model.stats.lost_track == model.stats.finished > 0
    assert {(r.chute, r.status) for r in model.records} == {(0, ConfirmStatus.LOST_TRACK)}


def test_request_deadline_counts_down_and_heartbeat_moves() -> None:
    model = LineModel(_line(), keep_records=True)
    model.start(induct=False)
    model.induct()
    model.run_for(1.0)  # scanner reached at 1 s; decision point at 4 s
    first = mm.read_requests(model.plc.read(0, 125), 0, 0)
    assert first.entries == (RequestEntry(0, 1, 3000),)
    beat = model.plc.read(0, 1)[0]
    model.run_for(1.25)
    later = mm.read_requests(model.plc.read(0, 125), 0, 0)
    assert later.entries[0].deadline_ms == 1750
    assert model.plc.read(0, 1)[0] - beat == 25  # +1 every 50 ms
    model.run_for(2.0)  # past the decision point: nothing left to answer
    assert mm.read_requests(model.plc.read(0, 125), 0, 0).entries[0].deadline_ms == 0


def test_fixed_induction_rate_is_exact() -> None:
    model = LineModel(_line(induction=InductionConfig(rate_per_h=3600, mode="fixed")))
    model.start()
    model.run_for(99.5)
    assert model.stats.inducted == 100


def test_checkweigher_sees_every_item_with_its_item_id() -> None:
    cw = CheckweigherRuntime(faults=FaultProfile())
    model = LineModel(_line(), checkweigher=cw)
    model.start(induct=False)
    parcel = model.induct(code="RR123456785CN", weight_kg=2.5)
    model.run_for(2.0)
    reading = mm.decode_checkweigher(cw.regs)
    assert (reading.item_id, reading.weight_kg, reading.weigh_seq) == (parcel.item_id, 2.5, 1)


# --- clock and core ------------------------------------------------------------------


def test_event_core_runs_in_time_order_and_honours_cancel() -> None:
    core = EventCore(VirtualClock())
    seen: list[tuple[float, str]] = []
    core.at(2.0, lambda: seen.append((core.now, "b")))
    core.at(1.0, lambda: seen.append((core.now, "a")))
    core.after(1.5, lambda: seen.append((core.now, "never"))).cancel()
    assert core.next_time() == 1.0
    assert core.run_until(5.0) == 2
    assert seen == [(1.0, "a"), (2.0, "b")]
    assert core.now == 5.0
    assert core.next_time() is None


def test_virtual_clock_and_pacer() -> None:
    clock = VirtualClock()
    clock.advance(1.5)
    assert clock.now().isoformat() == "2026-01-01T00:00:01.500000+00:00"
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="back"):
        clock.advance_to(1.0)
    wall = [100.0]
    pacer = RealTimePacer(speed=10.0, wall=lambda: wall[0])
    pacer.restart(50.0)
    wall[0] += 2.0
    assert pacer.sim_now() == 70.0
    assert pacer.wall_delay(80.0) == pytest.approx(1.0)
    assert pacer.wall_delay(10.0) == 0.0
    pacer.slip(0.5)  # half a wall second sat out: five simulated seconds fewer
    assert pacer.sim_now() == 65.0


def test_a_stalled_runner_lets_simulated_time_slip_instead_of_jumping() -> None:
    runner = build_runner(
        PlcSpec(rate_per_s=10.0, belt_speed_m_s=2.0, scan_to_decision_m=1.0),
        host="127.0.0.1",
        port=0,
        faults=FaultProfile(),
        seed=1,
    )
    wall = [1000.0]
    runner.pacer = RealTimePacer(wall=lambda: wall[0])
    runner.pacer.restart(0.0)
    runner.model.start(True)
    for _ in range(20):  # 1 s in steps of 50 ms: in step, nothing slips
        wall[0] += 0.05
        runner.catch_up()
    assert runner.slips == 0 and runner.model.now == pytest.approx(1.0)
    requests, unanswered = runner.model.stats.requests, runner.model.stats.no_answer
    wall[0] += 3.0  # the host stalled for 3 s: the belt moves on only MAX_LAG_S
    runner.catch_up()
    assert runner.slips == 1 and runner.slipped_s == pytest.approx(3.0 - MAX_LAG_S)
    assert runner.model.now == pytest.approx(1.0 + MAX_LAG_S)
    assert runner.model.stats.requests <= requests + 2  # not the 30 a jump would post
    assert runner.model.stats.no_answer <= unanswered + 2
    wall[0] += 0.05  # and from there on it keeps step again
    runner.catch_up()
    assert runner.slips == 1 and runner.model.now == pytest.approx(1.05 + MAX_LAG_S)


# --- config --------------------------------------------------------------------------


def test_example_site_file_is_valid() -> None:
    site = load_site(EXAMPLE)
    line = site.line("line-1")
    assert line.induction.rate_per_h == 15_000
    assert line.chute(line.reject_chute).position_m == max(c.position_m for c in line.chutes)


def test_config_errors_name_the_line_and_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("    belt_speed_m_s: 2.0", "    belt_speed: 2.0")
    with pytest.raises(LineConfigError) as err:
        parse_site(text, "site.yaml")
    message = str(err.value)
    lineno = text.splitlines().index("    belt_speed: 2.0") + 1
    assert f"site.yaml:{lineno}: lines.0.belt_speed: Extra inputs are not permitted" in message
    assert "lines.0.belt_speed_m_s: Field required" in message


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reject_chute": 7}, "not one of the chutes"),
        ({"scanner_m": 9.0}, "scanner_m must lie before"),
        ({"loop_length_m": 20.0}, "loop_length_m"),
        ({"induction": InductionConfig(rate_per_h=100_000, min_gap_m=0.5)}, "min_gap_m"),
    ],
)
def test_impossible_geometry_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _line(**changes)


def test_reject_chute_must_be_last() -> None:
    chutes = [
        ChuteConfig(number=1, position_m=35.0),
        ChuteConfig(number=99, position_m=30.0),
    ]
    with pytest.raises(ValueError, match="last chute"):
        _line(chutes=chutes)


def test_unreadable_site_file(tmp_path: Path) -> None:
    with pytest.raises(LineConfigError, match="cannot read"):
        load_site(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("site: [unclosed", encoding="utf-8")
    with pytest.raises(LineConfigError, match="not valid YAML"):
        load_site(bad)


def test_a_line_copied_past_its_checks_is_refused_not_run_at_another_rate() -> None:
    # a copy made with model_copy skips LineConfig's checks: at 4 m/s and 0.3 m between
    # parcels the belt cannot carry 50 parcels/s, and the model once ran such a line at
    # 29 parcels/s without a word
    line = _line()
    fast = line.model_copy(
        update={
            "belt_speed_m_s": 4.0,
            "induction": line.induction.model_copy(update={"rate_per_h": 50 * 3600.0}),
        }
    )
    with pytest.raises(LineConfigError, match=r"line L1: .*not more than min_gap_m"):
        LineModel(fast)


def test_the_fault_lines_belt_carries_the_rate_asked() -> None:
    from tests.e2e.harness import fault_line

    for rate in (8.0, 20.0, 50.0):
        line = fault_line(rate, 256)
        model = LineModel(line, seed=3)
        model.start()
        model.core.run_until(200.0)
        assert model.stats.inducted == pytest.approx(rate * 200.0, rel=0.05), rate
