"""Hub event ingest, MQTT → spool → database, beside a bare ``executemany`` of the same rows.

Measured twice: with every event signed by its enrolled edge and checked by the hub (the
production path), and unsigned without the check, so the cost of the signatures shows.
"""

from __future__ import annotations

import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.engine import Engine

from clearline.bench.core import BenchContext, BenchResult
from contracts.events import EdgeEvent, EventKind
from contracts.topics import edge_event_topic
from devices.mqtt_link import LinkSettings, MqttLink
from devices.signing import generate_key, public_text, sign_event
from hub.db.engine import make_engine
from hub.db.event_models import EVENT, create_event_tables
from hub.db.trust_models import EDGE_REGISTRY, TRUST_ALARM
from hub.ingest.events import IngestReport, validate_batch
from hub.ingest.mqtt import IngestSettings, MqttIngest
from hub.ingest.spool import EventSpool
from hub.ingest.trust import EventTrust
from simulators.broker import MOSQUITTO_HOST, MOSQUITTO_PORT, EmbeddedBroker

TARGET_EVENTS_PER_S = 2000.0
DUPLICATE_SHARE = 0.2
_T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
_WAIT_S = 120.0
#: Most events the publisher runs ahead of the hub (Mosquitto queues 1000 per subscriber).
WINDOW = 800


def _story(site: str, item_id: int, start_s: float) -> list[EdgeEvent]:
    """The seven events of one parcel pass."""
    code = f"YT{item_id:012d}"
    data: list[tuple[EventKind, dict[str, Any]]] = [
        (EventKind.PARCEL_SEEN, {"device_id": "plc1"}),
        (EventKind.CODE_READ, {"device_id": "tunnel1", "status": "OK", "codes": [code]}),
        (EventKind.WEIGHED, {"device_id": "cw1", "weight_kg": 1.234, "stable": True}),
        (EventKind.IMAGED, {"device_id": "xr1", "prescreen": "clear"}),
        (
            EventKind.DECIDED,
            {
                "outcome": "RELEASE",
                "reasons": [],
                "rule_set_version": "bench",
                "chute": 1,
                "latency_ms": 0.2,
            },
        ),
        (EventKind.DIVERTED, {"chute": 1, "reason": 0}),
        (EventKind.CONFIRMED, {"chute": 1, "status": 0}),
    ]
    return [
        EdgeEvent(
            event_id=uuid.uuid4(),
            site=site,
            edge_id="e1",
            kind=kind,
            at=_T0 + timedelta(seconds=start_s + i * 0.3),
            item_id=item_id,
            parcel_code=code if kind is EventKind.DECIDED else None,
            data=payload,
        )
        for i, (kind, payload) in enumerate(data)
    ]


def _messages(
    site: str, total: int, rng: random.Random, key: Ed25519PrivateKey | None = None
) -> tuple[list[EdgeEvent], list[bytes]]:
    """Unique events and the payload stream: each duplicate follows its original later on.

    With ``key``, every event is signed with it, as the edge's outbox does.
    """
    unique_count = total - int(total * DUPLICATE_SHARE)
    events: list[EdgeEvent] = []
    item = 1
    while len(events) < unique_count:
        events.extend(_story(site, item, item * 0.1))
        item += 1
    events = events[:unique_count]
    if key is not None:
        events = [sign_event(key, e) for e in events]
    payloads = [e.model_dump_json().encode() for e in events]
    stream = list(payloads)
    for _ in range(total - unique_count):
        k = rng.randrange(len(payloads))
        stream.insert(rng.randrange(k + 1, len(stream) + 1), payloads[k])
    return events, stream


def _mosquitto_reachable() -> bool:
    """True when the real Mosquitto accepts TCP on its usual port."""
    try:
        with socket.create_connection((MOSQUITTO_HOST, MOSQUITTO_PORT), timeout=0.5):
            return True
    except OSError:
        return False


def _accounted(ingest: MqttIngest) -> int:
    """Events the hub has stored, found duplicate or refused so far."""
    return ingest.stored + ingest.duplicates + ingest.rejected


def _caught_up(need: int) -> Callable[[MqttIngest], bool]:
    """A predicate: the hub has accounted for at least ``need`` events."""
    return lambda ingest: _accounted(ingest) >= need


def _publish_all(
    host: str,
    port: int,
    topic: str,
    stream: list[bytes],
    *,
    ingest: MqttIngest | None = None,
    base: int = 0,
) -> float:
    """Publish every payload QoS 1, pipelined; return seconds until the last PUBACK.

    With ``ingest``, stay at most WINDOW events ahead of what the hub has accounted for
    (``base`` = its count before the stream), as an edge outbox with bounded lead would.
    """
    acked = threading.Event()
    pending = {"left": len(stream)}
    lock = threading.Lock()

    def on_publish(*_args: Any) -> None:
        with lock:
            pending["left"] -= 1
            if pending["left"] == 0:
                acked.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-edge-{uuid.uuid4().hex[:6]}"
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect(host, port)
    client.loop_start()
    try:
        t0 = time.perf_counter()
        for sent, payload in enumerate(stream):
            if (
                ingest is not None
                and sent - (_accounted(ingest) - base) > WINDOW
                and not ingest.wait_for(_caught_up(base + sent - WINDOW // 2), _WAIT_S)
            ):
                raise TimeoutError("the hub stopped taking events")
            client.publish(topic, payload, qos=1)
        if not acked.wait(_WAIT_S):
            raise TimeoutError("the broker did not acknowledge every event")
        return time.perf_counter() - t0
    finally:
        client.disconnect()
        client.loop_stop()


def _floor(ctx: BenchContext, events: list[EdgeEvent]) -> float:
    """Bare executemany of the same (unique) rows into an empty event table; rows/s."""
    engine = make_engine(f"sqlite:///{ctx.workdir / 'floor.db'}")
    create_event_tables(engine)
    rows = validate_batch(events, datetime.now(UTC), IngestReport())
    try:
        t0 = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(EVENT.insert(), rows)
        return len(rows) / (time.perf_counter() - t0)
    finally:
        engine.dispose()


def _wait_subscribed(
    host: str, port: int, site: str, ingest: MqttIngest, key: Ed25519PrivateKey | None
) -> None:
    """Publish one probe event until the hub has stored it: its subscription is live."""
    probe = EdgeEvent(
        event_id=uuid.uuid4(),
        site=site,
        edge_id="e1",
        kind=EventKind.ALARM,
        at=_T0,
        data={"alarm": "bench_probe"},
    )
    if key is not None:
        probe = sign_event(key, probe)
    payload = probe.model_dump_json().encode()
    deadline = time.monotonic() + _WAIT_S
    while not ingest.wait_for(lambda i: i.stored >= 1, 0.2):
        if time.monotonic() > deadline:
            raise TimeoutError("the hub never received the probe event")
        _publish_all(host, port, edge_event_topic(site, "e1"), [payload])


def _enrol(engine: Engine, site: str, key: Ed25519PrivateKey) -> None:
    """Create the trust tables and enrol edge ``e1`` with ``key``."""
    EDGE_REGISTRY.create(engine, checkfirst=True)
    TRUST_ALARM.create(engine, checkfirst=True)
    with engine.begin() as conn:
        conn.execute(
            EDGE_REGISTRY.insert().values(
                edge_id="e1",
                site=site,
                public_key=public_text(key),
                broker_user="edge-e1",
                broker_hash="-",
                devices="",
                enrolled_at=datetime.now(UTC),
            )
        )


def run(ctx: BenchContext) -> list[BenchResult]:
    """Event ingest with signatures checked, then without; events/s accounted each time."""
    signed = _measure(ctx, signed=True)
    unsigned = _measure(ctx, signed=False)
    signed.details["unsigned_events_per_s"] = unsigned.value
    unsigned.details["signed_events_per_s"] = signed.value
    return [signed, unsigned]


def _measure(ctx: BenchContext, *, signed: bool) -> BenchResult:
    """Publish N events (20 % duplicates) through a broker into the hub; events/s accounted."""
    total = ctx.n(20_000, minimum=700)
    site = f"bench{uuid.uuid4().hex[:6]}"
    key = generate_key() if signed else None
    events, stream = _messages(site, total, random.Random(17), key)
    use_mosquitto = _mosquitto_reachable()
    broker = None if use_mosquitto else EmbeddedBroker().start()
    host, port = (MOSQUITTO_HOST, MOSQUITTO_PORT) if broker is None else (broker.host, broker.port)
    tag = "signed" if signed else "unsigned"
    engine = make_engine(f"sqlite:///{ctx.workdir / f'hub-events-{tag}.db'}")
    create_event_tables(engine)
    trust = None
    if key is not None:
        _enrol(engine, site, key)
        trust = EventTrust(engine)
    spool = EventSpool(ctx.workdir / f"event-spool-{tag}.db")
    link = MqttLink(
        LinkSettings(url=f"mqtt://{host}:{port}", site=site, kind="hub", device_id="bench-hub")
    )
    ingest = MqttIngest(
        engine, link, spool, site, settings=IngestSettings(batch_size=1000), trust=trust
    )
    try:
        link.start().wait_connected(10)
        ingest.start()
        _wait_subscribed(host, port, site, ingest, key)
        ctx.progress(f"event_ingest: publishing {total:,} events via {host}:{port}")
        t0 = time.perf_counter()
        probes = _accounted(ingest)
        topic = edge_event_topic(site, "e1")
        publish_s = _publish_all(host, port, topic, stream, ingest=ingest, base=probes)
        done = ingest.wait_for(lambda i: _accounted(i) >= total + probes, _WAIT_S)
        elapsed = time.perf_counter() - t0
        counts = ingest.counts()
    finally:
        ingest.stop()
        link.stop()
        spool.close()
        engine.dispose()
        if broker is not None:
            broker.stop()
    rate = total / elapsed
    floor = _floor(ctx, events)
    counts["stored"] -= 1  # the probe
    counts["duplicates"] -= probes - 1
    exact = done and counts["stored"] == len(events) and counts["rejected"] == 0
    return BenchResult(
        name="event_ingest_events_per_s" if signed else "event_ingest_unsigned_events_per_s",
        value=round(rate, 1),
        unit="events/s",
        floor_name="bare executemany of the same rows (SQLite)",
        floor_value=round(floor, 1),
        target=f">= {TARGET_EVENTS_PER_S:.0f}",
        meets_target=exact and rate >= TARGET_EVENTS_PER_S,
        details={
            "signatures": "Ed25519, checked per event" if signed else "off",
            "untrusted": counts["untrusted"],
            "broker": "mosquitto 127.0.0.1:1883" if use_mosquitto else "embedded amqtt",
            "database": "sqlite (WAL)",
            "events_sent": total,
            "unique_events": len(events),
            "stored": counts["stored"],
            "duplicates_seen": counts["duplicates"],
            "rejected": counts["rejected"],
            "all_accounted": done,
            "stored_exactly_once": exact,
            "publish_seconds": round(publish_s, 3),
            "publisher_window": WINDOW,
            "seconds": round(elapsed, 3),
        },
    )
