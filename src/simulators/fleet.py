"""A fleet of simulated edges: each publishes signed parcel events at a line's pace over MQTT.

Every edge has its own broker connection and signing key and sends, for each parcel, the
seven events a real edge sends (seen, code read, weighed, imaged, decided, diverted,
confirmed) at the rate of a sorting line. Publishing retries until the broker acknowledges,
as an edge's outbox does, so every event is sent at least once.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.events import EdgeEvent, EventKind
from contracts.topics import edge_event_topic
from devices.errors import DeviceUnavailable
from devices.mqtt_link import LinkSettings, MqttLink
from devices.signing import sign_event

logger = logging.getLogger(__name__)

#: Events one parcel pass produces.
EVENTS_PER_PARCEL = 7
#: How long one publish is retried before the fleet gives up on the broker, s.
PUBLISH_PATIENCE_S = 30.0
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def s10_code(serial: int, prefix: str = "RR", country: str = "CN") -> str:
    """A UPU S10 item code with its check digit for an 8-digit ``serial``."""
    digits = f"{serial % 100_000_000:08d}"
    check = 11 - sum(int(d) * w for d, w in zip(digits, _S10_WEIGHTS, strict=True)) % 11
    check = {10: 0, 11: 5}.get(check, check)
    return f"{prefix}{digits}{check}{country}"


def parcel_events(
    site: str, edge_id: str, item_id: int, at: datetime, rng: random.Random
) -> list[EdgeEvent]:
    """The events of one parcel pass starting at ``at`` (unsigned)."""
    code = s10_code(rng.randrange(100_000_000))
    chute = rng.randint(1, 8)
    steps: list[tuple[EventKind, float, dict[str, Any], str | None]] = [
        (EventKind.PARCEL_SEEN, 0.0, {"device_id": "plc1"}, None),
        (EventKind.CODE_READ, 0.4, {"device_id": "tunnel1", "status": "OK", "codes": [code]}, None),
        (
            EventKind.WEIGHED,
            0.9,
            {"device_id": "cw1", "weight_kg": round(rng.uniform(0.1, 5.0), 3), "stable": True},
            None,
        ),
        (EventKind.IMAGED, 1.5, {"device_id": "xr1", "prescreen": "clear"}, None),
        (
            EventKind.DECIDED,
            1.6,
            {
                "outcome": "RELEASE",
                "reasons": [],
                "rule_set_version": "fleet",
                "declaration_kind": None,
                "declaration_key": None,
                "chute": chute,
                "latency_ms": round(rng.uniform(1.0, 8.0), 2),
                "notes": [],
            },
            code,
        ),
        (EventKind.DIVERTED, 1.61, {"chute": chute, "reason": 0}, None),
        (EventKind.CONFIRMED, 6.0, {"chute": chute, "status": 0}, None),
    ]
    return [
        EdgeEvent(
            event_id=uuid.uuid4(),
            site=site,
            edge_id=edge_id,
            kind=kind,
            at=at + timedelta(seconds=offset),
            item_id=item_id,
            parcel_code=parcel_code,
            data=data,
        )
        for kind, offset, data, parcel_code in steps
    ]


@dataclass
class FleetReport:
    """What a fleet run sent: event ids per edge and the wall time it took."""

    sent: dict[str, list[uuid.UUID]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def events(self) -> int:
        """Events sent (and acknowledged by the broker)."""
        return sum(len(ids) for ids in self.sent.values())


class Fleet:
    """Simulated edges of ``site`` (one per key), each sending ``parcels_per_s`` parcels a s."""

    def __init__(
        self,
        url: str,
        site: str,
        keys: Mapping[str, Ed25519PrivateKey],
        *,
        parcels_per_s: float = 1.0,
        seed: int = 1,
    ) -> None:
        """Prepare the fleet; nothing connects before ``run``. ``parcels_per_s`` 0: no pause."""
        self.url = url
        self.site = site
        self.keys = dict(keys)
        self.parcels_per_s = parcels_per_s
        self.seed = seed
        self.stop = threading.Event()

    def run(self, parcels: int) -> FleetReport:
        """Send ``parcels`` parcels from every edge (or until ``stop`` is set); report them."""
        report = FleetReport(sent={edge: [] for edge in self.keys})
        started = time.monotonic()
        threads = [
            threading.Thread(
                target=self._edge, args=(n, edge, parcels, report.sent[edge]), daemon=True
            )
            for n, edge in enumerate(self.keys)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        report.seconds = time.monotonic() - started
        return report

    def _edge(self, n: int, edge_id: str, parcels: int, sent: list[uuid.UUID]) -> None:
        """One edge: connect, then send its parcels at the line's pace."""
        rng = random.Random(self.seed * 1000 + n)
        link = MqttLink(
            LinkSettings(url=self.url, site=self.site, kind="edge", device_id=edge_id)
        ).start()
        try:
            link.wait_connected(PUBLISH_PATIENCE_S)
            topic = edge_event_topic(self.site, edge_id)
            began = time.monotonic()
            for item in range(1, parcels + 1):
                if self.stop.is_set():
                    return
                if self.parcels_per_s > 0:
                    wait = began + (item - 1) / self.parcels_per_s - time.monotonic()
                    if wait > 0 and self.stop.wait(wait):
                        return
                for event in parcel_events(self.site, edge_id, item, datetime.now(UTC), rng):
                    signed = sign_event(self.keys[edge_id], event)
                    publish_until_acked(link, topic, signed.model_dump_json().encode())
                    sent.append(event.event_id)
        except DeviceUnavailable as err:
            logger.error("fleet edge %s stopped: %s", edge_id, err)
        finally:
            link.stop()


def publish_until_acked(link: MqttLink, topic: str, payload: bytes) -> None:
    """Publish at QoS 1, retrying like an edge outbox until the broker acknowledges."""
    deadline = time.monotonic() + PUBLISH_PATIENCE_S
    while True:
        try:
            link.publish(topic, payload, qos=1, timeout_s=2)
            return
        except DeviceUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
