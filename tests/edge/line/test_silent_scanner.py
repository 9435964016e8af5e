"""A tunnel scanner that stays connected but sends nothing is reported offline."""

from __future__ import annotations

from contracts.clock import ManualClock
from contracts.events import EdgeEvent, EventKind
from contracts.statuses import ReadStatus
from devices.events import BarcodeRead, DestinationRequested, SendToChute, WeightMeasured
from edge.line.engine import LineEngine
from inspection.rules import RuleSet
from tests.edge.test_state import PLAN, _index
from tests.inspection.builders import T0


def _engine(rules: RuleSet, events: list[EdgeEvent]) -> tuple[LineEngine, ManualClock]:
    clock = ManualClock(T0)
    replies: list[SendToChute] = []
    engine = LineEngine(
        site="s1", edge_id="e1", index=_index(), rules=rules, plan=PLAN,
        reply=replies.append, emit=events.append, clock=clock, scanner_id="tunnel",
        silent_after=3, expect_xray=False,
    )  # fmt: skip
    return engine, clock


def _states(events: list[EdgeEvent]) -> list[tuple[bool, str]]:
    states = [e for e in events if e.kind is EventKind.DEVICE_STATE]
    return [(e.data["online"], e.data["detail"]) for e in states]


def test_silent_scanner_reported_once_and_back(rules: RuleSet) -> None:
    """Three items without a frame report the scanner offline; its next frame, online."""
    events: list[EdgeEvent] = []
    engine, clock = _engine(rules, events)
    engine.handle(DestinationRequested("plc", 99, 0, clock.now()))  # nothing seen: no count
    for item in range(1, 6):  # weighed, asked for, but the scanner never speaks
        engine.handle(WeightMeasured("cw", item, 1.0, True, clock.now()))
        engine.handle(DestinationRequested("plc", item, 0, clock.now()))
    assert _states(events) == [(False, "silent: no frame for 3 items in a row")]
    assert engine.devices["tunnel"] is False
    engine.handle(BarcodeRead("tunnel", 6, ReadStatus.NOREAD, (), clock.now()))
    assert [online for online, _ in _states(events)] == [False, True]
    assert engine.devices["tunnel"] is True


def test_no_reads_are_frames_not_silence(rules: RuleSet) -> None:
    """A scanner answering NOREAD frames is speaking: no silence is reported."""
    events: list[EdgeEvent] = []
    engine, clock = _engine(rules, events)
    for item in range(1, 6):
        engine.handle(BarcodeRead("tunnel", item, ReadStatus.NOREAD, (), clock.now()))
        engine.handle(DestinationRequested("plc", item, 0, clock.now()))
    assert _states(events) == []
