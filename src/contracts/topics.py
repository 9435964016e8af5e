"""Every Clearline MQTT topic, built and parsed in one place (DESIGN §6, §7)."""

from __future__ import annotations

from dataclasses import dataclass

#: First level of every Clearline topic.
ROOT = "clearline"

#: Largest item_id a topic may carry (the PLC numbers items as u32).
MAX_ITEM_ID = 0xFFFF_FFFF

_FORBIDDEN = frozenset("/+#\x00")
_MAX_SEGMENT = 64


class TopicError(ValueError):
    """A topic or topic segment is not one Clearline speaks."""


@dataclass(frozen=True, slots=True)
class XrayImageTopic:
    """Parts of ``clearline/{site}/xray/{device_id}/image/{item_id}``."""

    site: str
    device_id: str
    item_id: int


@dataclass(frozen=True, slots=True)
class AvailabilityTopic:
    """Parts of ``clearline/{site}/{kind}/{device_id}/availability``."""

    site: str
    kind: str
    device_id: str


@dataclass(frozen=True, slots=True)
class EdgeEventTopic:
    """Parts of ``clearline/{site}/edge/{edge_id}/event``."""

    site: str
    edge_id: str


def check_segment(value: str, what: str) -> str:
    """Return ``value`` if it can be one topic level, else raise TopicError naming ``what``."""
    if not value:
        raise TopicError(f"{what} must not be empty")
    if len(value) > _MAX_SEGMENT:
        raise TopicError(f"{what} {value[:16]!r}... is longer than {_MAX_SEGMENT} characters")
    bad = sorted(set(value) & _FORBIDDEN)
    if bad:
        raise TopicError(f"{what} {value!r} contains forbidden characters {bad!r}")
    if value != value.strip():
        raise TopicError(f"{what} {value!r} has leading or trailing whitespace")
    return value


def _check_item_id(item_id: int) -> int:
    """Return ``item_id`` if it fits the PLC's u32 numbering."""
    if isinstance(item_id, bool) or not 0 <= item_id <= MAX_ITEM_ID:
        raise TopicError(f"item_id {item_id!r} is outside 0..{MAX_ITEM_ID}")
    return item_id


def _split(topic: str, levels: int, what: str) -> list[str]:
    """Split ``topic`` into exactly ``levels`` levels under ROOT, or raise TopicError."""
    parts = topic.split("/")
    if len(parts) != levels or parts[0] != ROOT:
        raise TopicError(f"topic {topic!r} is not a Clearline {what} topic")
    return parts


# --- X-ray images ---------------------------------------------------------------------------


def xray_image_topic(site: str, device_id: str, item_id: int) -> str:
    """Topic an X-ray machine publishes the image of ``item_id`` to."""
    check_segment(site, "site")
    check_segment(device_id, "device_id")
    return f"{ROOT}/{site}/xray/{device_id}/image/{_check_item_id(item_id)}"


def xray_image_filter(site: str, device_id: str = "+") -> str:
    """Subscription filter for the images of one X-ray machine (``+``: every machine)."""
    check_segment(site, "site")
    if device_id != "+":
        check_segment(device_id, "device_id")
    return f"{ROOT}/{site}/xray/{device_id}/image/+"


def parse_xray_image_topic(topic: str) -> XrayImageTopic:
    """Parse an X-ray image topic; raise TopicError naming the part that is wrong."""
    parts = _split(topic, 6, "X-ray image")
    _, site, kind, device_id, leaf, raw_item = parts
    if kind != "xray" or leaf != "image":
        raise TopicError(f"topic {topic!r} is not a Clearline X-ray image topic")
    check_segment(site, "site")
    check_segment(device_id, "device_id")
    if not raw_item.isascii() or not raw_item.isdigit() or len(raw_item) > 10:
        raise TopicError(f"topic {topic!r}: item_id {raw_item!r} is not a decimal u32")
    if int(raw_item) > MAX_ITEM_ID:
        raise TopicError(f"topic {topic!r}: item_id {raw_item!r} is not a decimal u32")
    return XrayImageTopic(site, device_id, int(raw_item))


# --- availability ---------------------------------------------------------------------------


def availability_topic(site: str, kind: str, device_id: str) -> str:
    """Retained ``online``/``offline`` topic of a device, an edge or the hub."""
    check_segment(site, "site")
    check_segment(kind, "kind")
    check_segment(device_id, "device_id")
    return f"{ROOT}/{site}/{kind}/{device_id}/availability"


def availability_filter(site: str) -> str:
    """Subscription filter for the availability of everything on a site."""
    check_segment(site, "site")
    return f"{ROOT}/{site}/+/+/availability"


def parse_availability_topic(topic: str) -> AvailabilityTopic:
    """Parse an availability topic; raise TopicError on any other topic."""
    _, site, kind, device_id, leaf = _split(topic, 5, "availability")
    if leaf != "availability":
        raise TopicError(f"topic {topic!r} is not a Clearline availability topic")
    return AvailabilityTopic(
        check_segment(site, "site"), check_segment(kind, "kind"), check_segment(device_id, "id")
    )


# --- edge <-> hub ---------------------------------------------------------------------------


def edge_event_topic(site: str, edge_id: str) -> str:
    """Topic an edge publishes its outbox events to (QoS 1, not retained)."""
    check_segment(site, "site")
    check_segment(edge_id, "edge_id")
    return f"{ROOT}/{site}/edge/{edge_id}/event"


def edge_event_filter(site: str) -> str:
    """Subscription filter for the events of every edge of a site."""
    check_segment(site, "site")
    return f"{ROOT}/{site}/edge/+/event"


def parse_edge_event_topic(topic: str) -> EdgeEventTopic:
    """Parse an edge event topic; raise TopicError on any other topic."""
    _, site, kind, edge_id, leaf = _split(topic, 5, "edge event")
    if kind != "edge" or leaf != "event":
        raise TopicError(f"topic {topic!r} is not a Clearline edge event topic")
    return EdgeEventTopic(check_segment(site, "site"), check_segment(edge_id, "edge_id"))


def verdict_topic(site: str) -> str:
    """Topic the hub publishes inspector verdicts to (QoS 1)."""
    check_segment(site, "site")
    return f"{ROOT}/{site}/hub/verdict"


def sync_notice_topic(site: str) -> str:
    """Topic the hub pokes when declarations, receipts or rules changed (QoS 1)."""
    check_segment(site, "site")
    return f"{ROOT}/{site}/hub/sync"


def _parse_hub_topic(topic: str, leaf: str, what: str) -> str:
    """Return the site of ``clearline/{site}/hub/{leaf}`` or raise TopicError."""
    _, site, kind, got = _split(topic, 4, what)
    if kind != "hub" or got != leaf:
        raise TopicError(f"topic {topic!r} is not a Clearline {what} topic")
    return check_segment(site, "site")


def parse_verdict_topic(topic: str) -> str:
    """Return the site of a verdict topic; raise TopicError on any other topic."""
    return _parse_hub_topic(topic, "verdict", "verdict")


def parse_sync_notice_topic(topic: str) -> str:
    """Return the site of a sync-notice topic; raise TopicError on any other topic."""
    return _parse_hub_topic(topic, "sync", "sync notice")
