"""Inspector verdicts: audited with who/when/why, published QoS 1, listed, sent later if away."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from sqlmodel import Session, select

from contracts.events import EventKind, VerdictKind
from contracts.messages import Verdict
from contracts.topics import verdict_topic
from devices.mqtt_link import LinkSettings, Message, MqttLink
from hub.db.audit_models import AuditEntry
from hub.db.auth_models import Role
from hub.ingest.mqtt import MqttIngest, start_hub_mqtt
from hub.ingest.spool import EventSpool
from hub.services import audit
from hub.services.verdicts import publish_pending
from simulators.broker import EmbeddedBroker
from tests.hub.helpers_events import Hub, hub, make_event, parcel_story
from tests.hub.waits import poke_until, until

__all__ = ["hub"]  # fixture used below

CODE = "RR123456785CN"
WAIT_S = 10.0


def test_verdict_is_audited_listed_and_pending_without_broker(hub: Hub) -> None:
    """Who, when and why land in the audit log; with no broker the verdict waits."""
    body = {
        "parcel_code": CODE,
        "item_id": 12,
        "verdict": "hold",
        "why": "seal broken, ID 110101199003071234",
    }
    resp = hub.client.post("/api/v1/verdicts", json=body, headers=hub.auth(Role.INSPECTOR))
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["published"] is False
    assert out["verdict"]["inspector"] == "inspector-1"
    assert "110101199003071234" not in resp.text
    with Session(hub.engine) as session:
        entries = session.exec(select(AuditEntry).where(AuditEntry.action == "verdict")).all()
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.actor, entry.role, entry.subject) == ("inspector-1", "inspector", CODE)
    assert entry.at == hub.clock.now()
    assert entry.why.startswith("seal broken")
    assert "110101199003071234" not in entry.why
    assert json.loads(entry.data)["verdict"] == "hold"
    assert audit.verify(hub.engine).ok
    listed = hub.client.get(
        "/api/v1/verdicts", params={"parcel_code": CODE}, headers=hub.auth(Role.SUPERVISOR)
    ).json()
    assert [v["verdict_id"] for v in listed] == [out["verdict"]["verdict_id"]]


def test_verdict_rules(hub: Hub) -> None:
    """Inspectors only; a suspect verdict needs a category; a reason is required."""
    body = {"parcel_code": CODE, "verdict": "clear", "why": "image fine"}
    assert hub.client.post("/api/v1/verdicts", json=body).status_code == 401
    resp = hub.client.post("/api/v1/verdicts", json=body, headers=hub.auth(Role.OPERATOR))
    assert resp.status_code == 403
    suspect = {"parcel_code": CODE, "verdict": "suspect", "why": "dense mass"}
    resp = hub.client.post("/api/v1/verdicts", json=suspect, headers=hub.auth(Role.INSPECTOR))
    assert resp.status_code == 422
    assert resp.json()["field"] == "category"
    no_why = {"parcel_code": CODE, "verdict": "clear"}
    resp = hub.client.post("/api/v1/verdicts", json=no_why, headers=hub.auth(Role.INSPECTOR))
    assert resp.status_code == 422
    assert hub.client.get("/api/v1/verdicts", headers=hub.auth(Role.SUPERVISOR)).json() == []


def test_verdict_is_published_and_pending_ones_follow(hub: Hub, tmp_path: Path) -> None:
    """With the hub's MQTT side up a verdict goes out at once; a pending one on reconnect."""
    site = "s1"
    got: list[Message] = []
    hub.client.post(  # recorded while the broker is away: pending
        "/api/v1/verdicts",
        json={"parcel_code": CODE, "verdict": "clear", "why": "cleared at review"},
        headers=hub.auth(Role.INSPECTOR),
    )
    with EmbeddedBroker() as broker:
        tag = uuid.uuid4().hex[:6]
        link = MqttLink(LinkSettings(url=broker.url, site=site, kind="hub", device_id=f"h{tag}"))
        edge = MqttLink(LinkSettings(url=broker.url, site=site, kind="edge", device_id=f"e{tag}"))
        probe_topic = f"clearline/{site}/test/{tag}/probe"
        probes: list[Message] = []
        edge.subscribe(verdict_topic(site), got.append)
        edge.subscribe(probe_topic, probes.append)
        spool = EventSpool(tmp_path / "spool.db")
        ingest = MqttIngest(hub.engine, link, spool, site)
        try:
            edge.start().wait_connected(WAIT_S)
            link.start().wait_connected(WAIT_S)
            ingest.start()
            poke_until(  # until the edge's subscriptions are live
                lambda: link.publish(probe_topic, b"probe"),
                lambda: bool(probes),
                "the probe",
                every_s=0.05,
            )
            assert publish_pending(hub.engine, ingest, hub.clock) == 1
            until(lambda: len(got) == 1, "the pending verdict")
            hub.app.state.hub_mqtt = ingest
            resp = hub.client.post(
                "/api/v1/verdicts",
                json={"parcel_code": CODE, "verdict": "suspect", "category": "battery", "why": "x"},
                headers=hub.auth(Role.INSPECTOR),
            )
            assert resp.json()["published"] is True
            until(lambda: len(got) == 2, "the second verdict")
        finally:
            hub.app.state.hub_mqtt = None
            ingest.stop()
            edge.stop()
            link.stop()
            spool.close()
    verdicts = [Verdict.model_validate_json(m.payload) for m in got]
    assert [v.verdict for v in verdicts] == [VerdictKind.CLEAR, VerdictKind.SUSPECT]
    assert verdicts[1].category == "battery"
    assert str(verdicts[1].verdict_id) == resp.json()["verdict"]["verdict_id"]
    listed = hub.client.get("/api/v1/verdicts", headers=hub.auth(Role.INSPECTOR)).json()
    assert all(v["published"] for v in listed)


def test_timeline_lists_the_verdicts(hub: Hub) -> None:
    """A parcel's timeline carries the verdicts given on its code."""
    events = parcel_story(3, CODE)
    hub.client.post(
        "/api/v1/events",
        json=[json.loads(e.model_dump_json()) for e in events],
        headers=hub.auth(Role.EDGE),
    )
    hub.client.post(
        "/api/v1/verdicts",
        json={"parcel_code": CODE, "verdict": "hold", "why": "needs opening"},
        headers=hub.auth(Role.INSPECTOR),
    )
    t = hub.client.get(f"/api/v1/parcels/{CODE}", headers=hub.auth(Role.SUPERVISOR)).json()
    assert [v["verdict"] for v in t["verdicts"]] == ["hold"]
    assert t["verdicts"][0]["why"] == "needs opening"


def test_hub_mqtt_side_sends_pending_verdicts_when_it_connects(hub: Hub, tmp_path: Path) -> None:
    """Verdicts recorded while the broker was away go out once the hub's MQTT side is up."""
    site = "s1"
    got: list[Message] = []
    probes: list[Message] = []
    hub.client.post(
        "/api/v1/verdicts",
        json={"parcel_code": CODE, "verdict": "hold", "why": "open it"},
        headers=hub.auth(Role.INSPECTOR),
    )
    with EmbeddedBroker() as broker:
        tag = uuid.uuid4().hex[:6]
        probe_topic = f"clearline/{site}/test/{tag}/probe"
        edge = MqttLink(LinkSettings(url=broker.url, site=site, kind="edge", device_id=f"e{tag}"))
        edge.subscribe(verdict_topic(site), got.append)
        edge.subscribe(probe_topic, probes.append)
        edge.start().wait_connected(WAIT_S)
        try:
            poke_until(  # the edge hears itself: its subscriptions are live
                lambda: edge.publish(probe_topic, b"probe"),
                lambda: bool(probes),
                "the probe",
                every_s=0.05,
            )
            side = start_hub_mqtt(
                hub.engine, url=broker.url, site=site, spool_path=tmp_path / "s.db", clock=hub.clock
            )
            try:
                until(lambda: len(got) == 1, "the pending verdict")
            finally:
                side.stop()
        finally:
            edge.stop()
    assert Verdict.model_validate_json(got[0].payload).verdict is VerdictKind.HOLD
    listed = hub.client.get("/api/v1/verdicts", headers=hub.auth(Role.INSPECTOR)).json()
    assert [v["published"] for v in listed] == [True]


def test_a_parcel_is_filed_only_under_the_codes_its_own_events_name(hub: Hub) -> None:
    """A verdict naming a made-up code is refused; an applied one never re-files the parcel."""
    edge, inspector = hub.auth(Role.EDGE), hub.auth(Role.INSPECTOR)
    events = parcel_story(5, CODE, start_s=3500.0, outcome="RELEASE")
    applied = make_event(
        EventKind.VERDICT_APPLIED,
        {"verdict_id": str(uuid.uuid4()), "verdict": "clear"},
        item_id=5,
        parcel_code="ITEM5",
        at_s=3590.0,
    )
    sent = [json.loads(e.model_dump_json()) for e in [*events, applied]]
    assert hub.client.post("/api/v1/events", json=sent, headers=edge).status_code == 200
    made_up = {"parcel_code": "ITEM5", "item_id": 5, "verdict": "clear", "why": "image ok"}
    r = hub.client.post("/api/v1/verdicts", json=made_up, headers=inspector)
    assert r.status_code == 422 and CODE in r.json()["detail"], r.text
    late = {**made_up, "parcel_code": CODE.lower()}
    r = hub.client.post("/api/v1/verdicts", json=late, headers=inspector)
    assert r.status_code == 409 and "already decided RELEASE" in r.json()["detail"], r.text
    supervisor = hub.auth(Role.SUPERVISOR)
    t = hub.client.get(f"/api/v1/parcels/{CODE}", headers=supervisor)
    assert t.status_code == 200 and t.json()["decision"]["outcome"] == "RELEASE", t.text
    assert t.json()["parcel_code"] == CODE
    assert hub.client.get("/api/v1/parcels/ITEM5", headers=supervisor).status_code == 404
