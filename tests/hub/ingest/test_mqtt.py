"""MQTT ingest against the embedded broker and the real Mosquitto: once, spooled, restarts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from contracts.events import EdgeEvent, EventKind, VerdictKind
from contracts.messages import SyncNotice, Verdict
from contracts.topics import edge_event_topic, sync_notice_topic, verdict_topic
from devices.errors import DeviceUnavailable
from devices.mqtt_link import LinkSettings, Message, MqttLink
from hub.db.engine import make_engine
from hub.db.event_models import EVENT, create_event_tables
from hub.ingest.mqtt import IngestSettings, MqttIngest
from hub.ingest.spool import EventSpool
from simulators.broker import BrokerEndpoint, EmbeddedBroker, open_broker
from tests.conftest import require_service
from tests.hub.helpers_events import make_event, parcel_story
from tests.hub.waits import poke_until, until

WAIT_S = 15.0
FAST = IngestSettings(batch_size=50, linger_ms=5, retry_min_s=0.05, retry_max_s=0.2)


def _link(url: str, site: str, kind: str, device_id: str) -> MqttLink:
    return MqttLink(
        LinkSettings(url=url, site=site, kind=kind, device_id=device_id, reconnect_max_s=1)
    )


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(EVENT)).scalar_one())


def _publish(link: MqttLink, event: EdgeEvent) -> None:
    """Publish like an edge outbox: retry until the broker acknowledges."""
    deadline = time.monotonic() + WAIT_S
    topic = edge_event_topic(event.site, event.edge_id)
    while True:
        try:
            link.publish(topic, event.model_dump_json().encode(), qos=1, timeout_s=2)
            return
        except DeviceUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _probe_until_stored(edge: MqttLink, ingest: MqttIngest, site: str) -> None:
    """Publish one probe event again and again until the hub has stored it (subscription live)."""
    probe = make_event(EventKind.ALARM, {"alarm": "probe"}, site=site, item_id=None)
    before = ingest.stored
    poke_until(lambda: _publish(edge, probe), lambda: ingest.stored > before, "the probe event")


@pytest.fixture
def site() -> str:
    """A site id unique to the test."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def hub_engine(tmp_path: Path) -> Iterator[Engine]:
    """A hub database in a SQLite file."""
    eng = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    create_event_tables(eng)
    yield eng
    eng.dispose()


@pytest.fixture(params=["embedded", "mosquitto"])
def broker(request: pytest.FixtureRequest) -> Iterator[BrokerEndpoint]:
    """A fresh embedded broker, or the real Mosquitto."""
    if request.param == "mosquitto":
        require_service("Mosquitto", "127.0.0.1", 1883)
    with open_broker(request.param) as endpoint:
        yield endpoint


def test_events_published_twice_are_stored_once(
    broker: BrokerEndpoint, site: str, hub_engine: Engine, tmp_path: Path
) -> None:
    """Every event arrives twice (QoS 1 redelivery, outbox replay); the hub keeps one copy."""
    events = parcel_story(1, "RR123456785CN", site=site) + parcel_story(
        2, "RR000000004CN", site=site, edge_id="e2"
    )
    spool = EventSpool(tmp_path / "spool.db")
    hub = _link(broker.url, site, "hub", "hub")
    edge = _link(broker.url, site, "edge", "e1")
    ingest = MqttIngest(hub_engine, hub, spool, site, settings=FAST)
    try:
        hub.start().wait_connected(WAIT_S)
        ingest.start()
        edge.start().wait_connected(WAIT_S)
        _probe_until_stored(edge, ingest, site)
        for event in events + events:
            _publish(edge, event)
        assert ingest.wait_for(lambda i: i.stored == len(events) + 1, WAIT_S)
        # The second copies may still be in flight when the first ones are stored.
        assert ingest.wait_for(lambda i: i.duplicates >= len(events), WAIT_S)
        assert ingest.wait_for(lambda i: len(i.spool) == 0, WAIT_S)
        assert _stored(hub_engine) == len(events) + 1
        assert ingest.stored == len(events) + 1
    finally:
        ingest.stop()
        edge.stop()
        hub.stop()
        spool.close()


def test_broker_restart_and_database_outage_lose_nothing(
    site: str, hub_engine: Engine, tmp_path: Path
) -> None:
    """Spooled events survive a broker restart during a database outage; all stored once."""
    first = parcel_story(1, "RR123456785CN", site=site)
    second = parcel_story(2, "RR000000004CN", site=site, start_s=3)
    spool = EventSpool(tmp_path / "spool.db")
    with EmbeddedBroker() as broker:
        hub = _link(broker.url, site, "hub", "hub")
        edge = _link(broker.url, site, "edge", "e1")
        ingest = MqttIngest(hub_engine, hub, spool, site, settings=FAST)
        try:
            hub.start().wait_connected(WAIT_S)
            ingest.start()
            edge.start().wait_connected(WAIT_S)
            _probe_until_stored(edge, ingest, site)
            with hub_engine.begin() as conn:  # the database goes away
                conn.execute(text("ALTER TABLE event RENAME TO event_away"))
            for event in first:
                _publish(edge, event)
            until(lambda: len(spool) == len(first) and ingest.db_failures > 0, "spooling")
            broker.restart()
            until(lambda: hub.connected and edge.connected, "reconnects")
            for event in second:
                _publish(edge, event)
            until(lambda: len(spool) >= len(first) + len(second), "second batch spooled")
            assert _stored_away(hub_engine) == 1  # only the probe so far
            with hub_engine.begin() as conn:  # the database comes back
                conn.execute(text("ALTER TABLE event_away RENAME TO event"))
            assert ingest.wait_for(lambda i: len(i.spool) == 0, WAIT_S)
            assert _stored(hub_engine) == 1 + len(first) + len(second)
        finally:
            ingest.stop()
            edge.stop()
            hub.stop()
            spool.close()


def _stored_away(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM event_away")).scalar_one())


def test_spooled_events_are_stored_by_the_next_run(
    site: str, hub_engine: Engine, tmp_path: Path
) -> None:
    """Events spooled when the hub stopped are stored when it starts again."""
    path = tmp_path / "spool.db"
    spool = EventSpool(path)
    events = parcel_story(3, "RR123456785CN", site=site)
    for event in events:
        spool.put(edge_event_topic(site, "e1"), event.model_dump_json().encode())
    spool.close()
    spool = EventSpool(path)
    with EmbeddedBroker() as broker:
        hub = _link(broker.url, site, "hub", "hub")
        ingest = MqttIngest(hub_engine, hub, spool, site, settings=FAST)
        try:
            ingest.start()  # stores the spool even before the broker is reachable
            assert ingest.wait_for(lambda i: i.stored == len(events), WAIT_S)
        finally:
            ingest.stop()
            hub.stop()
            spool.close()
    assert _stored(hub_engine) == len(events)


def test_bad_messages_are_refused_and_counted(
    site: str, hub_engine: Engine, tmp_path: Path
) -> None:
    """A payload naming another edge than its topic, or not an event, is refused."""
    spool = EventSpool(tmp_path / "spool.db")
    with EmbeddedBroker() as broker:
        hub = _link(broker.url, site, "hub", "hub")
        edge = _link(broker.url, site, "edge", "e1")
        ingest = MqttIngest(hub_engine, hub, spool, site, settings=FAST)
        try:
            hub.start().wait_connected(WAIT_S)
            ingest.start()
            edge.start().wait_connected(WAIT_S)
            _probe_until_stored(edge, ingest, site)
            spoofed = make_event(EventKind.PARCEL_SEEN, site=site, edge_id="e9")
            edge.publish(edge_event_topic(site, "e1"), spoofed.model_dump_json().encode())
            edge.publish(edge_event_topic(site, "e1"), b"\xff\x00 not json")
            assert ingest.wait_for(lambda i: i.rejected == 2, WAIT_S)
            assert _stored(hub_engine) == 1
        finally:
            ingest.stop()
            edge.stop()
            hub.stop()
            spool.close()


def test_sync_notice_and_verdict_are_published(
    broker: BrokerEndpoint, site: str, hub_engine: Engine, tmp_path: Path
) -> None:
    """The hub pokes edges with a SyncNotice and sends verdicts down, QoS 1."""
    got: list[Message] = []
    spool = EventSpool(tmp_path / "spool.db")
    hub = _link(broker.url, site, "hub", "hub")
    edge = _link(broker.url, site, "edge", "e1")
    edge.subscribe(sync_notice_topic(site), got.append)
    edge.subscribe(verdict_topic(site), got.append)
    ingest = MqttIngest(hub_engine, hub, spool, site, settings=FAST)
    try:
        edge.start().wait_connected(WAIT_S)
        hub.start().wait_connected(WAIT_S)
        ingest.start()
        poke_until(  # until the edge's subscriptions are live at the broker
            lambda: ingest.notify_sync("c-41"), lambda: bool(got), "a sync notice", every_s=0.2
        )
        got.clear()
        notice = ingest.notify_sync("c-42")
        verdict = Verdict(
            verdict_id=uuid.uuid4(),
            site=site,
            parcel_code="RR123456785CN",
            verdict=VerdictKind.SUSPECT,
            inspector="insp1",
            at=datetime(2026, 11, 22, 9, 0, tzinfo=UTC),
        )
        ingest.publish_verdict(verdict)
        until(lambda: any(m.topic == verdict_topic(site) for m in got), "the verdict")
        notices = [
            SyncNotice.model_validate_json(m.payload)
            for m in got
            if m.topic == sync_notice_topic(site)
        ]
        assert notice in notices
        verdicts = [m.payload for m in got if m.topic == verdict_topic(site)]
        assert [Verdict.model_validate_json(v) for v in verdicts] == [verdict]
    finally:
        ingest.stop()
        edge.stop()
        hub.stop()
        spool.close()
