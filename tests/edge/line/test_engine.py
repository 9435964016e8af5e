"""The line engine decides from joined device events and always fails closed."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from contracts.clock import ManualClock
from contracts.events import EdgeEvent, EventKind, VerdictKind, payload_of
from contracts.messages import Verdict
from contracts.reasons import REASON_INDEX, Outcome, Reason
from contracts.statuses import ReadStatus, XrayState
from devices.events import (
    BarcodeRead,
    DestinationRequested,
    DivertConfirmed,
    SendToChute,
    WeightMeasured,
)
from edge.line.engine import LineEngine, XrayScreened
from inspection.index import DeclarationIndex
from inspection.model import DocKind
from inspection.rules import RuleSet
from sorting.chutes import ChutePlan
from tests.inspection.builders import T0, inventory, order, payment, waybill

PLAN = ChutePlan.model_validate(
    {"release_by_route": {"*": 1}, "inspect": 5, "hold": 6, "return": 7, "reject": 9}
)


class Harness:
    """An engine with collecting sinks and a manual clock."""

    def __init__(self, rules: RuleSet, index: DeclarationIndex | None = None) -> None:
        self.clock = ManualClock(T0)
        self.replies: list[SendToChute] = []
        self.events: list[EdgeEvent] = []
        idx = index if index is not None else DeclarationIndex()
        if index is None:
            for n in (1, 2):
                idx.add_all([order(n), payment(n), waybill(n), inventory(n)])
                idx.set_status(DocKind.INVENTORY, f"AG001:COP{n:08d}", 800)
        self.engine = LineEngine(
            site="s1",
            edge_id="e1",
            index=idx,
            rules=rules,
            plan=PLAN,
            reply=self.replies.append,
            emit=self.events.append,
            clock=self.clock,
        )

    def parcel(
        self,
        item: int,
        codes: tuple[str, ...],
        kg: float | None = 1.2,
        xray: XrayState = XrayState.CLEARED,
        deadline_ms: int = 500,
    ) -> SendToChute:
        """Feed one item's device events and its destination request; return the reply."""
        e = self.engine
        if codes:
            e.handle(BarcodeRead("tunnel", item, ReadStatus.OK, codes, self.clock.now()))
        e.handle(WeightMeasured("cw", item, kg, kg is not None, self.clock.now()))
        e.handle(XrayScreened(item, xray))
        before = len(self.replies)
        e.handle(DestinationRequested("plc", item, deadline_ms, self.clock.now()))
        if len(self.replies) == before:  # facts incomplete: answered when time runs out
            due = e.due_in_s()
            assert due is not None
            self.clock.advance(due)
            e.answer_due()
        return self.replies[-1]


def test_clean_parcel_released(rules: RuleSet) -> None:
    """A declared, released, weighed and cleared parcel goes to the release chute."""
    h = Harness(rules)
    assert h.parcel(1, ("YT0000000001",)) == SendToChute(1, 1, 0)
    decided = [ev for ev in h.events if ev.kind is EventKind.DECIDED]
    assert decided[0].data["outcome"] == "RELEASE" and decided[0].parcel_code == "YT0000000001"
    kinds = [ev.kind for ev in h.events]
    assert kinds.index(EventKind.DECIDED) < kinds.index(EventKind.DIVERTED)


def test_no_read_goes_to_reject(rules: RuleSet) -> None:
    """No code read: reject chute with the NO_READ reason index."""
    h = Harness(rules)
    assert h.parcel(3, ()) == SendToChute(3, 9, REASON_INDEX[Reason.NO_READ])


def test_waits_for_facts_then_answers_at_once(rules: RuleSet) -> None:
    """A request made at the scanner waits for weight and image, then is answered at once."""
    h = Harness(rules)
    e = h.engine
    e.handle(BarcodeRead("t", 21, ReadStatus.OK, ("YT0000000001",), T0))
    e.handle(DestinationRequested("plc", 21, 4000, T0))
    assert h.replies == [] and e.due_in_s() == pytest.approx(4.0 - 0.055)
    e.handle(WeightMeasured("cw", 21, 1.2, True, T0))
    assert h.replies == []
    e.handle(XrayScreened(21, XrayState.CLEARED))
    assert h.replies == [SendToChute(21, 1, 0)] and e.due_in_s() is None


def test_waiting_request_answered_before_its_deadline(rules: RuleSet) -> None:
    """When the image never comes, the request is answered guard_ms before time runs out."""
    h = Harness(rules)
    e = h.engine
    e.handle(BarcodeRead("t", 22, ReadStatus.OK, ("YT0000000001",), T0))
    e.handle(WeightMeasured("cw", 22, 1.2, True, T0))
    e.handle(DestinationRequested("plc", 22, 1000, T0))
    h.clock.advance(0.9)
    assert e.answer_due() == 0 and h.replies == []
    h.clock.advance(0.05)
    assert e.answer_due() == 1
    assert h.replies == [SendToChute(22, 6, REASON_INDEX[Reason.XRAY_PENDING])]


def test_fallback_answer_leaves_the_measured_headroom_ahead(rules: RuleSet) -> None:
    """With the PLC link's measured reply time, the fallback waits for it, not a fixed 40 ms."""
    headroom = [8.0]
    h = Harness(rules)
    e = h.engine = LineEngine(
        site="s1",
        edge_id="e1",
        index=h.engine.index,
        rules=rules,
        plan=PLAN,
        reply=h.replies.append,
        emit=h.events.append,
        clock=h.clock,
        headroom_ms=lambda: headroom[0],
    )
    e.handle(BarcodeRead("t", 23, ReadStatus.OK, ("YT0000000001",), T0))
    e.handle(WeightMeasured("cw", 23, 1.2, True, T0))
    e.handle(DestinationRequested("plc", 23, 1000, T0))
    # margin 15 ms + 8 ms measured: due 977 ms after the request (40 ms guard: 945 ms)
    assert e.due_in_s() == pytest.approx(1.0 - 0.015 - 0.008)
    h.clock.advance(0.96)
    assert e.answer_due() == 0 and h.replies == []
    headroom[0] = 30.0  # the writes slowed down: the same request is now due
    assert e.answer_due() == 1
    assert h.replies == [SendToChute(23, 6, REASON_INDEX[Reason.XRAY_PENDING])]


def test_late_answer_is_rejected(rules: RuleSet) -> None:
    """A request already past its decision point is answered with reject (LATE_DECISION)."""
    h = Harness(rules)
    h.engine.handle(BarcodeRead("t", 4, ReadStatus.OK, ("YT0000000001",), T0))
    h.clock.advance(1.0)
    h.engine.handle(DestinationRequested("plc", 4, 200, T0))
    assert h.replies[-1].chute == 9
    assert h.replies[-1].reason == REASON_INDEX[Reason.NO_WEIGHT]  # first by precedence index
    assert "LATE_DECISION" in h.events[-2].data["reasons"]


def test_pending_xray_is_held(rules: RuleSet) -> None:
    """An image still waiting for an inspector holds the parcel; it is never released."""
    h = Harness(rules)
    assert h.parcel(5, ("YT0000000001",), xray=XrayState.PENDING).chute == 6


def test_duplicate_label_is_held(rules: RuleSet) -> None:
    """A second parcel with an already released label is held as a duplicate."""
    h = Harness(rules)
    assert h.parcel(1, ("YT0000000001",)).chute == 1
    reply = h.parcel(2, ("YT0000000001",))
    assert reply == SendToChute(2, 6, REASON_INDEX[Reason.DUPLICATE_PARCEL])


def test_inspector_verdicts(rules: RuleSet) -> None:
    """A hold verdict holds the parcel; a clear verdict clears a pending image."""
    h = Harness(rules)
    h.engine.handle(
        Verdict(
            verdict_id=uuid.uuid4(),
            site="s1",
            parcel_code="YT0000000002",
            verdict=VerdictKind.CLEAR,
            inspector="insp1",
            at=T0,
        )
    )
    assert h.parcel(7, ("YT0000000002",), xray=XrayState.NONE).chute == 1
    h.engine.handle(
        Verdict(
            verdict_id=uuid.uuid4(),
            site="s1",
            parcel_code="yt0000000001",
            verdict=VerdictKind.HOLD,
            inspector="insp1",
            at=T0,
        )
    )
    assert h.parcel(8, ("YT0000000001",)).reason == REASON_INDEX[Reason.INSPECTOR_HOLD]


class BrokenIndex(DeclarationIndex):
    """An index whose lookups fail, as a corrupted cache would."""

    def resolve(self, codes):  # type: ignore[no-untyped-def]
        """Fail every lookup."""
        raise RuntimeError("cache corrupted")


def test_failure_fails_closed(rules: RuleSet, caplog: pytest.LogCaptureFixture) -> None:
    """An error while deciding sends the parcel to the reject chute, with DEVICE_FAULT."""
    h = Harness(rules, BrokenIndex())
    assert h.parcel(9, ("YT0000000001",)) == SendToChute(9, 9, REASON_INDEX[Reason.DEVICE_FAULT])
    assert h.engine.stats.failures == 1


def test_confirmation_mismatch_raises_alarm(rules: RuleSet) -> None:
    """A held parcel confirmed into a release chute raises the critical alarm."""
    h = Harness(rules)
    h.parcel(5, ("YT0000000001",), xray=XrayState.PENDING)
    h.engine.handle(DivertConfirmed("plc", 5, 1, 0, T0 + timedelta(seconds=2)))
    alarms = {ev.data["alarm"] for ev in h.events if ev.kind is EventKind.ALARM}
    assert alarms == {"release_without_decision", "confirm_mismatch"}


def test_image_goes_to_prescreen_with_its_declaration(rules: RuleSet) -> None:
    """An image is screened with the item's declaration, and the result holds or clears it."""
    from devices.events import ImageCaptured
    from inspection.model import Declaration

    seen: list[tuple[int, Declaration | None]] = []
    h = Harness(rules)
    h.engine._screen = lambda img, decl: seen.append((img.item_id, decl))
    h.engine.handle(BarcodeRead("t", 11, ReadStatus.OK, ("YT0000000001",), T0))
    h.engine.handle(ImageCaptured("xray-1", 11, b"png", T0))
    assert seen and seen[0][0] == 11 and seen[0][1] is not None
    assert seen[0][1].logistics_no == "YT0000000001"
    h.engine.handle(ImageCaptured("xray-1", 12, b"png", T0))
    assert seen[1] == (12, None)


def test_prescreen_alarm_waits_for_the_inspector(rules: RuleSet) -> None:
    """A pre-screen alarm is not final: an inspector's clear verdict in time releases."""
    h = Harness(rules)
    e = h.engine
    e.handle(BarcodeRead("t", 31, ReadStatus.OK, ("YT0000000001",), T0))
    e.handle(WeightMeasured("cw", 31, 1.2, True, T0))
    e.handle(XrayScreened(31, XrayState.SUSPECT, ("GUN",), 0.9))
    e.handle(DestinationRequested("plc", 31, 3000, T0))
    assert h.replies == []
    e.handle(
        Verdict(
            verdict_id=uuid.uuid4(),
            site="s1",
            parcel_code="ITEM31",
            item_id=31,
            verdict=VerdictKind.CLEAR,
            inspector="insp1",
            at=T0,
        )
    )
    assert h.replies == [SendToChute(31, 1, 0)]


def test_no_read_is_answered_without_waiting_for_the_inspector(rules: RuleSet) -> None:
    """No code read puts the parcel in REJECT whatever else comes: it is answered at once."""
    h = Harness(rules)
    e = h.engine
    e.handle(BarcodeRead("t", 33, ReadStatus.NOREAD, (), T0))
    e.handle(DestinationRequested("plc", 33, 3000, T0))
    assert h.replies == []  # the weight is still due: it names the reject's reason too
    e.handle(WeightMeasured("cw", 33, 1.2, True, T0))  # no image yet
    assert h.replies == [SendToChute(33, 9, REASON_INDEX[Reason.NO_READ])]
    h2 = Harness(rules)
    h2.engine.handle(BarcodeRead("t", 34, ReadStatus.NOREAD, (), T0))
    h2.engine.handle(WeightMeasured("cw", 34, 1.2, True, T0))
    h2.engine.handle(XrayScreened(34, XrayState.SUSPECT, ("GUN",), 0.9))
    h2.engine.handle(DestinationRequested("plc", 34, 3000, T0))
    assert h2.replies == [SendToChute(34, 9, REASON_INDEX[Reason.NO_READ])]
    decided = next(ev for ev in h2.events if ev.kind is EventKind.DECIDED)
    assert decided.data["outcome"] == "REJECT" and "LATE_DECISION" not in decided.data["reasons"]


def test_unreviewed_alarm_goes_to_inspection(rules: RuleSet) -> None:
    """With no inspector before the deadline, a pre-screen alarm sends the parcel to inspection."""
    h = Harness(rules)
    reply = h.parcel(32, ("YT0000000001",), xray=XrayState.SUSPECT)
    assert reply == SendToChute(32, 5, REASON_INDEX[Reason.XRAY_SUSPECT])


def test_release_goes_to_the_route_chute() -> None:
    """Releases are spread by route: direction and customs mode, or postal."""
    from dataclasses import replace as _replace

    from edge.line.engine import route_of

    assert route_of(inventory(1)) == "import-9610"
    assert route_of(inventory(1, trade_mode="1210")) == "import-1210"
    assert route_of(_replace(inventory(1), kind=DocKind.EXPORT_INVENTORY, ie_flag="E")) == (
        "export-9610"
    )
    assert route_of(_replace(inventory(1), kind=DocKind.POSTAL)) == "postal"
    plan = ChutePlan.model_validate(
        {
            "release_by_route": {"*": 1, "import-1210": 2},
            "inspect": 5,
            "hold": 6,
            "return": 7,
            "reject": 9,
        }
    )
    assert plan.chute_for(Outcome.RELEASE, route_of(inventory(1, trade_mode="1210"))) == 2


def test_every_event_follows_its_payload_model(rules: RuleSet) -> None:
    """What the engine emits is exactly what the hub's payload models read back."""
    h = Harness(rules)
    h.parcel(1, ("YT0000000001",))
    h.engine.handle(DivertConfirmed("plc", 1, 1, 0, h.clock.now()))
    assert {e.kind for e in h.events} >= {
        EventKind.CODE_READ,
        EventKind.WEIGHED,
        EventKind.IMAGED,
        EventKind.DECIDED,
        EventKind.DIVERTED,
        EventKind.CONFIRMED,
    }
    for event in h.events:
        assert payload_of(event).model_dump(mode="json") == event.data
    confirmed = next(e for e in h.events if e.kind is EventKind.CONFIRMED)
    assert confirmed.data["status"] == "diverted"


def test_a_fact_the_contract_refuses_still_reaches_the_decision(
    rules: RuleSet, caplog: pytest.LogCaptureFixture
) -> None:
    """A negative weight is not sent as an event, but the parcel is still answered at once."""
    h = Harness(rules)
    e = h.engine
    e.handle(BarcodeRead("t", 31, ReadStatus.OK, ("YT0000000001",), T0))
    e.handle(WeightMeasured("cw", 31, -0.02, True, T0))
    e.handle(XrayScreened(31, XrayState.CLEARED))
    e.handle(DestinationRequested("plc", 31, 4000, T0))
    # a negative weight is no measurement: the parcel goes to the reject chute, NO_WEIGHT
    assert h.replies == [SendToChute(31, 9, REASON_INDEX[Reason.NO_WEIGHT])]
    assert EventKind.WEIGHED not in {ev.kind for ev in h.events}
    assert "weight_kg" in caplog.text


def test_unknown_confirm_status_still_raises_its_alarm(rules: RuleSet) -> None:
    """A status the contract does not know is no confirmed event, but it is an alarm."""
    h = Harness(rules)
    h.parcel(1, ("YT0000000001",))
    h.engine.handle(DivertConfirmed("plc", 1, 1, 7, h.clock.now()))
    alarms = [e.data["alarm"] for e in h.events if e.kind is EventKind.ALARM]
    assert "unknown_status" in alarms
    assert EventKind.CONFIRMED not in {e.kind for e in h.events}
