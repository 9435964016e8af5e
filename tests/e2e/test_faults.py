"""The invariants of DESIGN §11 under injected faults, end to end over real protocols.

Each test runs a whole site (hub, broker, simulated line, edge) through one fault in the
middle of a scenario and then checks: no parcel released that must not be, every parcel in a
chute, and every event the edge produced held by the hub exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.broker import MOSQUITTO_HOST, MOSQUITTO_PORT, EmbeddedBroker, free_port
from simulators.faults import FaultProfile
from tests.conftest import require_service
from tests.e2e.harness import (
    PARCELS,
    REJECT_CHUTE,
    EdgeProcess,
    FaultSite,
    check_events_in_process,
    check_parcels,
    decided_per_item,
    unique_site,
    write_site_file,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture()
def broker() -> Iterator[EmbeddedBroker]:
    """A fresh embedded broker on a free port."""
    with EmbeddedBroker(port=0) as b:
        yield b


@pytest.fixture()
def site(tmp_path: Path, broker: EmbeddedBroker) -> Iterator[FaultSite]:
    """A site on the embedded broker with hub and line started (belt stopped)."""
    s = FaultSite(tmp_path, broker.url, unique_site("faults"))
    try:
        s.start()
        yield s
    finally:
        s.stop()


def _after_inducted(site: FaultSite, count: int, timeout_s: float = 30.0) -> None:
    """Wait until ``count`` parcels have entered the line."""
    wait_until(lambda: len(site.sim.results()) >= count, timeout_s, f"{count} parcels inducted")


def test_hub_down_for_a_while(site: FaultSite) -> None:
    """The hub stops mid-run and comes back on the same port and database: nothing is lost."""
    site.start_edge()
    site.run_belt()
    _after_inducted(site, PARCELS // 4)
    site.hub.stop()
    _after_inducted(site, PARCELS * 3 // 4)
    edge = site.edge
    assert edge is not None
    # the parcels inducted while the hub is away are decided: their events wait in the outbox
    wait_until(lambda: edge.outbox.pending() >= PARCELS // 2, 30, "events held in the outbox")
    site.hub.start()
    results = site.finish()
    site.settle_in_process()
    check_parcels(site, results)
    check_events_in_process(site)


def test_broker_restart(site: FaultSite, broker: EmbeddedBroker) -> None:
    """The broker restarts mid-run and forgets every queued message: nothing is lost."""
    site.start_edge()
    site.run_belt()
    _after_inducted(site, PARCELS // 3)
    broker.restart()
    results = site.finish()
    site.settle_in_process()
    check_parcels(site, results)
    check_events_in_process(site)


def test_mosquitto_connections_cut(tmp_path: Path) -> None:
    """On the real Mosquitto: edge and hub lose their connections mid-run; nothing is lost."""
    require_service("Mosquitto", MOSQUITTO_HOST, MOSQUITTO_PORT)
    site = FaultSite(tmp_path, f"mqtt://{MOSQUITTO_HOST}:{MOSQUITTO_PORT}", unique_site("mq"))
    try:
        site.start()
        edge = site.start_edge()
        site.run_belt()
        _after_inducted(site, PARCELS // 3)
        edge.link.drop_connection()
        site.hub.mqtt_link().drop_connection()
        results = site.finish()
        site.settle_in_process()
        check_parcels(site, results)
        check_events_in_process(site)
    finally:
        site.stop()


def test_scanner_unplugged(site: FaultSite) -> None:
    """Parcels that pass while the scanner is unplugged get no read and go to reject."""
    site.start_edge()
    site.run_belt()
    _after_inducted(site, PARCELS // 4)
    site.sim.unplug_scanner()
    _after_inducted(site, PARCELS // 2)
    site.sim.plug_scanner()
    results = site.finish()
    site.settle_in_process()
    check_parcels(site, results)
    check_events_in_process(site)
    unread = [r for r in results if not r.frame_sent]
    assert unread, "the fault did not hit any parcel"
    assert all(r.chute == REJECT_CHUTE for r in unread), unread
    assert any(r.frame_sent for r in results), "the scanner never came back"


def test_checkweigher_stuck(site: FaultSite) -> None:
    """A checkweigher repeating one weight: its readings never release a parcel."""
    edge = site.start_edge()
    site.run_belt()
    _after_inducted(site, PARCELS // 4)
    site.sim.set_checkweigher_faults(FaultProfile(stuck_value=True))
    results = site.finish()
    site.settle_in_process()
    check_parcels(site, results)
    check_events_in_process(site)
    decided = [e for e in edge.produced if e.kind.value == "decided"]
    no_weight = {e.item_id: e.data for e in decided if "NO_WEIGHT" in e.data["reasons"]}
    assert no_weight, "the stuck checkweigher was never noticed"
    assert all(d["outcome"] == "REJECT" for d in no_weight.values())
    chutes = {r.item_id: r.chute for r in results}
    assert all(chutes[i] == REJECT_CHUTE for i in no_weight if i is not None)


def test_edge_killed_and_restarted(site: FaultSite) -> None:
    """The edge process is SIGKILLed mid-run and restarted on the same store: nothing is lost."""
    health_port = free_port()
    config = write_site_file(site, health_port)
    observer = site.observe()
    edge = EdgeProcess(config, site.api_key, health_port, site.tmp / "edge.log")
    try:
        edge.start()
        edge.wait_ready(site.index_size, 60)
        wait_until(lambda: site.sim.scanner_clients > 0, 10, "edge connected to the scanner")
        site.run_belt()
        _after_inducted(site, PARCELS // 3)
        edge.kill()
        _after_inducted(site, PARCELS // 2)
        edge.start()
        edge.wait_ready(site.index_size, 60)
        results = site.finish()
        wait_until(
            lambda: edge.outbox_pending() == 0,
            40,
            lambda: f"empty outbox\n{edge.health()}\n{edge.log_tail()}",
        )
    finally:
        edge.stop()
        observer.stop()
    check_parcels(site, results)
    held = site.hub_events()
    ids = {e.event_id for e in held}
    assert len(ids) == len(held)
    seen = observer.event_ids()
    assert seen, "no event reached the broker"
    assert seen <= ids, f"{len(seen - ids)} events the broker carried are missing at the hub"
    decided = decided_per_item(held)
    answered = [r for r in results if r.answered]
    assert all(decided[r.item_id] >= 1 for r in answered)
    unanswered = [r for r in results if not r.answered]
    assert unanswered, "the kill hit no parcel"
    assert all(r.chute == REJECT_CHUTE for r in unanswered), unanswered
