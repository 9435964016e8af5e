"""The hub acknowledges only what it saved, owns its spool alone and keeps to its own site."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from contracts.events import EventKind
from contracts.topics import edge_event_topic
from devices.mqtt_link import LinkSettings, MqttLink
from hub.db.engine import StoreError, make_engine
from hub.db.event_models import EVENT, create_event_tables
from hub.ingest.mqtt import IngestSettings, MqttIngest
from hub.ingest.spool import EventSpool
from hub.settings import HubSettings
from simulators.broker import MOSQUITTO_HOST, MOSQUITTO_PORT
from tests.conftest import require_service
from tests.hub.helpers_events import make_event
from tests.hub.waits import until

FAST = IngestSettings(batch_size=50, linger_ms=5, retry_min_s=0.05, retry_max_s=0.2)


@pytest.fixture
def hub_engine(tmp_path: Path) -> Iterator[Engine]:
    """A hub database in a SQLite file."""
    eng = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    create_event_tables(eng)
    yield eng
    eng.dispose()


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(EVENT)).scalar_one())


def _writable(spool: EventSpool, ok: bool) -> None:
    """Make the spool refuse every write (a read-only disk) or accept them again."""
    db: sqlite3.Connection = spool._db
    db.execute(f"PRAGMA query_only = {'OFF' if ok else 'ON'}")


def test_spool_on_a_full_disk_raises_store_error(tmp_path: Path) -> None:
    """A spool that cannot grow refuses the write with StoreError (never a silent loss)."""
    spool = EventSpool(tmp_path / "spool.db")
    db: sqlite3.Connection = spool._db
    db.execute("CREATE TABLE filler (b BLOB)")
    db.execute(f"PRAGMA max_page_count = {int(db.execute('PRAGMA page_count').fetchone()[0])}")
    with pytest.raises(StoreError, match="full"):
        for _ in range(100):
            spool.put("clearline/s/edge/e1/event", b"z" * 3000)
    db.execute("PRAGMA max_page_count = 1000000")
    spool.put("clearline/s/edge/e1/event", b"z")
    spool.close()


def test_refused_spool_write_leaves_messages_unacknowledged(
    hub_engine: Engine, tmp_path: Path
) -> None:
    """While the spool cannot write nothing is acknowledged; once it can, all is stored."""
    require_service("Mosquitto", MOSQUITTO_HOST, MOSQUITTO_PORT)
    url = f"mqtt://{MOSQUITTO_HOST}:{MOSQUITTO_PORT}"
    site = f"t{uuid.uuid4().hex[:12]}"
    spool = EventSpool(tmp_path / "spool.db")
    hub = MqttLink(
        LinkSettings(
            url=url, site=site, kind="hub", device_id="hub", client_id=f"clearline-hub-{site}",
            clean_session=False, manual_ack=True, reconnect_max_s=1,
        )
    )  # fmt: skip
    edge = MqttLink(LinkSettings(url=url, site=site, kind="edge", device_id="e1"))
    ingest = MqttIngest(hub_engine, hub, spool, site, settings=FAST)
    try:
        hub.start().wait_connected(10)
        ingest.start()
        edge.start().wait_connected(10)
        until(lambda: hub.connected, "hub connected")
        _writable(spool, ok=False)
        events = [make_event(EventKind.ALARM, {"alarm": f"a{n}"}, site=site) for n in range(20)]
        topic = edge_event_topic(site, "e1")
        for event in events:
            edge.publish(topic, event.model_dump_json().encode(), qos=1, timeout_s=5)
        until(lambda: ingest.spool_failures > 0, "the spool refusing")
        assert _stored(hub_engine) < len(events)
        _writable(spool, ok=True)
        until(lambda: _stored(hub_engine) == len(events), "every event stored", timeout_s=30)
        # The batch is committed before the counters move: wait for them, do not race them.
        until(lambda: ingest.stored == len(events), "every event counted", timeout_s=5)
        assert _stored(hub_engine) == len(events)
    finally:
        ingest.stop()
        edge.stop()
        hub.stop()
        spool.close()


def test_a_spool_has_one_owner(tmp_path: Path) -> None:
    """A second hub on the same spool file is refused instead of taking the first one's events."""
    first = EventSpool(tmp_path / "spool.db")
    with pytest.raises(StoreError, match="in use by another hub"):
        EventSpool(tmp_path / "spool.db")
    first.close()
    EventSpool(tmp_path / "spool.db").close()


def test_default_spool_is_per_site_under_the_data_dir(tmp_path: Path) -> None:
    """Two hubs of two sites on one host never share a spool by default."""
    one = HubSettings(site_id="north", data_dir=str(tmp_path))
    two = HubSettings(site_id="south", data_dir=str(tmp_path))
    assert one.spool_path() == tmp_path / "spool" / "north" / "event-spool.db"
    assert one.spool_path() != two.spool_path()
    assert HubSettings(event_spool_path=str(tmp_path / "x.db")).spool_path() == tmp_path / "x.db"


def test_events_of_another_site_are_refused(hub_engine: Engine, tmp_path: Path) -> None:
    """An event of another site found in the spool is refused, not stored as this site's."""
    spool = EventSpool(tmp_path / "spool.db")
    link = MqttLink(LinkSettings(url="mqtt://127.0.0.1:1", site="north", kind="hub", device_id="h"))
    ingest = MqttIngest(hub_engine, link, spool, "north", settings=FAST)
    other = make_event(EventKind.ALARM, {"alarm": "x"}, site="south")
    mine = make_event(EventKind.ALARM, {"alarm": "y"}, site="north")
    spool.put(edge_event_topic("south", "e1"), other.model_dump_json().encode())
    spool.put(edge_event_topic("north", "e1"), mine.model_dump_json().encode())
    try:
        assert ingest._move_batch() == 2  # one worker step, no broker needed
    finally:
        spool.close()
    assert (ingest.stored, ingest.rejected) == (1, 1)
    assert _stored(hub_engine) == 1
