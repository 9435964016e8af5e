"""The events batch endpoint, the parcel list with filters and the parcel timeline."""

from __future__ import annotations

import json
from typing import Any

from contracts.events import EdgeEvent, EventKind
from hub.db.auth_models import Role
from tests.hub.helpers_events import (
    Hub,
    file_declarations,
    hub,
    make_event,
    parcel_story,
    story_for,
)

__all__ = ["hub"]  # fixture used below


def _body(events: list[EdgeEvent]) -> list[dict[str, Any]]:
    return [json.loads(e.model_dump_json()) for e in events]


def _post(h: Hub, events: list[EdgeEvent]) -> dict[str, Any]:
    resp = h.client.post("/api/v1/events", json=_body(events), headers=h.auth(Role.EDGE))
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


def test_batch_endpoint_stores_once_and_reports_refusals(hub: Hub) -> None:
    """Stored, duplicate and rejected counts; a bad event is refused alone."""
    events = parcel_story(1, "RR123456785CN")
    assert _post(hub, events)["stored"] == 7
    other_site = make_event(EventKind.PARCEL_SEEN, site="elsewhere", item_id=2)
    body = [*_body(events[:3]), {"kind": "weighed"}, *_body([other_site])]
    resp = hub.client.post("/api/v1/events", json=body, headers=hub.auth(Role.EDGE))
    result = resp.json()
    assert (result["stored"], result["duplicates"], result["rejected"]) == (0, 3, 2)
    errors = {r["index"]: r["error"] for r in result["rejections"]}
    assert "kind: Field required" not in errors[3]  # kind was given
    assert "event_id: Field required" in errors[3]
    assert "serves 's1'" in errors[4]


def test_batch_endpoint_requires_the_edge_role(hub: Hub) -> None:
    """No credentials: 401; a person's role: 403; nothing stored."""
    body = _body(parcel_story(1, "RR123456785CN"))
    assert hub.client.post("/api/v1/events", json=body).status_code == 401
    resp = hub.client.post("/api/v1/events", json=body, headers=hub.auth(Role.INSPECTOR))
    assert resp.status_code == 403
    page = hub.client.get("/api/v1/parcels", headers=hub.auth(Role.SUPERVISOR)).json()
    assert page["total"] == 0


def test_list_filters_and_pagination(hub: Hub) -> None:
    """Outcome, reason, day and edge filters; limit and offset; newest first."""
    _post(hub, parcel_story(1, "RR123456785CN", outcome="RELEASE", start_s=0))
    _post(
        hub,
        parcel_story(2, "RR000000004CN", outcome="HOLD", reasons=("CUSTOMS_PENDING",), start_s=10),
    )
    _post(
        hub,
        parcel_story(
            3,
            "YT000000000009",
            edge_id="e2",
            outcome="INSPECT",
            reasons=("WEIGHT_DEVIATION", "RANDOM_SELECTION"),
            start_s=20,
        ),
    )
    _post(hub, parcel_story(4, "YT000000000010", start_s=86400))  # the next day
    auth = hub.auth(Role.OPERATOR)

    def codes(**params: Any) -> list[str]:
        resp = hub.client.get("/api/v1/parcels", params=params, headers=auth)
        assert resp.status_code == 200, resp.text
        return [p["parcel_code"] for p in resp.json()["items"]]

    assert codes() == ["YT000000000010", "YT000000000009", "RR000000004CN", "RR123456785CN"]
    assert codes(outcome="HOLD") == ["RR000000004CN"]
    assert codes(reason="RANDOM_SELECTION") == ["YT000000000009"]
    assert codes(edge="e2") == ["YT000000000009"]
    assert codes(day="2026-11-22") == ["YT000000000009", "RR000000004CN", "RR123456785CN"]
    assert codes(day="2026-11-23") == ["YT000000000010"]
    assert codes(limit=2, offset=1) == ["YT000000000009", "RR000000004CN"]
    page = hub.client.get("/api/v1/parcels", params={"limit": 1}, headers=auth).json()
    assert page["total"] == 4
    bad = hub.client.get("/api/v1/parcels", params={"reason": "NOPE"}, headers=auth)
    assert bad.status_code == 422


def test_timeline_has_every_event_the_decision_and_the_declaration(hub: Hub) -> None:
    """By code or by item id: events in time order, reasons, chute, masked declaration."""
    (ps,) = file_declarations(hub.engine, 1)
    declared = float(ps.inventory.gross_weight_kg or 0)
    events = story_for(
        ps,
        41,
        weight_kg=declared + 0.4,
        outcome="INSPECT",
        reasons=("WEIGHT_DEVIATION",),
        chute=7,
    )
    _post(hub, list(reversed(events)))
    auth = hub.auth(Role.SUPERVISOR)
    resp = hub.client.get(f"/api/v1/parcels/{ps.inventory.logistics_no}", headers=auth)
    assert resp.status_code == 200, resp.text
    t = resp.json()
    assert [e["kind"] for e in t["events"]] == [e.kind.value for e in events]
    assert t["decision"]["outcome"] == "INSPECT"
    assert t["decision"]["reasons"][0]["code"] == "WEIGHT_DEVIATION"
    assert "outside the tolerance" in t["decision"]["reasons"][0]["words"]
    assert t["decision"]["chute"] == 7
    assert t["confirmation"] == {"chute": 7, "status": "diverted", "at": t["events"][-1]["at"]}
    decl = t["declaration"]
    assert decl["business_key"] == ps.inventory.business_key
    assert decl["trade_mode"] == ps.inventory.trade_mode
    weight = t["comparisons"][0]
    assert weight["what"] == "gross weight"
    assert weight["declared"] == declared
    assert abs(weight["difference"] - 0.4) < 1e-6
    text = resp.text
    assert ps.inventory.buyer_id_number not in text
    assert ps.inventory.buyer_telephone not in text
    assert decl["buyer_id_number"].startswith(ps.inventory.buyer_id_number[:3])
    by_item = hub.client.get("/api/v1/parcels/41", headers=auth).json()
    assert by_item["passes"][0]["parcel_key"] == "s1/e1/41"
    assert len(by_item["events"]) == 7


def test_timeline_of_a_recirculated_parcel_shows_both_passes(hub: Hub) -> None:
    """A parcel that went round twice has two passes; the latest decision is shown."""
    code = "RR123456785CN"
    _post(hub, parcel_story(5, code, outcome="REJECT", reasons=("LATE_DECISION",), chute=99))
    _post(hub, parcel_story(6, code, start_s=60, chute=2))
    t = hub.client.get(f"/api/v1/parcels/{code}", headers=hub.auth(Role.INSPECTOR)).json()
    assert [p["item_id"] for p in t["passes"]] == [5, 6]
    assert len(t["events"]) == 14
    assert t["decision"]["outcome"] == "RELEASE"
    assert t["decision"]["chute"] == 2
    assert t["declaration"] is None


def test_unknown_parcel_is_404(hub: Hub) -> None:
    """A code nobody has seen is a clear 404."""
    resp = hub.client.get("/api/v1/parcels/RR999999999CN", headers=hub.auth(Role.SUPERVISOR))
    assert resp.status_code == 404
    assert "no parcel known as" in resp.json()["detail"]


def test_a_parcel_with_two_labels_is_found_by_either(hub: Hub) -> None:
    """A multi-read pass is filed under its first code and traced by its second label too."""
    events = parcel_story(7, "YT000000098000", outcome="REJECT", reasons=("MULTI_READ_CONFLICT",))
    read = events[1]
    events[1] = read.model_copy(
        update={
            "data": {
                **read.data,
                "status": "MULTI",
                "codes": ["]C0YT000000098000", "]C0YT000000097000"],
            }
        }
    )
    _post(hub, events)
    auth = hub.auth(Role.OPERATOR)
    first = hub.client.get("/api/v1/parcels/YT000000098000", headers=auth).json()
    second = hub.client.get("/api/v1/parcels/yt000000097000 ", headers=auth)
    assert second.status_code == 200, second.text
    assert [p["parcel_key"] for p in second.json()["passes"]] == ["s1/e1/7"]
    assert second.json()["decision"]["outcome"] == "REJECT"
    assert first["passes"] == second.json()["passes"]
    _post(hub, events)  # the same events again: the alias is stored once, nothing breaks
    again = hub.client.get("/api/v1/parcels/YT000000097000", headers=auth).json()
    assert len(again["passes"]) == 1
