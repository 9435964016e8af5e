"""Topic building and parsing: round trips, wildcards and foreign topics."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import messages as m
from contracts import topics as t

segment = st.text(
    alphabet=st.characters(categories=("L", "N", "P", "S"), exclude_characters="/+#"),
    min_size=1,
    max_size=64,
)


@settings(max_examples=200)
@given(site=segment, device=segment, item_id=st.integers(0, t.MAX_ITEM_ID))
def test_xray_image_topic_round_trips(site: str, device: str, item_id: int) -> None:
    topic = t.xray_image_topic(site, device, item_id)
    assert t.parse_xray_image_topic(topic) == t.XrayImageTopic(site, device, item_id)


def test_xray_image_topic_layout_is_the_contract() -> None:
    assert t.xray_image_topic("sh01", "xr2", 123) == "clearline/sh01/xray/xr2/image/123"
    assert t.xray_image_filter("sh01", "xr2") == "clearline/sh01/xray/xr2/image/+"
    assert t.xray_image_filter("sh01") == "clearline/sh01/xray/+/image/+"


@settings(max_examples=200)
@given(site=segment, kind=segment, device=segment)
def test_availability_topic_round_trips(site: str, kind: str, device: str) -> None:
    topic = t.availability_topic(site, kind, device)
    assert topic == f"clearline/{site}/{kind}/{device}/availability"
    assert t.parse_availability_topic(topic) == t.AvailabilityTopic(site, kind, device)


def test_edge_hub_topics() -> None:
    assert t.edge_event_topic("s", "e1") == "clearline/s/edge/e1/event"
    assert t.parse_edge_event_topic("clearline/s/edge/e1/event") == t.EdgeEventTopic("s", "e1")
    assert t.edge_event_filter("s") == "clearline/s/edge/+/event"
    assert t.verdict_topic("s") == "clearline/s/hub/verdict"
    assert t.parse_verdict_topic("clearline/s/hub/verdict") == "s"
    assert t.sync_notice_topic("s") == "clearline/s/hub/sync"
    assert t.parse_sync_notice_topic("clearline/s/hub/sync") == "s"
    assert t.availability_filter("s") == "clearline/s/+/+/availability"


@pytest.mark.parametrize(
    "topic",
    [
        "other/s/xray/x1/image/5",
        "clearline/s/scale/x1/image/5",
        "clearline/s/xray/x1/picture/5",
        "clearline/s/xray/x1/image",
        "clearline/s/xray/x1/image/5/extra",
        "clearline/s/xray/x1/image/-5",
        "clearline/s/xray/x1/image/12a",
        "clearline/s/xray/x1/image/4294967296",
        "clearline/s/xray/x1/image/",
        "clearline//xray/x1/image/5",
        "clearline/s/xray/x1/image/\uff15",
    ],
)
def test_foreign_image_topics_are_refused(topic: str) -> None:
    with pytest.raises(t.TopicError, match=r"topic|site|device_id"):
        t.parse_xray_image_topic(topic)


@pytest.mark.parametrize(
    ("parse", "topic"),
    [
        (t.parse_availability_topic, "clearline/s/xray/x1/state"),
        (t.parse_availability_topic, "clearline/s/xray/availability"),
        (t.parse_edge_event_topic, "clearline/s/hub/e1/event"),
        (t.parse_edge_event_topic, "clearline/s/edge/e1/events"),
        (t.parse_verdict_topic, "clearline/s/hub/sync"),
        (t.parse_sync_notice_topic, "clearline/s/edge/sync"),
        (t.parse_verdict_topic, "clearline/s/hub/verdict/extra"),
    ],
)
def test_other_parsers_refuse_foreign_topics(parse: object, topic: str) -> None:
    assert callable(parse)
    with pytest.raises(t.TopicError, match="not a Clearline"):
        parse(topic)


@pytest.mark.parametrize("bad", ["", "a/b", "a+", "#", "x\x00", " padded", "z" * 65])
def test_bad_segments_are_refused_with_the_field_named(bad: str) -> None:
    with pytest.raises(t.TopicError, match="device_id"):
        t.xray_image_topic("site", bad, 1)


def test_item_id_outside_u32_is_refused() -> None:
    with pytest.raises(t.TopicError, match="item_id"):
        t.xray_image_topic("s", "x", -1)
    with pytest.raises(t.TopicError, match="item_id"):
        t.xray_image_topic("s", "x", t.MAX_ITEM_ID + 1)


def test_topic_errors_are_value_errors() -> None:
    """Callers on both sides of a seam catch one standard type; contracts import nothing of ours."""
    assert issubclass(t.TopicError, ValueError)
    assert issubclass(m.AvailabilityError, ValueError)


def test_availability_payload() -> None:
    assert m.encode_availability(m.Availability.ONLINE) == b"online"
    assert m.decode_availability(b"offline") is m.Availability.OFFLINE
    assert m.decode_availability(b" Online\n") is m.Availability.ONLINE
    with pytest.raises(m.AvailabilityError, match="neither"):
        m.decode_availability(b"\xff\xfe maybe")


def test_huge_item_id_digits_are_refused_not_crashed() -> None:
    with pytest.raises(t.TopicError, match="decimal u32"):
        t.parse_xray_image_topic("clearline/s/xray/x/image/" + "9" * 5000)


#: Topic templates exactly as DESIGN §6 and §7 write them.
DESIGN_TEMPLATES = {
    "xray_image": "clearline/{site}/xray/{device_id}/image/{item_id}",
    "availability": "clearline/{site}/{kind}/{device_id}/availability",
    "edge_event": "clearline/{site}/edge/{edge_id}/event",
    "verdict": "clearline/{site}/hub/verdict",
}


def test_topics_follow_the_design_templates() -> None:
    """Each builder gives the DESIGN template filled in, and each parser reads it back."""
    v = {"site": "sz02", "device_id": "xr-7", "item_id": 4294967295, "kind": "scale"}
    v["edge_id"] = "line-3"
    xray = DESIGN_TEMPLATES["xray_image"].format(**v)
    assert t.xray_image_topic("sz02", "xr-7", 4294967295) == xray
    assert t.parse_xray_image_topic(xray) == t.XrayImageTopic("sz02", "xr-7", 4294967295)
    avail = DESIGN_TEMPLATES["availability"].format(**v)
    assert t.availability_topic("sz02", "scale", "xr-7") == avail
    assert t.parse_availability_topic(avail) == t.AvailabilityTopic("sz02", "scale", "xr-7")
    event = DESIGN_TEMPLATES["edge_event"].format(**v)
    assert t.edge_event_topic("sz02", "line-3") == event
    assert t.parse_edge_event_topic(event) == t.EdgeEventTopic("sz02", "line-3")
    verdict = DESIGN_TEMPLATES["verdict"].format(**v)
    assert t.verdict_topic("sz02") == verdict
    assert t.parse_verdict_topic(verdict) == "sz02"
