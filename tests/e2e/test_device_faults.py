"""Device, broker, hub and clock faults end to end, with the edge in this process.

After each fault: no wrong release, every parcel in a chute, every event the edge produced
held by the hub once, and the line back to normal within seconds of the fault's end (the
recovery seen is logged as ``recovered in`` for ``docs/invariants.md``).
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from clearline.demo.site import listening
from contracts.clock import SystemClock
from contracts.events import EdgeEvent, EventKind
from contracts.topics import edge_event_topic
from devices.mqtt_link import LinkSettings, MqttLink
from hub.db.engine import make_engine
from hub.db.event_models import EVENT
from hub.settings import HubSettings
from simulators.broker import EmbeddedBroker, free_port
from simulators.faults import FaultProfile
from tests.conftest import require_service
from tests.e2e.harness import (
    EDGE_ID,
    PARCELS,
    FaultSite,
    HubServer,
    RecordingEdge,
    check_events_in_process,
    check_parcels,
    unique_site,
)
from tests.hub.helpers_events import make_event
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)


@pytest.fixture()
def site(tmp_path: Path) -> Iterator[FaultSite]:
    """A site on a fresh embedded broker with hub and line started (belt stopped)."""
    with EmbeddedBroker(port=0) as broker:
        s = FaultSite(tmp_path, broker.url, unique_site("dev"))
        try:
            s.start()
            yield s
        finally:
            s.stop()


def _inducted(site: FaultSite, count: int) -> None:
    wait_until(lambda: len(site.sim.results()) >= count, 30, f"{count} parcels inducted")


def _states(edge: RecordingEdge, device: str) -> list[EdgeEvent]:
    return [
        e for e in list(edge.produced)
        if e.kind is EventKind.DEVICE_STATE and e.data["device_id"] == device
    ]  # fmt: skip


def _finish(site: FaultSite) -> None:
    results = site.finish()
    site.settle_in_process()
    check_parcels(site, results)
    check_events_in_process(site)


def test_checkweigher_exception_replies(site: FaultSite) -> None:
    """A checkweigher refusing half its reads is offline, then weighs again at once."""
    edge = site.start_edge()
    site.run_belt()
    _inducted(site, PARCELS // 4)
    runner = site.sim._runner  # the simulated line's Modbus servers
    assert runner is not None and runner.checkweigher_server is not None
    server = runner.checkweigher_server
    site.sim.call(lambda: setattr(server, "faults", FaultProfile(refuse_rate=0.5)))
    _inducted(site, PARCELS // 2)
    site.sim.call(lambda: setattr(server, "faults", FaultProfile()))
    end = time.monotonic()
    wait_until(lambda: edge.engine.devices.get("cw1") is True, 10, "checkweigher online")
    log.info("recovered in %.2f s (checkweigher exception replies)", time.monotonic() - end)
    _finish(site)
    assert any(not e.data["online"] for e in _states(edge, "cw1")), "no outage was seen"
    assert all(p.faults == 0 for p in edge._pollers)  # every fault handled in the adapter
    weighed = [e for e in edge.produced if e.kind is EventKind.WEIGHED]
    assert weighed[-1].data["weight_kg"] is not None  # weighing again after the fault


def test_silent_scanner(site: FaultSite) -> None:
    """A scanner connected but mute is reported offline, and online with its next frame."""
    edge = site.start_edge()
    site.run_belt()
    _inducted(site, PARCELS // 4)
    site.sim.set_scanner_faults(FaultProfile(drop_rate=1.0))
    wait_until(lambda: any(not e.data["online"] for e in _states(edge, "tunnel1")), 30, "silence")
    site.sim.set_scanner_faults(FaultProfile())
    end = time.monotonic()
    wait_until(lambda: edge.engine.devices.get("tunnel1") is True, 15, "scanner back")
    log.info("recovered in %.2f s (silent scanner)", time.monotonic() - end)
    _finish(site)
    details = [e.data["detail"] for e in _states(edge, "tunnel1") if not e.data["online"]]
    assert any(d.startswith("silent") for d in details), details


class JumpingClock:
    """The wall clock plus an offset a test changes (an edge clock set wrong, then fixed)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return SystemClock().now() + self.offset


def test_edge_clock_jumps(site: FaultSite, memory_dir: Path | None) -> None:
    """The edge's clock jumps +1 h and back: no deadline moves, nothing waits an hour."""
    clock = JumpingClock()
    # slow fsyncs on a busy disk alone leave parcels unanswered, which this test would count
    # as the clock's doing (seen in CI: 7 of 32, the first parcel among them); the store goes
    # to memory-backed files so that only the clock is tried
    if memory_dir is not None:
        site.store_dir = memory_dir
    edge = site.start_edge(clock=clock)
    site.run_belt()
    _inducted(site, PARCELS // 3)
    clock.offset = timedelta(hours=1)
    _inducted(site, PARCELS * 2 // 3)
    clock.offset = timedelta()
    end = time.monotonic()
    results = site.finish()
    site.settle_in_process(timeout_s=20)
    log.info("recovered in %.2f s (edge clock back from +1 h)", time.monotonic() - end)
    check_parcels(site, results)
    check_events_in_process(site)
    # a wall-clock deadline would answer waiting parcels at the +1 h jump with what was known
    # and leave every one in flight unanswered after the jump back; a loaded machine may make
    # one or two late all the same
    unanswered = [r.item_id for r in results if not r.answered]
    assert len(unanswered) <= 2, unanswered
    late = [e.item_id for e in edge.produced if e.kind is EventKind.DECIDED
            and "LATE_DECISION" in e.data["reasons"]]  # fmt: skip
    assert len(late) <= 2, late


@pytest.fixture()
def mosquitto(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """The port and config of a Mosquitto of this test's own (started by the test)."""
    if not Path("/usr/sbin/mosquitto").exists():
        require_service("Mosquitto", "127.0.0.1", 1883)  # fails or skips as the suite says
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n", encoding="utf-8")
    yield port, conf


def _mosquitto(conf: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["/usr/sbin/mosquitto", "-c", str(conf)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return proc


def test_mosquitto_restart(tmp_path: Path, mosquitto: tuple[int, Path]) -> None:
    """A real Mosquitto is killed and restarted mid-run: links are back within seconds."""
    port, conf = mosquitto
    broker = _mosquitto(conf)
    site: FaultSite | None = None
    try:
        wait_until(lambda: listening(port), 10, "mosquitto listening")
        site = FaultSite(tmp_path, f"mqtt://127.0.0.1:{port}", unique_site("mq"))
        site.start()
        edge = site.start_edge()
        site.run_belt()
        _inducted(site, PARCELS // 3)
        broker.send_signal(signal.SIGKILL)
        broker.wait(10)
        time.sleep(1.0)
        broker = _mosquitto(conf)
        back = time.monotonic()
        wait_until(lambda: edge.link.connected and site.hub.mqtt_link().connected, 15, "links")
        log.info("recovered in %.2f s (Mosquitto restart)", time.monotonic() - back)
        _finish(site)
    finally:
        if site is not None:
            site.stop()
        broker.terminate()
        broker.wait(10)


def test_two_hubs_on_one_host(tmp_path: Path) -> None:
    """Two hubs of two sites with one data directory keep apart: each stores its own events."""
    with EmbeddedBroker(port=0) as broker:
        hubs: list[HubServer] = []
        sites = [unique_site("north"), unique_site("south")]
        try:
            for name in sites:
                settings = HubSettings(
                    database_url=f"sqlite:///{tmp_path / name}.db", site_id=name, dev=True,
                    mqtt_url=broker.url, data_dir=str(tmp_path / "data"),
                )  # fmt: skip
                hubs.append(HubServer(settings, free_port()).start())
            assert hubs[0].settings.spool_path() != hubs[1].settings.spool_path()
            edge = MqttLink(LinkSettings(url=broker.url, site=sites[0], kind="edge",
                                         device_id=EDGE_ID))  # fmt: skip
            edge.start().wait_connected(10)
            sent: dict[str, set[str]] = {name: set() for name in sites}
            try:
                for n in range(10):
                    name = sites[n % 2]
                    event = make_event(EventKind.ALARM, {"alarm": f"a{n}"}, site=name,
                                       edge_id=EDGE_ID, item_id=None)  # fmt: skip
                    topic = edge_event_topic(name, EDGE_ID)
                    edge.publish(topic, event.model_dump_json().encode(), qos=1, timeout_s=5)
                    sent[name].add(str(event.event_id))
                for hub, name in zip(hubs, sites, strict=True):
                    wait_until(partial(_holds_all, hub, sent[name]), 20, f"{name} stored")
                    assert _held(hub) == sent[name]
            finally:
                edge.stop()
        finally:
            for hub in hubs:
                hub.stop()


def _holds_all(hub: HubServer, ids: set[str]) -> bool:
    return _held(hub) >= ids


def _held(hub: HubServer) -> set[str]:
    from sqlalchemy import select

    engine = make_engine(hub.settings.database_url)
    try:
        with engine.connect() as conn:
            ids = conn.execute(select(EVENT.c.event_id).where(EVENT.c.kind == "alarm")).scalars()
            return {str(i) for i in ids}
    finally:
        engine.dispose()
