"""Threat image projection over the hub API: the physics of the projection, the library at the
site's pixel pitch, scoring apart from the parcel's verdict, and the figures per day."""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select
from sqlmodel import Session

from hub.db.auth_models import Role
from hub.db.tip_models import TIP_PROJECTION
from hub.db.xray_models import XRAY_IMAGE
from hub.ingest.xray_store import ReviewSettings, XrayStore
from hub.services import tip
from simulators.xray.physics import load_profiles
from simulators.xray.tip_library import build_library
from tests.hub.helpers_events import Hub, hub
from tests.hub.helpers_review import feed, put_image, seen

__all__ = ["hub"]  # fixture used below

PROFILE = load_profiles()["eff-60-100"]


def _png(low: np.ndarray, high: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", np.vstack([low, high]).astype(np.uint16))
    assert ok
    return bytes(buf)


def test_projection_multiplies_the_parcel_counts_by_the_threat_transmission() -> None:
    low = np.full((80, 100), 40000, np.uint16)
    high = np.full((80, 100), 50000, np.uint16)
    low[10:70, 10:90] = 30000  # the parcel: where the threat is placed
    threat = tip.Threat(
        "t.png", "gun", np.full((6, 4), 0.5, np.float32), np.full((6, 4), 0.25, np.float32)
    )
    out, (x, y, w, h) = tip.project(_png(low, high), threat, random.Random(3))
    got = cv2.imdecode(np.frombuffer(out, np.uint8), cv2.IMREAD_UNCHANGED)
    g_low, g_high = got[:80].astype(np.int64), got[80:].astype(np.int64)
    assert {w, h} == {4, 6}
    inside = np.zeros((80, 100), bool)
    inside[y : y + h, x : x + w] = True
    assert np.all(g_low[inside] == low.astype(np.int64)[inside] // 2)
    assert np.all(g_high[inside] == 12500)
    assert np.array_equal(g_low[~inside], low[~inside]) and np.all(g_high[~inside] == 50000)


def test_library_is_read_at_the_site_pixel_pitch(tmp_path: Path) -> None:
    items = build_library(PROFILE, tmp_path, per_class=1, classes=("tungsten", "knife"))
    same = tip.load_library(str(tmp_path), PROFILE.pixel_mm)
    coarse = tip.load_library(str(tmp_path), PROFILE.pixel_mm * 2)
    assert [t.threat for t in same] == ["tungsten", "knife"]
    for item, a, b in zip(items, same, coarse, strict=True):
        assert a.low.shape == (item["height"], item["width"])
        assert abs(b.low.shape[1] - a.low.shape[1] / 2) <= 1
        solid = a.low < 0.9
        assert solid.any()
    knife = same[1]
    steel = (knife.low < 0.9) & (knife.low > 0.01)
    assert np.all(knife.high[steel] > knife.low[steel])  # steel passes more of the high channel
    tungsten = same[0]
    dense = tungsten.low < 0.5
    assert np.median(tungsten.high[dense] / np.maximum(tungsten.low[dense], 1e-6)) < 1.0  # K-edge
    assert tip.load_library(str(tmp_path / "none"), 0.6) == ()


@pytest.fixture
def tip_store(hub: Hub, tmp_path: Path) -> XrayStore:
    library = tmp_path / "library"
    build_library(PROFILE, library, per_class=1, classes=("gun",))
    settings = ReviewSettings(
        data_dir=tmp_path / "data", review_budget_s=600.0, tip_rate=1.0, tip_library=library
    )
    store = XrayStore(settings)
    hub.app.state.xray_store = store
    return store


def test_answer_on_a_test_image_is_scored_and_never_reaches_the_parcel(
    hub: Hub, tip_store: XrayStore
) -> None:
    feed(hub.engine, seen(61, "RR000000061CN", -5))
    image = put_image(hub.engine, tip_store, 61, "textiles", -4)
    ins, sup = hub.auth(Role.INSPECTOR), hub.auth(Role.SUPERVISOR)
    url = f"/api/v1/review/{image.image_id}"
    assert hub.client.get(url, headers=sup).status_code == 200  # a supervisor is never tested
    with Session(hub.engine) as s:
        assert s.connection().execute(select(TIP_PROJECTION)).all() == []
    assert hub.client.get(url, headers=ins).status_code == 200
    shown = hub.client.get(f"{url}/image", params={"view": "grey"}, headers=ins).content
    with Session(hub.engine) as s:
        conn = s.connection()
        (row,) = conn.execute(select(TIP_PROJECTION)).mappings().all()
        real_path = conn.execute(select(XRAY_IMAGE.c.path)).scalar_one()
    assert row["threat"] == "gun" and row["answered_at"] is None
    assert shown != tip_store.render(real_path, "grey")

    r = hub.client.post(
        f"{url}/verdict", json={"verdict": "suspect", "category": "weapon"}, headers=ins
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["tip"] is True and body["hit"] is True and body["threat"] == "gun"
    with Session(hub.engine) as s:
        verdict = s.connection().execute(select(XRAY_IMAGE.c.verdict)).scalar_one()
    assert verdict is None  # the parcel's image still waits for its own verdict
    after = hub.client.get(f"{url}/image", params={"view": "grey"}, headers=ins).content
    assert after == tip_store.render(real_path, "grey")
    assert hub.client.get(url, headers=ins).status_code == 200  # one test per image
    r = hub.client.post(f"{url}/verdict", json={"verdict": "clear"}, headers=ins)
    assert r.status_code == 201 and "tip" not in r.json(), r.text
    with Session(hub.engine) as s:
        conn = s.connection()
        assert conn.execute(select(XRAY_IMAGE.c.verdict)).scalar_one() == "clear"
        assert len(conn.execute(select(TIP_PROJECTION)).all()) == 1

    stats = hub.client.get("/api/v1/review/inspectors", headers=sup).json()
    (mine,) = stats["rows"]
    assert (mine["tip_shown"], mine["tip_hits"], mine["tip_misses"]) == (1, 1, 0)
    assert mine["tip_hit_rate"] == 1.0 and (mine["images"], mine["alarms"]) == (1, 0)
    assert mine["seconds_per_image"] is not None


def test_no_projection_at_rate_zero(hub: Hub, tmp_path: Path) -> None:
    store = XrayStore(ReviewSettings(data_dir=tmp_path / "data", review_budget_s=600.0))
    hub.app.state.xray_store = store
    image = put_image(hub.engine, store, 62, "textiles", -4)
    assert hub.client.get(f"/api/v1/review/{image.image_id}", headers=hub.auth(Role.INSPECTOR))
    with Session(hub.engine) as s:
        assert s.connection().execute(select(TIP_PROJECTION)).all() == []


def test_energy_and_edge_views(hub: Hub, tmp_path: Path) -> None:
    store = XrayStore(ReviewSettings(data_dir=tmp_path / "data"))
    hub.app.state.xray_store = store
    image = put_image(hub.engine, store, 63, "blade", 0)
    views = {}
    for view in ("grey", "low", "high", "edges"):
        r = hub.client.get(
            f"/api/v1/review/{image.image_id}/image",
            params={"view": view},
            headers=hub.auth(Role.INSPECTOR),
        )
        assert r.status_code == 200, view
        views[view] = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_UNCHANGED)
        assert views[view].shape == (240, 320, 3)
    assert not np.array_equal(views["low"], views["high"])
    assert not np.array_equal(views["edges"], views["grey"])
    grad = lambda a: float(np.abs(np.diff(a[:, :, 0].astype(np.int32), axis=1)).mean())  # noqa: E731
    assert grad(views["edges"]) > grad(views["grey"])  # edges are steeper
