"""The parcel trace page: the story, reasons in words, measured vs declared, nothing unmasked."""

from __future__ import annotations

import json
import re
from typing import Any

from lxml import html as lxml_html

from contracts.events import EdgeEvent, EventKind
from hub.db.auth_models import Role
from tests.hub.helpers_events import Hub, file_declarations, hub, make_event, story_for

__all__ = ["hub"]  # fixture used below

ENGLISH = {"Accept-Language": "en"}


def _post(h: Hub, events: list[EdgeEvent]) -> None:
    body = [json.loads(e.model_dump_json()) for e in events]
    resp = h.client.post("/api/v1/events", json=body, headers=h.auth(Role.EDGE))
    assert resp.status_code == 200, resp.text


def _section(doc: Any, section_id: str) -> Any:
    """The element with ``section_id``; fail when missing."""
    found = doc.xpath(f"//*[@id='{section_id}']")
    assert len(found) == 1, section_id
    return found[0]


def test_trace_page_tells_the_story(hub: Hub) -> None:
    """Times, devices, reasons in words, measured vs declared, an inline SVG timeline."""
    (ps,) = file_declarations(hub.engine, 1)
    declared = float(ps.inventory.gross_weight_kg or 0)
    events = story_for(
        ps,
        77,
        weight_kg=declared + 0.25,
        outcome="INSPECT",
        reasons=("WEIGHT_DEVIATION", "RANDOM_SELECTION"),
        chute=6,
    )
    alarm = make_event(
        EventKind.ALARM,
        {"alarm": "late_reply", "detail": "<script>alert(1)</script> buyer 110101199003071234"},
        item_id=77,
        at_s=3,
    )
    _post(hub, [*events, alarm])
    resp = hub.client.get(
        f"/trace/{ps.inventory.logistics_no}", headers={**hub.auth(Role.SUPERVISOR), **ENGLISH}
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/html")
    page = resp.text
    doc = lxml_html.fromstring(page)

    summary = _section(doc, "summary").text_content()
    assert "Inspect" in summary and "inspection chute 6" in summary
    assert "sent to manual inspection" in summary
    assert "chute 6" in summary
    assert "diverted into the chute" in summary

    reasons = _section(doc, "reasons").text_content()
    assert "The measured weight is outside the tolerance of the declared weight" in reasons
    assert "Picked by random selection" in reasons
    assert "this one decided the outcome" in reasons

    measured = _section(doc, "measured").text_content()
    assert f"{declared + 0.25:.3f} kg" in measured
    assert f"{declared:.3f} kg" in measured
    assert "+0.250 kg" in measured

    timeline = _section(doc, "timeline")
    assert len(timeline.findall(".//svg")) >= 1
    assert len(timeline.findall(".//circle")) >= len(events) + 1
    story = timeline.text_content()
    for device in ("tunnel1", "cw1", "xr1"):
        assert device in story
    assert "2026-11-22 08:00:00.400 UTC" in story
    assert "+1.600 s" in story

    declaration = _section(doc, "declaration").text_content()
    assert ps.inventory.business_key in declaration
    assert ps.inventory.trade_mode in declaration

    # nothing personal unmasked, nothing injected, nothing fetched from elsewhere
    assert ps.inventory.buyer_id_number not in page
    assert ps.inventory.buyer_telephone not in page
    assert "110101199003071234" not in page
    assert "<script>alert" not in page
    assert doc.xpath("//link|//img|//iframe") == []
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, re.S)
    assert all("data-autosubmit" in text and "<" not in text for text in scripts), scripts
    assert len(scripts) <= 1  # the menu's own script (auto-submitting pickers), nothing else
    assert doc.xpath("//*[@src]") == []


def test_trace_page_for_an_undeclared_parcel(hub: Hub) -> None:
    """No declaration and no decision yet: the page says so plainly."""
    _post(hub, [make_event(EventKind.PARCEL_SEEN, item_id=9, parcel_code="RR123456785CN")])
    resp = hub.client.get("/trace/RR123456785CN", headers={**hub.auth(Role.INSPECTOR), **ENGLISH})
    assert resp.status_code == 200
    assert "No declaration matched this parcel" in resp.text
    assert "no decision has reached the hub yet" in resp.text


def test_trace_page_unknown_and_forbidden(hub: Hub) -> None:
    """An unknown code is a readable 404 page; anonymous callers are refused (a browser is sent
    to the login), and an operator, who follows alarms to parcels, may look."""
    resp = hub.client.get("/trace/RR000000000CN", headers={**hub.auth(Role.SUPERVISOR), **ENGLISH})
    assert resp.status_code == 404
    assert "no parcel known as" in resp.text
    assert hub.client.get("/trace/RR000000000CN").status_code == 401
    assert (
        hub.client.get("/trace/RR000000000CN", headers=hub.auth(Role.OPERATOR)).status_code == 404
    )
    browser = hub.client.get(
        "/trace/RR000000000CN", headers={"Accept": "text/html"}, follow_redirects=False
    )
    assert browser.status_code == 303
    assert browser.headers["location"] == "/login?next=/trace/RR000000000CN"
