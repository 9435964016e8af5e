"""One line end to end over real protocols: simulators, the edge, a real broker.

Parcels come from a generated scenario; the edge decides each one from its local copy of the
declarations and answers the simulated PLC over Modbus TCP. No parcel may be released that the
scenario says must not be, and every parcel must end in a chute.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from clearline.demo.site_run import compare, edge_config, free_line, preload
from contracts.topics import edge_event_filter
from devices.mqtt_link import LinkSettings, Message, MqttLink
from edge.line.runtime import EdgeRuntime
from inspection.rules import load_rules
from inspection.xray.calibration import STANDARD_STEPS_MM, calibrate
from simulators.broker import EmbeddedBroker
from simulators.line.config import load_site
from simulators.scenario.generate import generate
from simulators.site.simulation import SiteSimulation
from simulators.site.xray_worker import wedge_images
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
PARCELS = 40


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedBroker]:
    """An embedded broker on a free port."""
    with EmbeddedBroker(port=0) as b:
        yield b


class EventLog:
    """Every edge event that reached the broker, by event id."""

    def __init__(self, url: str, site: str) -> None:
        self.events: dict[str, dict[str, object]] = {}
        self.copies = 0
        self._lock = threading.Lock()
        self.link = MqttLink(LinkSettings(url=url, site=site, kind="test", device_id="observer"))
        self.link.start()
        self.link.wait_connected(10)
        self.link.subscribe(edge_event_filter(site), self._on)

    def _on(self, msg: Message) -> None:
        body = json.loads(msg.payload)
        with self._lock:
            self.copies += 1
            self.events[body["event_id"]] = body

    def of_kind(self, kind: str) -> list[dict[str, object]]:
        """Events of one kind."""
        with self._lock:
            return [e for e in self.events.values() if e["kind"] == kind]


def test_line_end_to_end(tmp_path: Path, broker: EmbeddedBroker) -> None:
    """Every parcel is accounted for, none is wrongly released, every decision is reported."""
    rules = load_rules()
    scenario = tmp_path / "scenario"
    generate(PARCELS, 11, scenario, rules)
    site = load_site(ROOT / "examples" / "site.yaml")
    line = free_line(site.line(), rate_per_s=8.0, xray_width_px=1024)
    observer = EventLog(broker.url, site.site)
    sim = SiteSimulation(line, site=site.site, broker_url=broker.url, scenario=scenario, seed=2)
    sim.start(belt=False)
    edge = None
    try:
        calibration = tmp_path / "xray-calibration.json"  # the simulated machine's own wedges
        wedges = wedge_images(line.xray, 2, STANDARD_STEPS_MM)
        calibrate(line.xray.device_id, wedges).save(calibration)
        cfg = edge_config(
            line,
            plc_port=sim.plc_port,
            checkweigher_port=sim.checkweigher_port,
            scanner_url=sim.scanner_url,
            broker_url=broker.url,
            store_dir=tmp_path / "edge",
            xray_calibration=calibration,
        )
        edge = EdgeRuntime(site.site, cfg, rules)
        assert preload(edge.cache, scenario) > PARCELS
        edge.start()
        wait_until(lambda: edge is not None and edge.link.connected, 10, "edge on the broker")
        wait_until(lambda: sim.scanner_clients > 0, 10, "edge connected to the scanner")
        sim.start_belt()
        assert sim.wait_done(120), "the line did not finish the scenario"
        wait_until(lambda: all(r.status is not None for r in sim.results()), 60, "chutes")
        wait_until(lambda: edge is not None and edge.outbox.pending() == 0, 30, "empty outbox")
        wait_until(lambda: len(observer.of_kind("decided")) >= PARCELS, 30, "decided events")
    finally:
        if edge is not None:
            edge.stop()
        sim.stop()
        observer.link.stop()
    results = sim.results()
    cmp = compare(results, scenario / "expected.jsonl")
    assert cmp.accounted == cmp.parcels == PARCELS
    wrong = [(m, next(r for r in results if r.seq == m["seq"])) for m in cmp.mismatches
             if m["seq"] in cmp.wrong_releases]  # fmt: skip
    assert cmp.wrong_releases == [], wrong
    # with no inspector here, the only allowed differences from the scenario are an image the
    # pre-screen could not clear (held while it waits for review, or sent to inspection), a
    # technical reject when a fact missed its parcel on this busy one-process rig (more of
    # them when the machine is loaded), and a duplicate copy released because its original
    # was rejected so (the declaration is still released once; `compare` checks that)
    allowed = {"RELEASE": ("HOLD", "INSPECT"), "INSPECT": ("HOLD",), "HOLD": ("RELEASE",)}
    for m in cmp.mismatches:
        assert m["got"] in allowed.get(m["expected"], ()) or m["got"] == "REJECT", m
        if m["got"] == "RELEASE":
            assert m["case"] == "duplicate", m
    # a parcel sent to inspection instead of release is one whose image the pre-screen did not
    # clear; any other difference is a fact that missed its parcel
    item_of = {r.seq: r.item_id for r in results}
    screened = {e["item_id"]: e["data"]["state"] for e in observer.of_kind("imaged")}  # type: ignore[index]
    held = {seq for seq, item in item_of.items() if screened.get(item) != "CLEARED"}
    other = [m for m in cmp.mismatches if not (m["got"] == "INSPECT" and m["seq"] in held)]
    assert len(other) <= PARCELS // 4, other
    assert "CLEARED" in screened.values(), screened  # 0.6 mm pixels: the screen clears some
    decided = observer.of_kind("decided")
    assert {e["item_id"] for e in decided} == {r.item_id for r in results}
