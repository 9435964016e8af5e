"""A wall-clock jump at the edge moves no deadline and holds back no event."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from contracts.clock import ManualClock, SteadyClock
from contracts.events import EdgeEvent
from contracts.statuses import ReadStatus, XrayState
from devices.events import BarcodeRead, DestinationRequested, SendToChute, WeightMeasured
from edge.line.engine import LineEngine, XrayScreened
from edge.outbox import Outbox
from inspection.rules import RuleSet
from tests.edge.test_state import PLAN, _index
from tests.inspection.builders import T0


def test_steady_clock_ignores_wall_jumps() -> None:
    """The steady clock counts monotonic seconds from its anchor, whatever the wall does."""
    ticks = [100.0]
    clock = SteadyClock(T0, monotonic=lambda: ticks[0])
    ticks[0] += 2.5
    assert clock.now() == T0 + timedelta(seconds=2.5)


def test_outbox_confirms_by_monotonic_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Events sent while the wall clock is an hour ahead are offered to the hub on time."""
    ticks = [50.0]
    ob = Outbox(tmp_path / "o.db", monotonic=lambda: ticks[0])
    monkeypatch.setattr(time, "time", lambda: 1e9 + 3600)  # the wall jumped ahead
    ob.put("e1", "t", b"1")
    ob.mark_sent([p.seq for p in ob.next_batch(10)])
    monkeypatch.undo()  # and back
    ticks[0] += 1.5
    assert [p.event_id for p in ob.sent_batch(10, min_age_s=1.0)] == ["e1"]
    ob.close()


def test_reopened_outbox_treats_kept_events_as_old(tmp_path: Path) -> None:
    """After a restart every kept event is backlog, ready for the hub's confirmation at once."""
    ob = Outbox(tmp_path / "o.db", monotonic=lambda: 1e6)
    ob.put("e1", "t", b"1")
    ob.mark_sent([p.seq for p in ob.next_batch(10)])
    ob.close()
    again = Outbox(tmp_path / "o.db", monotonic=lambda: 3.0)  # a new boot: small numbers
    assert [p.event_id for p in again.sent_batch(10, min_age_s=1.0)] == ["e1"]
    again.close()


def test_deadline_kept_when_the_wall_clock_jumps(rules: RuleSet) -> None:
    """A wall jump of +1 h while a request waits neither answers it early nor late."""
    wall, steady = ManualClock(T0), ManualClock(T0)
    replies: list[SendToChute] = []
    events: list[EdgeEvent] = []
    engine = LineEngine(
        site="s1", edge_id="e1", index=_index(), rules=rules, plan=PLAN,
        reply=replies.append, emit=events.append, clock=wall, steady=steady,
    )  # fmt: skip
    engine.handle(BarcodeRead("t", 1, ReadStatus.OK, ("YT0000000001",), steady.now()))
    engine.handle(DestinationRequested("plc", 1, 1000, steady.now()))
    wall.advance(3600)
    assert engine.answer_due() == 0 and replies == []  # the jump did not run the time out
    engine.handle(WeightMeasured("cw", 1, 1.2, True, steady.now()))
    engine.handle(XrayScreened(1, XrayState.CLEARED))
    assert replies == [SendToChute(1, 1, 0)]  # released, not LATE_DECISION
    decided = [e for e in events if e.kind.value == "decided"]
    assert decided[0].at == T0 + timedelta(hours=1)  # events carry the wall time
    wall.advance(-7200)
    engine.handle(BarcodeRead("t", 2, ReadStatus.NOREAD, (), steady.now()))
    engine.handle(DestinationRequested("plc", 2, 500, steady.now()))
    steady.advance(0.5)
    assert engine.answer_due() == 1  # a jump back did not make it wait an hour
