"""Shared ingest: several hub processes take a site's events from one $share group, once each."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from contracts.events import EventKind
from devices.mqtt_link import LinkSettings, MqttLink, _plain
from hub.db.engine import StoreError, make_engine
from hub.db.event_models import EVENT, create_event_tables
from hub.ingest.mqtt import IngestSettings, start_hub_mqtt
from hub.ingest.spool import EventSpool, claim_slot, spool_slot
from hub.settings import HubSettings
from tests.conftest import require_service
from tests.hub.helpers_events import make_event, parcel_story
from tests.hub.ingest.test_mqtt import _publish
from tests.hub.waits import poke_until

MOSQUITTO = "mqtt://127.0.0.1:1883"
WAIT_S = 20.0
FAST = IngestSettings(batch_size=50, linger_ms=5, retry_min_s=0.05, retry_max_s=0.2)


@pytest.fixture
def hub_engine(tmp_path: Path) -> Iterator[Engine]:
    """A hub database in a SQLite file both ingests write to."""
    eng = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    create_event_tables(eng)
    yield eng
    eng.dispose()


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(EVENT)).scalar_one())


def test_spool_slots_are_taken_in_turn_and_reused(tmp_path: Path) -> None:
    """Two processes get two slots; a slot freed by a stopped one is the next one taken."""
    first = claim_slot(tmp_path)
    second = claim_slot(tmp_path)
    assert (spool_slot(first), spool_slot(second)) == ("0", "1")
    first.put("t", b"left behind")
    first.close()
    again = claim_slot(tmp_path)
    try:
        assert spool_slot(again) == "0"
        assert [p for _, _, p in again.take(5)] == [b"left behind"]
        with pytest.raises(StoreError, match="in use by another hub"):
            EventSpool(tmp_path / "event-spool-1.db")
        with pytest.raises(StoreError, match="all 2 event spool slots"):
            claim_slot(tmp_path, most=2)
    finally:
        again.close()
        second.close()


def test_shared_filters_match_their_topics() -> None:
    """A $share subscription's handler hears the topics of its plain filter only."""
    assert _plain("$share/hubs/clearline/s1/edge/+/event") == "clearline/s1/edge/+/event"
    assert paho.topic_matches_sub(
        _plain("$share/hubs/clearline/s1/edge/+/event"), "clearline/s1/edge/e7/event"
    )
    assert _plain("clearline/s1/#") == "clearline/s1/#"


def test_share_group_setting_is_checked() -> None:
    """The group must be one plain topic level; empty means a plain subscription."""
    assert HubSettings().mqtt_share_group == ""
    with pytest.raises(ValueError):
        HubSettings(mqtt_share_group="a/b")


def test_two_hubs_in_a_share_group_store_each_event_once(
    hub_engine: Engine, tmp_path: Path
) -> None:
    """Mosquitto hands each event to one member of the group; both work, none stored twice."""
    require_service("Mosquitto", "127.0.0.1", 1883)
    site = f"t{uuid.uuid4().hex[:12]}"
    group = f"g{uuid.uuid4().hex[:8]}"
    spool = tmp_path / "spool" / "event-spool.db"
    hubs = [
        start_hub_mqtt(
            hub_engine,
            url=MOSQUITTO,
            site=site,
            spool_path=spool,
            settings=FAST,
            share_group=group,
        )
        for _ in range(2)
    ]
    edge = MqttLink(LinkSettings(url=MOSQUITTO, site=site, kind="edge", device_id="e1"))
    try:
        assert {h.topic_filter for h in hubs} == {f"$share/{group}/clearline/{site}/edge/+/event"}
        assert len({h.link.client_id for h in hubs}) == 2
        edge.start().wait_connected(WAIT_S)

        def probe() -> None:
            _publish(edge, make_event(EventKind.ALARM, {"alarm": "probe"}, site=site))

        poke_until(probe, lambda: all(h.stored > 0 for h in hubs), "both members", WAIT_S)
        probes = sum(h.stored for h in hubs)
        events = [e for n in range(12) for e in parcel_story(n + 1, "RR123456785CN", site=site)]
        for event in events:
            _publish(edge, event)
        total = probes + len(events)
        assert hubs[0].wait_for(lambda _: sum(h.stored for h in hubs) >= total, WAIT_S)
        assert sum(h.stored for h in hubs) == total
        assert sum(h.duplicates for h in hubs) == 0  # each event reached one member only
        assert _stored(hub_engine) == total
        # a member stopped cleanly leaves the group: the other one now gets every event
        hubs[1].stop()
        before = hubs[0].stored
        more = [e for n in range(3) for e in parcel_story(n + 50, "RR000000004CN", site=site)]
        for event in more:
            _publish(edge, event)
        assert hubs[0].wait_for(lambda h: h.stored >= before + len(more), WAIT_S)
        assert _stored(hub_engine) == total + len(more)
    finally:
        edge.stop()
        for hub in hubs:
            hub.stop()


def test_events_queued_for_a_stopped_hub_are_stored_when_it_starts_again(
    hub_engine: Engine, tmp_path: Path
) -> None:
    """The broker queues a persistent session's events while the hub is away; none is lost.

    The broker sends the queue right after it accepts the connection: the hub's handler must
    be in place before it connects, or those events are acknowledged with no one to store them.
    """
    require_service("Mosquitto", "127.0.0.1", 1883)
    site = f"t{uuid.uuid4().hex[:12]}"
    spool = tmp_path / "spool" / "event-spool.db"
    edge = MqttLink(LinkSettings(url=MOSQUITTO, site=site, kind="edge", device_id="e1"))
    edge.start().wait_connected(WAIT_S)
    hub = start_hub_mqtt(hub_engine, url=MOSQUITTO, site=site, spool_path=spool, settings=FAST)
    try:
        poke_until(
            lambda: _publish(edge, make_event(EventKind.ALARM, {"alarm": "probe"}, site=site)),
            lambda: hub.stored > 0,
            "the hub subscribed",
            WAIT_S,
        )
        hub.stop()  # its session (and subscription) stays with the broker
        before = _stored(hub_engine)
        events = [e for n in range(40) for e in parcel_story(n + 1, "RR123456785CN", site=site)]
        for event in events:
            _publish(edge, event)
        hub = start_hub_mqtt(hub_engine, url=MOSQUITTO, site=site, spool_path=spool, settings=FAST)
        assert hub.wait_for(lambda _: _stored(hub_engine) >= before + len(events), WAIT_S), (
            f"{_stored(hub_engine) - before} of {len(events)} queued events stored"
        )
        # Each exactly once. Not ``hub.stored == len(events)``: a message already in flight to
        # the stopping hub is spooled by it and stored by whichever hub drains the spool.
        assert _stored(hub_engine) == before + len(events)
    finally:
        edge.stop()
        hub.stop()
