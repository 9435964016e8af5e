"""Tests of the pure line domain: chute plan, deadlines, tracking and reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from contracts.reasons import Outcome, Reason
from contracts.statuses import XrayState
from sorting.chutes import ChutePlan
from sorting.deadline import Deadline
from sorting.reconcile import AlarmKind, Reconciler
from sorting.tracking import ItemTracker

T0 = datetime(2026, 11, 22, 8, tzinfo=UTC)
PLAN = ChutePlan.model_validate(
    {"release_by_route": {"*": 1, "north": 2}, "inspect": 5, "hold": 6, "return": 7, "reject": 9}
)


def test_chute_for_every_outcome() -> None:
    """Each outcome has its chute; a release on an unknown route uses the default route."""
    assert PLAN.chute_for(Outcome.RELEASE) == 1
    assert PLAN.chute_for(Outcome.RELEASE, "north") == 2
    assert PLAN.chute_for(Outcome.RELEASE, "south") == 1
    assert [PLAN.chute_for(o) for o in (Outcome.INSPECT, Outcome.HOLD, Outcome.RETURN)] == [5, 6, 7]
    assert PLAN.chute_for(Outcome.REJECT) == 9
    assert PLAN.release_chutes == {1, 2}


def test_release_without_default_route_fails_closed() -> None:
    """With no '*' route, an unknown route is sent to reject, never released."""
    plan = ChutePlan.model_validate(
        {"release_by_route": {"north": 2}, "inspect": 5, "hold": 6, "return": 7, "reject": 9}
    )
    assert plan.chute_for(Outcome.RELEASE, "south") == 9


def test_plan_refuses_release_on_control_chute() -> None:
    """A release chute may not double as the reject (or any control) chute."""
    with pytest.raises(ValidationError, match="also control chutes"):
        ChutePlan.model_validate(
            {"release_by_route": {"*": 9}, "inspect": 5, "hold": 6, "return": 7, "reject": 9}
        )


def test_deadline() -> None:
    """The answer is due before the decision point, less the write margin."""
    d = Deadline.from_request(T0, time_left_ms=300, margin_ms=20)
    assert d.left_ms(T0) == pytest.approx(280)
    assert not d.is_late(T0 + timedelta(milliseconds=280))
    assert d.is_late(T0 + timedelta(milliseconds=281))


def test_tracking_joins_by_item_id() -> None:
    """Codes, weight and X-ray join on the item id into decision facts."""
    t = ItemTracker()
    t.on_codes(7, "OK", ("RR123456785CN",), T0)
    t.on_weight(7, 1.2, True, T0)
    t.on_weight(7, 1.5, False, T0)  # a later unstable reading does not replace a stable one
    t.on_xray(7, XrayState.CLEARED, T0)
    f = t.facts(7, T0, deadline=None, inspector_hold=False, duplicate=False)
    assert (f.weight_kg, f.weight_stable, f.xray) == (1.2, True, XrayState.CLEARED)
    assert not f.identity_reasons and not f.device_fault
    assert t.item(7, T0).codes == ("RR123456785CN",)


def test_no_read_and_fault_facts() -> None:
    """An item without codes is NO_READ; a device fault on it is a fact."""
    t = ItemTracker()
    t.on_codes(8, "NOREAD", (), T0)
    t.on_fault(8, "checkweigher", T0)
    f = t.facts(8, T0, deadline=None, inspector_hold=False, duplicate=False)
    assert f.identity_reasons == {Reason.NO_READ} and f.device_fault


def test_duplicate_after_release() -> None:
    """A second item with an already released declaration is a duplicate; the first is not."""
    t = ItemTracker()
    t.item(1, T0)
    t.item(2, T0)
    t.decided(1, "inventory:K1", Outcome.RELEASE, 1)
    assert not t.is_duplicate(1, "inventory:K1")
    assert t.is_duplicate(2, "inventory:K1")
    assert not t.is_duplicate(2, "inventory:K2")


def test_tracker_is_bounded() -> None:
    """Old items are forgotten by count and by age."""
    t = ItemTracker(max_items=100, max_age_s=60)
    for i in range(300):
        t.item(i, T0)
    assert len(t) == 100
    t.item(1000, T0 + timedelta(seconds=61))
    assert len(t) == 1


def test_reconcile_alarms() -> None:
    """Mismatch, release without a release decision, no answer and recirculation limit alarm."""
    r = Reconciler(PLAN, recirculation_limit=2)
    r.replied(1, 1, Outcome.RELEASE)
    assert r.confirmed(1, 1, 0) == []
    r.replied(2, 6, Outcome.HOLD)
    kinds = {a.kind for a in r.confirmed(2, 1, 0)}
    assert kinds == {AlarmKind.RELEASE_WITHOUT_DECISION, AlarmKind.CONFIRM_MISMATCH}
    assert {a.kind for a in r.confirmed(3, 2, 0)} == {AlarmKind.RELEASE_WITHOUT_DECISION}
    assert [a.kind for a in r.confirmed(4, 9, 2)] == [AlarmKind.NO_ANSWER]
    r.replied(5, 1, Outcome.RELEASE)
    assert r.confirmed(5, 1, 1) == [] and not r.over_recirculation_limit(5)
    assert [a.kind for a in r.confirmed(5, 1, 1)] == [AlarmKind.RECIRCULATION_LIMIT]
    assert r.over_recirculation_limit(5)
    assert [a.kind for a in r.confirmed(6, 9, 3)] == [AlarmKind.LOST_TRACK]
    assert [a.kind for a in r.confirmed(6, 9, 4)] == [AlarmKind.ABORTED]
    assert [a.kind for a in r.confirmed(6, 9, 77)] == [AlarmKind.UNKNOWN_STATUS]
