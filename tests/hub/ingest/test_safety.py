"""The hub flags what breaks the line's promises: two different decisions, clocks far ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from contracts.events import EventKind
from hub.db.trust_models import TRUST_ALARM
from hub.ingest.events import ingest
from tests.hub.helpers_events import engine, make_event, mem_engine

__all__ = ["engine", "mem_engine"]  # fixtures used below

REJECT = {"outcome": "REJECT", "reasons": ["NO_WEIGHT"], "rule_set_version": "r1", "chute": 99}
RELEASE = {"outcome": "RELEASE", "reasons": [], "rule_set_version": "r1", "chute": 1}


def _alarms(eng: Engine) -> list[dict[str, Any]]:
    """The trust alarms recorded for conflicting decisions."""
    with eng.connect() as conn:
        rows = conn.execute(select(TRUST_ALARM.c.kind, TRUST_ALARM.c.detail))
        return [{"alarm": kind, "detail": detail} for kind, detail in rows]


def test_second_different_decided_is_an_alarm(engine: Engine) -> None:
    """A pass decided RELEASE then REJECT without a confirmation between raises one alarm."""
    first = make_event(EventKind.DECIDED, RELEASE, item_id=7, at_s=0)
    other = make_event(EventKind.DECIDED, REJECT, item_id=7, at_s=2)
    assert ingest(engine, [first]).contradictions == 0
    report = ingest(engine, [other])
    assert report.contradictions == 1
    # sent again (and once more, anew): refused again, never stored
    again = ingest(engine, [other, make_event(EventKind.DECIDED, REJECT, item_id=7, at_s=3)])
    assert again.stored == 0 and again.contradictions == 2
    alarms = _alarms(engine)
    assert {a["alarm"] for a in alarms} == {"conflict"}  # one per refused delivery
    assert len(alarms) == 3 and all("/7" in a["detail"] for a in alarms)
    assert "REJECT" in alarms[0]["detail"] and "RELEASE" in alarms[0]["detail"]


def test_same_decided_again_or_after_a_recirculation_is_no_alarm(mem_engine: Engine) -> None:
    """The same answer repeated, or a new one after a confirmation, is no contradiction."""
    events = [
        make_event(EventKind.DECIDED, RELEASE, item_id=8, at_s=0),
        make_event(EventKind.DECIDED, RELEASE, item_id=8, at_s=1),
        make_event(EventKind.CONFIRMED, {"chute": 1, "status": 1}, item_id=8, at_s=2),
        make_event(EventKind.DECIDED, REJECT, item_id=8, at_s=3),
    ]
    assert ingest(mem_engine, events).contradictions == 0
    assert _alarms(mem_engine) == []


def test_event_far_in_the_future_is_flagged_and_kept(mem_engine: Engine) -> None:
    """An event an hour ahead of the hub's clock is stored and reported as dated ahead."""

    class At:
        def now(self) -> datetime:
            return datetime(2026, 11, 22, 7, 0, tzinfo=UTC)  # an hour before the events

    early = make_event(EventKind.DECIDED, RELEASE, item_id=9)
    report = ingest(mem_engine, [early], clock=At())
    assert report.stored == 1 and report.future == [str(early.event_id)]
    fine = make_event(EventKind.DECIDED, RELEASE, item_id=10)

    class Close:
        def now(self) -> datetime:
            return fine.at - timedelta(minutes=1)

    assert ingest(mem_engine, [fine], clock=Close()).future == []
