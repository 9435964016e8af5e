"""Review station, manual-inspection desk and inspector statistics over the hub API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from sqlalchemy import select
from sqlmodel import Session, col
from sqlmodel import select as sm_select

from contracts.events import VerdictKind
from contracts.messages import Verdict
from contracts.topics import verdict_topic, xray_image_topic
from devices.mqtt_link import LinkSettings, Message, MqttLink
from hub.db.audit_models import AuditEntry
from hub.db.auth_models import Role, UserCreate
from hub.db.event_models import PARCEL
from hub.db.xray_models import XRAY_IMAGE
from hub.ingest.mqtt import MqttIngest
from hub.ingest.spool import EventSpool
from hub.ingest.xray import XrayImageIngest
from hub.ingest.xray_store import ReviewSettings, XrayStore, XrayStoreError, store_image
from hub.services import audit, users
from hub.services.users import create_api_key
from simulators.broker import EmbeddedBroker
from tests.hub.helpers_events import Hub, file_declarations, hub, story_for
from tests.hub.helpers_review import (
    NOW,
    at,
    decided,
    feed,
    put_image,
    requested,
    sample_png,
    seen,
)
from tests.hub.waits import poke_until, until

__all__ = ["hub"]  # fixture used below

WAIT_S = 10.0
BUYER_ID = "110101199003071234"


@dataclass
class Station:
    """The hub with an image store in a temporary directory."""

    hub: Hub
    store: XrayStore

    def get(self, path: str, role: Role = Role.INSPECTOR, **kw: Any) -> Any:
        """GET as ``role``; return the JSON body after checking for 200."""
        r = self.hub.client.get(path, headers=self.hub.auth(role), **kw)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def station(hub: Hub, tmp_path: Path) -> Iterator[Station]:
    """The hub with images stored under ``tmp_path`` and a 20 s review budget."""
    store = XrayStore(ReviewSettings(data_dir=tmp_path / "data", review_budget_s=20.0))
    hub.app.state.xray_store = store
    yield Station(hub, store)


def _verdict(
    st: Station, image_id: object, body: dict[str, str], role: Role = Role.INSPECTOR
) -> httpx.Response:
    r: httpx.Response = st.hub.client.post(
        f"/api/v1/review/{image_id}/verdict", json=body, headers=st.hub.auth(role)
    )
    return r


# --- image store ----------------------------------------------------------------------------


def test_store_prescreens_writes_and_ignores_a_redelivery(station: Station) -> None:
    """An image is pre-screened, written under the data dir, and stored once however often."""
    eng = station.hub.engine
    feed(eng, seen(21, "RR123456785CN", -3))
    first = put_image(eng, station.store, 21, "blade", 0)
    again = put_image(eng, station.store, 21, "blade", 1)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.image_id == first.image_id
    assert first.state == "SUSPECT" and first.parcel_code == "RR123456785CN"
    with eng.connect() as conn:
        rows = conn.execute(select(XRAY_IMAGE)).mappings().all()
    assert len(rows) == 1
    row = rows[0]
    assert (station.store.root / row["path"]).read_bytes() == sample_png("blade")
    assert row["path"].startswith("s1/")
    kinds = [f["kind"] for f in row["prescreen"]["flags"]]
    assert "BLADE" in kinds and (row["width"], row["height"]) == (320, 240)
    with pytest.raises(XrayStoreError, match="not a PNG"):
        store_image(
            eng,
            station.store,
            site="s1",
            device_id="xr1",
            item_id=22,
            png=b"junk" * 20,
            received_at=NOW,
        )
    with eng.connect() as conn:
        assert len(conn.execute(select(XRAY_IMAGE)).all()) == 1


def test_images_arrive_over_mqtt(station: Station) -> None:
    """The hub's subscriber stores images from the X-ray topic; junk and strangers are not."""
    eng = station.hub.engine
    with EmbeddedBroker() as broker:
        tag = uuid.uuid4().hex[:6]
        hub_link = MqttLink(
            LinkSettings(url=broker.url, site="s1", kind="hub", device_id=f"h{tag}")
        )
        xray = MqttLink(LinkSettings(url=broker.url, site="s1", kind="xray", device_id=f"x{tag}"))
        sub = XrayImageIngest(eng, hub_link, station.store, "s1", clock=station.hub.clock)
        try:
            hub_link.start().wait_connected(WAIT_S)
            xray.start().wait_connected(WAIT_S)
            sub.start()
            poke_until(  # until the subscription is live
                lambda: xray.publish(xray_image_topic("s1", "xr1", 31), sample_png("battery")),
                lambda: sub.counts()["stored"] > 0,
                "the first image to be stored",
            )
            xray.publish(xray_image_topic("s1", "xr1", 32), b"\x89PNG not really")
            xray.publish(xray_image_topic("s2", "xr1", 33), sample_png("battery"))
            xray.publish(xray_image_topic("s1", "xr1", 34), sample_png("blade"))
            assert sub.wait_stored(2, WAIT_S), sub.counts()
            until(lambda: sub.counts()["rejected"] == 1, "the junk image to be refused")
        finally:
            sub.stop()
            xray.stop()
            hub_link.stop()
    with eng.connect() as conn:
        items = sorted(r.item_id for r in conn.execute(select(XRAY_IMAGE.c.item_id)))
    assert items == [31, 34]


# --- the queue ------------------------------------------------------------------------------


def _queue_scene(st: Station) -> dict[str, uuid.UUID]:
    """Five images: two whose parcel waits, one past its estimate, one decided, one cleared."""
    eng, store = st.hub.engine, st.store
    feed(eng, seen(11, "RR000000011CN", -10))
    feed(eng, seen(12, "RR000000012CN", -8))
    feed(eng, seen(14, "RR000000014CN", -6))
    feed(eng, seen(15, "RR000000015CN", -6))
    ids = {
        "budget": put_image(eng, store, 11, "battery", -5).image_id,  # estimate NOW+15
        "request": put_image(eng, store, 12, "blade", -7).image_id,
        "stale": put_image(eng, store, 13, "battery", -30, seed=2).image_id,  # NOW-10: held
        "edge_held": put_image(eng, store, 14, "battery", -5, seed=3).image_id,
        "cleared": put_image(eng, store, 15, "textiles", -5).image_id,
    }
    feed(
        eng,
        [
            requested(12, -2, 6000),  # the edge waits: deadline NOW+4
            decided(
                14, "RR000000014CN", -1, outcome="HOLD", reasons=("XRAY_PENDING",), deadline_ms=9000
            ),
        ],
    )
    return ids


def test_queue_holds_only_parcels_that_still_wait(station: Station) -> None:
    """Waiting parcels by their real time left; decided and overdue ones go to the history."""
    ids = _queue_scene(station)
    q = station.get("/api/v1/review/queue")
    order = [uuid.UUID(e["image_id"]) for e in q["items"]]
    assert order == [ids["request"], ids["budget"]]
    assert (q["pending"], q["held"], q["history"]) == (2, 2, 2)
    by_id = {uuid.UUID(e["image_id"]): e for e in q["items"]}
    assert by_id[ids["request"]]["seconds_left"] == pytest.approx(4.0)
    assert by_id[ids["request"]]["deadline_source"] == "request"
    assert by_id[ids["budget"]]["seconds_left"] == pytest.approx(15.0)
    assert by_id[ids["budget"]]["deadline_source"] == "budget"
    assert by_id[ids["budget"]]["parcel_code"] == "RR000000011CN"
    assert by_id[ids["request"]]["alarms"] == ["BLADE"]
    past = station.get("/api/v1/review/queue", params={"view": "history"})
    hist = {uuid.UUID(e["image_id"]): e for e in past["items"]}
    assert set(hist) == {ids["stale"], ids["edge_held"]}
    assert hist[ids["stale"]]["status"] == "held" and hist[ids["stale"]]["parcel_code"] is None
    assert hist[ids["edge_held"]]["status"] == "decided"
    assert hist[ids["edge_held"]]["edge_outcome"] == "HOLD"
    station.hub.clock.advance(5)  # the blade parcel's request runs out: the edge answered
    q = station.get("/api/v1/review/queue")
    assert [uuid.UUID(e["image_id"]) for e in q["items"]] == [ids["budget"]]


def test_a_verdict_after_the_parcel_left_is_refused_and_recorded(station: Station) -> None:
    """Decided by the edge, or past the sorter's deadline: 409 in words, a late review audited."""
    ids = _queue_scene(station)
    r = _verdict(station, ids["edge_held"], {"verdict": "hold"})
    assert r.status_code == 409, r.text
    assert "already decided HOLD" in r.json()["detail"] and "late review" in r.json()["detail"]
    station.hub.clock.advance(5)
    r = _verdict(station, ids["request"], {"verdict": "clear"})
    assert r.status_code == 409 and "deadline passed" in r.json()["detail"]
    with Session(station.hub.engine) as session:
        late = session.exec(
            sm_select(AuditEntry).where(col(AuditEntry.action) == "late_review")
        ).all()
        verdicts = session.exec(
            sm_select(AuditEntry).where(col(AuditEntry.action) == "verdict")
        ).all()
    assert sorted(e.subject for e in late) == ["RR000000012CN", "RR000000014CN"]
    assert verdicts == []
    with station.hub.engine.connect() as conn:
        rows = conn.execute(select(XRAY_IMAGE.c.verdict)).scalars().all()
    assert all(v is None for v in rows)
    assert audit.verify(station.hub.engine).ok
    ok = _verdict(station, ids["budget"], {"verdict": "clear"})
    assert ok.status_code == 201, ok.text


# --- one image ------------------------------------------------------------------------------


def test_detail_has_flags_declaration_grade_and_masked_data(station: Station) -> None:
    """The declaration beside the image: lines, HS codes, value, credit grade; no raw ID."""
    eng = station.hub.engine
    ps = file_declarations(eng, 1)[0]
    feed(eng, story_for(ps, 41, start_s=3595.0, weight_kg=1.3))
    image = put_image(eng, station.store, 41, "blade", -3.5)
    d = station.get(f"/api/v1/review/{image.image_id}")
    assert d["entry"]["parcel_code"] == ps.inventory.logistics_no
    assert [f["kind"] for f in d["flags"]] == ["BLADE"]
    flag = d["flags"][0]
    assert flag["alarm"] is True and len(flag["region"]) == 4 and flag["region"][2] > 0
    decl = d["declaration"]
    assert decl["business_key"] == ps.inventory.business_key
    assert [ln["hs_code"] for ln in decl["lines"]] == [ln.hs_code for ln in ps.inventory.lines]
    assert d["credit_grade"] in ("advanced", "general", "dishonest")
    assert d["comparisons"][0]["measured"] == pytest.approx(1.3)
    assert len(d["categories"]) == 9 and d["categories"][1]["code"] == "weapon"
    raw = json.dumps(d)
    if ps.order is not None and ps.order.buyer_id_number:
        assert ps.order.buyer_id_number not in raw
    assert BUYER_ID not in raw
    with eng.connect() as conn:
        row = conn.execute(select(XRAY_IMAGE)).mappings().one()
    assert (row["opened_by"], row["opened_at"]) == ("inspector-1", NOW)


def test_detail_finds_the_declaration_before_the_decision(station: Station) -> None:
    """Scanned and imaged but not yet decided: the declaration is found by the code read."""
    eng = station.hub.engine
    ps = file_declarations(eng, 1)[0]
    feed(eng, seen(42, ps.inventory.logistics_no, -4))
    image = put_image(eng, station.store, 42, "battery", -2)
    d = station.get(f"/api/v1/review/{image.image_id}")
    assert d["entry"]["parcel_code"] == ps.inventory.logistics_no
    assert d["declaration"]["business_key"] == ps.inventory.business_key
    declared = ps.inventory.gross_weight_kg
    assert declared is not None
    assert d["comparisons"][0]["declared"] == pytest.approx(float(declared))
    desk = station.get(f"/api/v1/desk/{ps.inventory.logistics_no}")
    assert [i["image_id"] for i in desk["images"]] == [str(image.image_id)]
    assert desk["declaration"]["business_key"] == ps.inventory.business_key


def test_every_view_renders_as_a_png(station: Station) -> None:
    """Seven server-side views, each an 8-bit RGB PNG of the image's size."""
    image = put_image(station.hub.engine, station.store, 51, "blade", 0)
    seen_views: dict[str, np.ndarray] = {}
    for view in ("colour", "grey", "organic", "inorganic", "density", "contrast", "invert"):
        r = station.hub.client.get(
            f"/api/v1/review/{image.image_id}/image",
            params={"view": view},
            headers=station.hub.auth(Role.SUPERVISOR),
        )
        assert r.status_code == 200 and r.headers["content-type"] == "image/png", view
        arr = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_UNCHANGED)
        assert arr is not None
        assert arr.shape == (240, 320, 3) and arr.dtype == np.uint8, view
        seen_views[view] = arr
    assert not np.array_equal(seen_views["colour"], seen_views["grey"])
    assert np.array_equal(seen_views["invert"], 255 - seen_views["colour"])
    bad = station.hub.client.get(
        f"/api/v1/review/{image.image_id}/image",
        params={"view": "sepia"},
        headers=station.hub.auth(Role.INSPECTOR),
    )
    assert bad.status_code == 422
    missing = station.hub.client.get(
        f"/api/v1/review/{uuid.uuid4()}/image", headers=station.hub.auth(Role.INSPECTOR)
    )
    assert missing.status_code == 404


# --- verdicts -------------------------------------------------------------------------------


def test_verdict_is_audited_published_and_received_by_the_edge(
    station: Station, tmp_path: Path
) -> None:
    """A suspect verdict goes through the verdict service: audit row, QoS 1 to the edges."""
    eng = station.hub.engine
    feed(eng, seen(61, "RR000000061CN", -4))
    image = put_image(eng, station.store, 61, "blade", -2)
    no_cat = _verdict(station, image.image_id, {"verdict": "suspect"})
    assert no_cat.status_code == 422 and no_cat.json()["field"] == "category"
    odd = _verdict(station, image.image_id, {"verdict": "suspect", "category": "sepia"})
    assert odd.status_code == 422
    got: list[Message] = []
    with EmbeddedBroker() as broker:
        tag = uuid.uuid4().hex[:6]
        link = MqttLink(LinkSettings(url=broker.url, site="s1", kind="hub", device_id=f"h{tag}"))
        edge = MqttLink(LinkSettings(url=broker.url, site="s1", kind="edge", device_id=f"e{tag}"))
        probe_topic = f"clearline/s1/test/{tag}/probe"
        probes: list[Message] = []
        edge.subscribe(verdict_topic("s1"), got.append)
        edge.subscribe(probe_topic, probes.append)
        spool = EventSpool(tmp_path / "spool.db")
        ingest = MqttIngest(eng, link, spool, "s1")
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
            station.hub.app.state.hub_mqtt = ingest
            r = _verdict(
                station,
                image.image_id,
                {"verdict": "suspect", "category": "weapon", "note": "ID 110101199003071234"},
            )
            assert r.status_code == 201, r.text
            assert r.json()["published"] is True
            until(lambda: len(got) == 1, "the verdict at the edge")
        finally:
            station.hub.app.state.hub_mqtt = None
            ingest.stop()
            edge.stop()
            link.stop()
            spool.close()
    wire = Verdict.model_validate_json(got[0].payload)
    assert (wire.parcel_code, wire.item_id, wire.verdict) == (
        "RR000000061CN",
        61,
        VerdictKind.SUSPECT,
    )
    assert (wire.category, wire.inspector, wire.site) == ("weapon", "inspector-1", "s1")
    assert str(wire.verdict_id) == r.json()["verdict"]["verdict_id"]
    with Session(eng) as session:
        entry = session.exec(sm_select(AuditEntry).where(col(AuditEntry.action) == "verdict")).one()
    assert (entry.actor, entry.subject) == ("inspector-1", "RR000000061CN")
    assert "Weapon" in entry.why and BUYER_ID not in entry.why
    assert audit.verify(eng).ok
    with eng.connect() as conn:
        row = conn.execute(select(XRAY_IMAGE)).mappings().one()
    assert (row["verdict"], row["category"], row["reviewed_by"]) == (
        "suspect",
        "weapon",
        "inspector-1",
    )
    assert str(row["verdict_id"]) == wire.verdict_id.hex or row["verdict_id"] == wire.verdict_id
    again = _verdict(station, image.image_id, {"verdict": "clear"})
    assert again.status_code == 409
    assert station.get("/api/v1/review/queue")["items"] == []


def test_a_verdict_waits_for_the_parcel_code(station: Station) -> None:
    """An image whose item was never read cannot be sent: the edges match verdicts by code."""
    image = put_image(station.hub.engine, station.store, 71, "battery", 0)
    r = _verdict(station, image.image_id, {"verdict": "clear"})
    assert r.status_code == 409 and "not known yet" in r.json()["detail"]
    feed(station.hub.engine, seen(71, "RR000000071CN", -1))
    r = _verdict(station, image.image_id, {"verdict": "clear"})
    assert r.status_code == 201, r.text
    assert r.json()["parcel_code"] == "RR000000071CN" and r.json()["published"] is False


# --- the desk -------------------------------------------------------------------------------


def test_desk_shows_why_and_records_an_audited_result(station: Station) -> None:
    """Scan a code, see why, record 'seized': audited, and the parcel's outcome is HOLD."""
    eng = station.hub.engine
    ps = file_declarations(eng, 1)[0]
    code = ps.inventory.logistics_no
    feed(
        eng,
        story_for(ps, 81, start_s=3590.0, outcome="INSPECT", reasons=("XRAY_SUSPECT",), chute=6),
    )
    image = put_image(eng, station.store, 81, "blade", -8.5)
    view = station.get(f"/api/v1/desk/]C1 {code.lower()}", role=Role.SUPERVISOR)
    assert view["parcel_code"] == code and view["status"] == "INSPECT"
    assert [r["code"] for r in view["reasons"]] == ["XRAY_SUSPECT"]
    assert [i["image_id"] for i in view["images"]] == [str(image.image_id)]
    assert view["declaration"]["business_key"] == ps.inventory.business_key
    assert set(view["choices"]) == {
        "consistent",
        "inconsistent",
        "seized",
        "return",
        "release_after_inspection",
    }
    body = {"result": "seized", "why": "knife found, buyer ID 110101199003071234"}
    r = station.hub.client.post(
        f"/api/v1/desk/{code}/result", json=body, headers=station.hub.auth(Role.SUPERVISOR)
    )
    assert r.status_code == 403
    r = station.hub.client.post(
        f"/api/v1/desk/{code}/result", json=body, headers=station.hub.auth(Role.INSPECTOR)
    )
    assert r.status_code == 201, r.text
    assert r.json()["outcome"] == "HOLD" and BUYER_ID not in r.text
    with eng.connect() as conn:
        parcel = conn.execute(select(PARCEL).where(PARCEL.c.item_id == 81)).mappings().one()
    assert (parcel["outcome"], parcel["reasons"]) == ("HOLD", ["CUSTOMS_DETAINED"])
    assert parcel["rule_set_version"] == "manual-inspection" and parcel["chute"] == 6
    assert parcel["declaration_key"] == ps.inventory.business_key
    with Session(eng) as session:
        entry = session.exec(
            sm_select(AuditEntry).where(col(AuditEntry.action) == "inspection_result")
        ).one()
    assert (entry.actor, entry.role, entry.subject, entry.at) == (
        "inspector-1",
        "inspector",
        code,
        NOW,
    )
    assert json.loads(entry.data)["result"] == "seized" and BUYER_ID not in entry.why
    assert audit.verify(eng).ok
    after = station.get(f"/api/v1/desk/{code}")
    assert after["status"] == "HOLD" and [x["result"] for x in after["results"]] == ["seized"]
    trace = station.get(f"/api/v1/parcels/{code}", role=Role.SUPERVISOR)
    assert trace["decision"]["outcome"] == "HOLD"
    release = {"result": "release_after_inspection", "why": "knife was a letter opener, declared"}
    station.hub.clock.advance(60)
    r = station.hub.client.post(
        f"/api/v1/desk/{code}/result", json=release, headers=station.hub.auth(Role.INSPECTOR)
    )
    assert r.status_code == 201 and r.json()["outcome"] == "RELEASE"
    assert station.get(f"/api/v1/desk/{code}")["status"] == "RELEASE"


def test_desk_refuses_unknown_codes_and_results(station: Station) -> None:
    """An unknown parcel is 404; an unknown result or a missing reason is 422."""
    r = station.hub.client.get(
        "/api/v1/desk/RR999999999CN", headers=station.hub.auth(Role.INSPECTOR)
    )
    assert r.status_code == 404
    feed(station.hub.engine, seen(91, "RR000000091CN", -1))
    for body in ({"result": "lost", "why": "x"}, {"result": "seized", "why": ""}):
        r = station.hub.client.post(
            "/api/v1/desk/RR000000091CN/result", json=body, headers=station.hub.auth(Role.INSPECTOR)
        )
        assert r.status_code == 422, body


# --- statistics -----------------------------------------------------------------------------


def test_inspector_statistics(station: Station) -> None:
    """Images per hour, median decision time and agreement with the pre-screen per inspector."""
    hub_ = station.hub
    eng = hub_.engine
    with Session(eng) as session:
        _, second = create_api_key(session, "inspector-2", Role.INSPECTOR, hub_.clock.now())
    other = {"X-API-Key": second}
    for item in (101, 102, 103):
        feed(eng, seen(item, f"RR000000{item}CN", -5))
    battery = put_image(eng, station.store, 101, "battery", -1)  # PENDING
    blade = put_image(eng, station.store, 102, "blade", -1)  # SUSPECT
    blade2 = put_image(eng, station.store, 103, "blade", -1, seed=2)  # SUSPECT

    def review(
        image_id: uuid.UUID, headers: dict[str, str], think_s: float, body: dict[str, str]
    ) -> None:
        assert hub_.client.get(f"/api/v1/review/{image_id}", headers=headers).status_code == 200
        hub_.clock.advance(think_s)
        r = hub_.client.post(f"/api/v1/review/{image_id}/verdict", json=body, headers=headers)
        assert r.status_code == 201, r.text

    mine = hub_.auth(Role.INSPECTOR)
    review(battery.image_id, mine, 4, {"verdict": "clear"})  # agrees
    review(blade.image_id, mine, 6, {"verdict": "clear"})  # disagrees
    review(blade2.image_id, other, 3, {"verdict": "suspect", "category": "weapon"})  # agrees
    r = hub_.client.post(
        "/api/v1/desk/RR000000102CN/result",
        json={"result": "consistent", "why": "a letter opener, as declared"},
        headers=mine,
    )
    assert r.status_code == 201
    stats = station.get("/api/v1/inspectors/stats", role=Role.SUPERVISOR)
    by = {s["inspector"]: s for s in stats["inspectors"]}
    assert set(by) == {"inspector-1", "inspector-2"}, stats
    one, two = by["inspector-1"], by["inspector-2"]
    assert (one["images_reviewed"], one["cleared"], one["suspect"]) == (2, 2, 0)
    assert one["median_decision_s"] == pytest.approx(5.0)
    assert one["agreement"] == pytest.approx(0.5) and one["compared"] == 2
    assert one["images_per_hour"] == pytest.approx(120.0)  # 2 images, span under a minute
    assert one["desk_results"] == 1
    assert (two["images_reviewed"], two["suspect"], two["agreement"]) == (1, 1, 1.0)
    assert two["median_decision_s"] == pytest.approx(3.0)
    window = station.get(
        "/api/v1/inspectors/stats",
        params={"since": at(3600).isoformat(), "until": at(7200).isoformat()},
    )
    assert window["inspectors"] == []
    bad = hub_.client.get(
        "/api/v1/inspectors/stats",
        params={"since": at(10).isoformat(), "until": at(0).isoformat()},
        headers=mine,
    )
    assert bad.status_code == 422


# --- roles and pages ------------------------------------------------------------------------


def test_roles_guard_the_station(station: Station) -> None:
    """401 without credentials, 403 for roles that may not, 200 for the ones that may."""
    image = put_image(station.hub.engine, station.store, 111, "battery", 0)
    c, auth = station.hub.client, station.hub.auth
    gets = [
        "/review",
        "/desk",
        "/api/v1/review/queue",
        f"/api/v1/review/{image.image_id}",
        f"/api/v1/review/{image.image_id}/image",
        "/api/v1/desk/RR1",
        "/api/v1/inspectors/stats",
    ]
    for path in gets:
        r = c.get(path)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", path
        assert c.get(path, headers=auth(Role.OPERATOR)).status_code == 403, path
        assert c.get(path, headers=auth(Role.EDGE)).status_code == 403, path
    verdict = f"/api/v1/review/{image.image_id}/verdict"
    assert c.post(verdict, json={"verdict": "clear"}).status_code == 401
    assert (
        c.post(verdict, json={"verdict": "clear"}, headers=auth(Role.SUPERVISOR)).status_code == 403
    )
    assert c.get("/review", headers=auth(Role.SUPERVISOR)).status_code == 403
    page = c.get("/review", headers=auth(Role.INSPECTOR))
    assert page.status_code == 200 and "判图工位" in page.text  # Chinese by default
    assert c.get("/desk", headers=auth(Role.SUPERVISOR)).status_code == 200


def test_page_login_sets_a_session_cookie(station: Station) -> None:
    """The login form sets the session cookie that opens the pages; bad passwords do not."""
    with Session(station.hub.engine) as session:
        users.create_user(
            session,
            UserCreate(name="ins1", role=Role.INSPECTOR, password="inspector-password"),
            station.hub.clock.now(),
        )
    c = station.hub.client
    assert c.get("/login", params={"next": "/desk"}).status_code == 200
    bad = c.post("/login", data={"username": "ins1", "password": "nope", "next": "/review"})
    assert bad.status_code == 401 and "用户名或密码错误" in bad.text  # Chinese by default
    ok = c.post(
        "/login",
        data={"username": "ins1", "password": "inspector-password", "next": "//elsewhere.example"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/"  # the role's home, via /
    assert "clearline_session=" in ok.headers["set-cookie"]
    home = c.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/review"
    assert "httponly" in ok.headers["set-cookie"].lower()
    page = c.get("/review")
    assert page.status_code == 200 and "ins1" in page.text
    assert c.post("/logout", follow_redirects=False).status_code == 403  # no Origin
    own = {"Origin": "http://testserver"}
    out = c.post("/logout", headers=own, follow_redirects=False)
    assert out.status_code == 303
    c.cookies.clear()
    assert c.get("/review").status_code == 401


def test_grey_and_density_views_show_organic_matter(station: Station) -> None:
    """Clothes only (organic, thin): the grey views are mid-grey where the goods are, not
    near-white, and the darkest goods come out dark."""
    image = put_image(station.hub.engine, station.store, 131, "textiles", 0)
    with station.hub.engine.connect() as conn:
        path = conn.execute(
            select(XRAY_IMAGE.c.path).where(XRAY_IMAGE.c.image_id == image.image_id)
        ).scalar_one()
    for view in ("grey", "density"):
        png = station.store.render(path, view)
        grey = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
        goods = grey[grey < 250]
        assert goods.size > 500, view
        assert float(np.median(goods)) < 200, (view, float(np.median(goods)))
        assert int(goods.min()) < 80, (view, int(goods.min()))
