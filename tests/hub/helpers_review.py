"""Builders for the review-station tests: simulator images and parcel passes near the hub clock."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from contracts.events import EdgeEvent, EventKind
from devices.xray_image import encode_png
from hub.ingest.events import ingest
from hub.ingest.xray_store import StoredImage, XrayStore, store_image
from simulators.xray.contents import ContentItem, ItemKind, ParcelContents
from simulators.xray.generator import GeneratorConfig, XrayGenerator
from tests.hub.helpers_events import T0, make_event

#: The hub test clock starts here (T0 + 1 h, as the ``hub`` fixture sets it).
NOW = T0 + timedelta(hours=1)

_CONTENTS = {
    # a phone-sized battery: flagged, not an alarm → PENDING (an inspector must look)
    "battery": (
        ContentItem(kind=ItemKind.ELECTRONICS, cells=2),
        ContentItem(kind=ItemKind.TEXTILES),
    ),
    # a blade: BLADE alarm → SUSPECT
    "blade": (ContentItem(kind=ItemKind.BLADE), ContentItem(kind=ItemKind.TEXTILES)),
    # clothes only: cleared automatically, never queued
    "textiles": (ContentItem(kind=ItemKind.TEXTILES, count=2),),
}


@functools.cache
def sample_png(kind: str, seed: int = 1, width: int = 320, height: int = 240) -> bytes:
    """A simulator image (stacked 16-bit PNG) of one of the sample parcels."""
    gen = _generator(width, height)
    return encode_png(gen.render(ParcelContents(items=_CONTENTS[kind]), seed).image)


@functools.cache
def _generator(width: int, height: int) -> XrayGenerator:
    return XrayGenerator(GeneratorConfig(width_px=width, height_px=height, variants=1))


def at(seconds: float) -> datetime:
    """NOW plus ``seconds``."""
    return NOW + timedelta(seconds=seconds)


def seen(item_id: int, code: str | None, at_s: float, edge_id: str = "e1") -> list[EdgeEvent]:
    """A parcel inducted ``at_s`` s after NOW and, with a code, read by the tunnel."""
    base = 3600.0 + at_s
    events = [
        make_event(
            EventKind.PARCEL_SEEN,
            {"device_id": "plc1"},
            item_id=item_id,
            edge_id=edge_id,
            at_s=base,
        )
    ]
    if code is not None:
        events.append(
            make_event(
                EventKind.CODE_READ,
                {"device_id": "tunnel1", "status": "OK", "codes": [f"]C1{code}"]},
                item_id=item_id,
                edge_id=edge_id,
                at_s=base + 0.3,
            )
        )
    return events


def decided(
    item_id: int,
    code: str,
    at_s: float,
    *,
    outcome: str,
    reasons: tuple[str, ...],
    deadline_ms: int | None = None,
    edge_id: str = "e1",
) -> EdgeEvent:
    """The edge's decision for an item ``at_s`` s after NOW."""
    data: dict[str, Any] = {
        "outcome": outcome,
        "reasons": list(reasons),
        "rule_set_version": "2026.11-1",
        "chute": 4,
        "latency_ms": 2.0,
        "notes": [],
    }
    if deadline_ms is not None:
        data["deadline_ms"] = deadline_ms
    return make_event(
        EventKind.DECIDED,
        data,
        item_id=item_id,
        edge_id=edge_id,
        parcel_code=code,
        at_s=3600.0 + at_s,
    )


def requested(item_id: int, at_s: float, deadline_ms: int, edge_id: str = "e1") -> EdgeEvent:
    """The PLC's request for an item ``at_s`` s after NOW, which the edge holds to wait."""
    return make_event(
        EventKind.REQUESTED,
        {"deadline_ms": deadline_ms},
        item_id=item_id,
        edge_id=edge_id,
        at_s=3600.0 + at_s,
    )


def feed(engine: Engine, events: list[EdgeEvent]) -> None:
    """Store edge events through the hub's ingest."""
    report = ingest(engine, events)
    assert not report.rejected, report.rejected


def put_image(
    engine: Engine, store: XrayStore, item_id: int, kind: str, at_s: float, *, seed: int = 1
) -> StoredImage:
    """Store a sample image of ``item_id`` as received ``at_s`` s after NOW (site s1)."""
    return store_image(
        engine,
        store,
        site="s1",
        device_id="xr1",
        item_id=item_id,
        png=sample_png(kind, seed),
        received_at=at(at_s),
    )
