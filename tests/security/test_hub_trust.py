"""The hub refuses events not signed by their enrolled edge, and a second, different decision."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.clock import ManualClock
from contracts.events import EdgeEvent, EventKind
from contracts.messages import Verdict, VerdictKind
from devices.signing import generate_key, public_from_text, sign_event, verify_verdict
from hub.db import migrate
from hub.db.engine import make_engine
from hub.db.event_models import EVENT, PARCEL
from hub.db.trust_models import TRUST_ALARM
from hub.ingest.events import ingest
from hub.ingest.trust import EventTrust, VerdictSigner
from hub.services import edges
from hub.services.broker import check_password
from hub.services.errors import Conflict
from tests.hub.helpers_events import Hub, engine, hub, make_event, parcel_story
from tests.inspection.builders import T0

__all__ = ["engine", "hub"]

CLOCK = ManualClock(T0 + timedelta(hours=1))


@pytest.fixture
def hub_db(tmp_path: Path) -> Iterator[Engine]:
    """A migrated hub database with edges e1 and e2 of site s1 enrolled."""
    eng = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


def enrol(eng: Engine, edge_id: str, site: str = "s1") -> edges.Enrolment:
    """Enrol one edge."""
    with Session(eng) as session:
        return edges.enrol(session, edge_id, site, CLOCK.now())


def count(eng: Engine, table: Any, **where: Any) -> int:
    """Rows of ``table`` matching ``where``."""
    q = select(func.count()).select_from(table)
    for col, value in where.items():
        q = q.where(table.c[col] == value)
    with eng.connect() as conn:
        return int(conn.execute(q).scalar_one())


def story(edge_id: str = "e1", outcome: str = "INSPECT") -> list[EdgeEvent]:
    """One pass of item 7 on ``edge_id``."""
    return parcel_story(7, "RR123456785CN", outcome=outcome, edge_id=edge_id)


def test_enrolment_issues_keys_a_bound_api_key_and_a_broker_password(hub_db: Engine) -> None:
    done = enrol(hub_db, "e1")
    assert done.api_key and done.broker_user == "edge-e1"
    with Session(hub_db) as session:
        (row,) = edges.registry(session)
        with pytest.raises(Conflict):
            edges.enrol(session, "e1", "s1", CLOCK.now())
    assert public_from_text(row["public_key"]) == done.signing_key.public_key()
    assert check_password(done.broker_password, row["broker_hash"])
    assert not check_password("guess", row["broker_hash"])


def test_only_events_signed_by_their_enrolled_edge_are_stored(hub_db: Engine) -> None:
    e1, e2 = enrol(hub_db, "e1"), enrol(hub_db, "e2")
    trust = EventTrust(hub_db)
    good = [sign_event(e1.signing_key, ev) for ev in story()]
    unsigned = story()
    by_attacker = [sign_event(generate_key(), ev) for ev in story()]
    foreign = [sign_event(e2.signing_key, ev) for ev in story("e1")]  # e2's key, e1's name
    unenrolled = [sign_event(generate_key(), ev) for ev in story("evil")]
    for batch, kind in (
        (unsigned, "unsigned"),
        (by_attacker, "forged"),
        (foreign, "forged"),
        (unenrolled, "unenrolled"),
    ):
        report = ingest(hub_db, batch, clock=CLOCK, trust=trust)
        assert report.stored == 0 and len(report.alarms) == len(batch)
        assert {a.kind for a in report.alarms} == {kind}
    assert count(hub_db, EVENT) == 0 and count(hub_db, PARCEL) == 0
    assert count(hub_db, TRUST_ALARM) == 4 * len(good)
    report = ingest(hub_db, good, clock=CLOCK, trust=trust)
    assert report.stored == len(good) and report.alarms == []


def test_revoked_and_rotated_edges(hub_db: Engine) -> None:
    old = enrol(hub_db, "e1")
    trust = EventTrust(hub_db)
    with Session(hub_db) as session:
        new = edges.rotate(session, "e1", CLOCK.now())
    trust._loaded_at = float("-inf")  # the registry changed: read it now, not in 5 s
    first, second = story()[:2]
    assert ingest(hub_db, [sign_event(old.signing_key, first)], clock=CLOCK, trust=trust).stored
    assert ingest(hub_db, [sign_event(new.signing_key, second)], clock=CLOCK, trust=trust).stored
    with Session(hub_db) as session:
        edges.revoke(session, "e1", CLOCK.now())
    trust._loaded_at = float("-inf")
    third = story()[2]
    report = ingest(hub_db, [sign_event(new.signing_key, third)], clock=CLOCK, trust=trust)
    assert report.stored == 0 and report.alarms[0].kind == "revoked"


def test_unenrolled_edges_pass_only_when_the_hub_allows_it(hub_db: Engine) -> None:
    lenient = EventTrust(hub_db, require_enrolled=False)
    assert ingest(hub_db, story("old-edge")[:1], clock=CLOCK, trust=lenient).stored == 1
    enrol(hub_db, "e1")
    lenient._loaded_at = float("-inf")
    report = ingest(hub_db, story("e1")[:1], clock=CLOCK, trust=lenient)
    assert report.stored == 0 and report.alarms[0].kind == "unsigned"


def test_a_second_different_decision_is_an_alarm_never_a_replacement(engine: Engine) -> None:
    assert ingest(engine, story(outcome="INSPECT"), clock=CLOCK).stored
    decision = {"reasons": [], "rule_set_version": "2026.11-1", "chute": 1}
    again = make_event(EventKind.DECIDED, {**decision, "outcome": "RELEASE"}, at_s=30)
    report = ingest(engine, [again], clock=CLOCK)
    assert report.stored == 0 and report.alarms[0].kind == "conflict"
    with engine.connect() as conn:
        outcome = conn.execute(select(PARCEL.c.outcome)).scalar_one()
    assert outcome == "INSPECT"
    same = make_event(EventKind.DECIDED, {**decision, "outcome": "INSPECT"}, at_s=40)
    assert ingest(engine, [same], clock=CLOCK).alarms == []


def test_the_signer_names_the_edge_of_the_pass_and_signs(hub_db: Engine) -> None:
    e1 = enrol(hub_db, "e1")
    ingest(hub_db, [sign_event(e1.signing_key, ev) for ev in story()], clock=CLOCK)
    key = generate_key()
    signer = VerdictSigner(hub_db, key, ttl_s=120)
    v = Verdict(
        verdict_id="00000000-0000-0000-0000-000000000001",  # type: ignore[arg-type]
        site="s1",
        parcel_code="RR123456785CN",
        item_id=7,
        verdict=VerdictKind.CLEAR,
        inspector="ines",
        at=CLOCK.now(),
    )
    signed = signer.sign(v, CLOCK.now())
    assert signed.edge_id == "e1"
    assert signed.expires_at == CLOCK.now() + timedelta(seconds=120)
    verify_verdict([key.public_key()], signed)


def test_an_edge_bound_api_key_posts_only_its_own_signed_events(hub: Hub) -> None:
    with Session(hub.engine) as session:
        e1 = edges.enrol(session, "e1", "s1", hub.clock.now())
        e2 = edges.enrol(session, "e2", "s1", hub.clock.now())
    assert e1.api_key is not None
    key = {"X-API-Key": e1.api_key}
    mine = [sign_event(e1.signing_key, ev) for ev in story("e1")]
    theirs = [sign_event(e2.signing_key, ev) for ev in story("e2")]
    unsigned = story("e1")
    body = [json.loads(ev.model_dump_json()) for ev in (*mine, *theirs, *unsigned)]
    answer = hub.client.post("/api/v1/events", json=body, headers=key)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["stored"] == len(mine) and result["rejected"] == len(theirs) + len(unsigned)
    assert count(hub.engine, EVENT, edge_id="e2") == 0
    # the same events of e2 with its own key are fine
    answer = hub.client.post(
        "/api/v1/events",
        json=[json.loads(ev.model_dump_json()) for ev in theirs],
        headers={"X-API-Key": e2.api_key or ""},
    )
    assert answer.json()["stored"] == len(theirs)
    with Session(hub.engine) as session:
        edges.revoke(session, "e1", hub.clock.now())
    assert hub.client.get("/api/v1/sync/declarations", headers=key).status_code == 401
