"""The manual desk against the hand scanner and MT-SICS scale simulators over real ptys."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from contracts.clock import ManualClock
from contracts.events import EdgeEvent, EventKind, VerdictKind
from contracts.messages import Verdict
from contracts.reasons import Outcome, Reason
from contracts.statuses import ReadStatus
from contracts.topics import edge_event_topic
from devices.adapters.hand_scanner import HandScannerAdapter
from devices.adapters.scale import ScaleAdapter
from devices.events import BarcodeRead
from devices.mqtt_link import LinkSettings, Message, MqttLink
from devices.profiles import HandScannerProfile, ScaleProfile, SerialSettings
from edge.cache import DeclarationCache
from edge.config import DeskConfig, DeskWeighing, EdgeConfigError, parse_edge_site
from edge.desk.runtime import DeskRuntime, DeskSequence, DeskStation
from edge.desk.session import DeskError, DeskResult, DeskSession, Weighing
from edge.desk.view import DeskView, big_text, plain_line
from edge.outbox import Outbox
from edge.sync import SyncApplied
from hub.event_kinds import checked_data
from inspection.index import DeclarationIndex
from inspection.model import DocKind
from inspection.rules import RuleSet, parse_rules
from simulators.faults import FaultProfile
from simulators.serial_sims import HandScannerServer, HandScannerSpec, ScaleServer, ScaleSpec
from tests.conftest import require_service
from tests.inspection.builders import T0, inventory, order, payment, waybill
from tests.inspection.conftest import RULES_NO_RANDOM
from tests.waiting import wait_until

DECLARED = "YT0000000001"  # 1.200 kg declared, customs status 800, documents consistent
UNDECLARED = "YT0000000099"
NO_XRAY_RULES = RULES_NO_RANDOM + "xray: {required: false}\n"


@pytest.fixture(scope="module")
def no_xray_rules() -> RuleSet:
    """Rules that do not require an X-ray image (random selection off)."""
    return parse_rules(NO_XRAY_RULES, "no-xray.yaml")


def index() -> DeclarationIndex:
    idx = DeclarationIndex()
    idx.add_all([order(1), payment(1), waybill(1), inventory(1)])
    idx.set_status(DocKind.INVENTORY, "AG001:COP00000001", 800)
    return idx


def serial(address: str) -> SerialSettings:
    return SerialSettings(port=address, reconnect_min_ms=20, reconnect_max_ms=100)


def desk_config(scan_address: str, scale_address: str, store: Path, **extra: Any) -> DeskConfig:
    return DeskConfig(
        desk_id="desk-1",
        store_dir=store,
        hand_scanner=HandScannerProfile(
            kind="hand_scanner", device_id="desk-scan", serial=serial(scan_address)
        ),
        scale=ScaleProfile(
            kind="scale",
            device_id="desk-scale",
            serial=serial(scale_address),
            reply_timeout_ms=150,
            retries=1,
        ),
        weighing=DeskWeighing(settle_timeout_ms=300, retry_pause_ms=20),
        **extra,
    )


@dataclass
class Desk:
    """A desk session and station on real ptys, with its outbox."""

    scanner_sim: HandScannerServer
    scale_sim: ScaleServer
    station: DeskStation
    outbox: Outbox

    def scan(self) -> DeskResult:
        """Pull the scanner's trigger and run the desk until the parcel is decided."""
        self.scanner_sim.trigger()
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            results = self.station.step(0.1)
            if results:
                assert len(results) == 1
                return results[0]
        raise AssertionError("no parcel decided in time")

    def events(self, seq: int | None = None) -> list[EdgeEvent]:
        """Return the outbox's events (of parcel ``seq`` when given), checked as the hub does."""
        out = []
        for pending in self.outbox.next_batch(500):
            assert pending.topic == "clearline/s1/edge/desk-1/event"
            event = EdgeEvent.model_validate_json(pending.payload)
            checked_data(event)
            if seq is None or event.item_id == seq:
                out.append(event)
        return out


@contextmanager
def desk(
    tmp_path: Path,
    rules: RuleSet,
    *,
    codes: tuple[str, ...] = (DECLARED,),
    weight_kg: float = 1.21,
    scanner_faults: FaultProfile | None = None,
    scale_faults: FaultProfile | None = None,
    **extra: Any,
) -> Iterator[Desk]:
    spec = HandScannerSpec(codes=codes, aim="]C1")
    with (
        HandScannerServer(spec, faults=scanner_faults) as scanner_sim,
        ScaleServer(ScaleSpec(weight_kg=weight_kg), faults=scale_faults) as scale_sim,
    ):
        cfg = desk_config(scanner_sim.address, scale_sim.address, tmp_path, **extra)
        outbox = Outbox(tmp_path / "outbox.db")
        sequence = DeskSequence(tmp_path / "desk.db")
        clock = ManualClock(T0)
        session = DeskSession(
            site="s1",
            cfg=cfg,
            index=index(),
            rules=rules,
            clock=clock,
            emit=lambda e: outbox.put(str(e.event_id), edge_event_topic("s1", "desk-1"),
                                      e.model_dump_json().encode()),
            next_seq=sequence.next,
        )  # fmt: skip
        scanner = HandScannerAdapter(cfg.hand_scanner, clock=clock, on_state=session.device_changed)
        scale = ScaleAdapter(cfg.scale, clock=clock, on_state=session.device_changed)
        try:
            with scanner, scale:
                wait_until(lambda: scanner_sim.link.connected)
                yield Desk(scanner_sim, scale_sim, DeskStation(session, scanner, scale), outbox)
        finally:
            outbox.close()
            sequence.close()


def kinds(events: list[EdgeEvent]) -> list[EventKind]:
    return [e.kind for e in events]


# --- parcels at the desk --------------------------------------------------------------------


def test_declared_parcel_is_released_with_three_events(
    tmp_path: Path, no_xray_rules: RuleSet
) -> None:
    with desk(tmp_path, no_xray_rules) as d:
        r = d.scan()
        events = d.events(r.seq)
    assert (r.seq, r.outcome, r.decision.reasons, r.area) == (
        1,
        Outcome.RELEASE,
        (),
        "RELEASE SHELF",
    )
    assert (r.declared_kg, r.allowed_g) == (1.2, 120.0)
    assert plain_line(r) == (
        "#1 YT0000000001 RELEASE -> RELEASE SHELF | "
        "1.210 kg stable, declared 1.200 kg ±120 g | no reasons"
    )
    assert kinds(events) == [EventKind.CODE_READ, EventKind.WEIGHED, EventKind.DECIDED]
    assert all(e.item_id == 1 and e.edge_id == "desk-1" for e in events)
    read, weighed, decided = (e.data for e in events)
    assert read == {"device_id": "desk-scan", "status": "OK", "codes": ["]C1" + DECLARED]}
    assert (weighed["weight_kg"], weighed["stable"]) == (1.21, True)
    assert decided["outcome"] == "RELEASE" and decided["reasons"] == []
    assert decided["declaration_kind"] == "inventory"
    assert decided["declaration_key"] == "AG001:COP00000001"
    assert decided["area"] == "RELEASE SHELF" and decided["chute"] is None
    assert events[2].parcel_code == DECLARED


def test_default_rules_hold_a_desk_parcel_for_its_missing_xray(
    tmp_path: Path, rules: RuleSet
) -> None:
    with desk(tmp_path, rules) as d:
        r = d.scan()
    assert (r.outcome, r.decision.reasons, r.area) == (
        Outcome.HOLD,
        (Reason.XRAY_PENDING,),
        "HOLD CAGE",
    )
    assert "XRAY_PENDING (it has no cleared X-ray image)" in plain_line(r)


def test_undeclared_parcel_goes_to_the_hold_cage(tmp_path: Path, no_xray_rules: RuleSet) -> None:
    with desk(tmp_path, no_xray_rules, codes=(UNDECLARED,), weight_kg=0.8) as d:
        r = d.scan()
        decided = d.events(r.seq)[-1]
    assert (r.outcome, r.decision.reasons) == (Outcome.HOLD, (Reason.NOT_DECLARED,))
    assert plain_line(r) == (
        "#1 YT0000000099 HOLD -> HOLD CAGE | 0.800 kg stable, declared - | "
        "NOT_DECLARED (no declaration was filed for this parcel)"
    )
    assert decided.parcel_code is None and decided.data["declaration_key"] is None


def test_unstable_weight_is_rejected_with_the_moving_weight(
    tmp_path: Path, no_xray_rules: RuleSet
) -> None:
    with desk(tmp_path, no_xray_rules, scale_faults=FaultProfile(unstable_rate=1.0)) as d:
        r = d.scan()
        weighed = d.events(r.seq)[1]
    assert (r.outcome, r.decision.reasons[0]) == (Outcome.REJECT, Reason.UNSTABLE_WEIGHT)
    assert r.weighing is not None and r.weighing.stable is False
    assert r.weighing.weight_kg == pytest.approx(1.21, abs=0.05)
    assert "still moving after 0.3 s" in r.weighing.detail
    assert weighed.kind is EventKind.WEIGHED and weighed.data["stable"] is False
    assert " MOVING, declared 1.200 kg" in plain_line(r)
    assert plain_line(r).startswith("#1 YT0000000001 REJECT -> MANUAL CODING | ")


def test_silent_scale_fails_closed_to_reject(tmp_path: Path, no_xray_rules: RuleSet) -> None:
    with desk(tmp_path, no_xray_rules, scale_faults=FaultProfile(drop_rate=1.0)) as d:
        r = d.scan()
        events = d.events()
    assert r.outcome is Outcome.REJECT
    assert r.decision.reasons == (Reason.NO_WEIGHT, Reason.DEVICE_FAULT)
    assert r.weighing is not None and r.weighing.device_fault and r.weighing.weight_kg is None
    parcel = [e for e in events if e.item_id == 1]
    assert kinds(parcel) == [EventKind.CODE_READ, EventKind.WEIGHED, EventKind.DECIDED]
    assert parcel[1].data["weight_kg"] is None and parcel[1].data["flags"] == ["no_answer"]
    offline = [e.data for e in events if e.kind is EventKind.DEVICE_STATE and not e.data["online"]]
    assert [o["device_id"] for o in offline] == ["desk-scale"]
    assert "| no weight (scale not answering: " in plain_line(r)


def test_empty_scale_gives_no_weight(tmp_path: Path, no_xray_rules: RuleSet) -> None:
    with desk(tmp_path, no_xray_rules, weight_kg=0.0) as d:
        r = d.scan()
    assert (r.outcome, r.decision.reasons) == (Outcome.REJECT, (Reason.NO_WEIGHT,))
    assert r.weighing is not None and "nothing on the scale" in r.weighing.detail


def test_no_read_is_rejected(tmp_path: Path, no_xray_rules: RuleSet) -> None:
    with desk(tmp_path, no_xray_rules, scanner_faults=FaultProfile(noread_rate=1.0)) as d:
        r = d.scan()
        events = d.events(r.seq)
    assert (r.outcome, r.decision.reasons, r.code) == (Outcome.REJECT, (Reason.NO_READ,), "")
    assert kinds(events) == [EventKind.CODE_READ, EventKind.WEIGHED, EventKind.DECIDED]
    assert events[0].data["status"] == "NOREAD" and events[0].data["codes"] == []
    assert plain_line(r) == (
        "#1 - REJECT -> MANUAL CODING | 1.210 kg stable, declared - | "
        "NO_READ (no code could be read: scan it again)"
    )


def test_sequence_numbers_are_item_ids_and_survive_a_restart(
    tmp_path: Path, no_xray_rules: RuleSet
) -> None:
    with desk(tmp_path, no_xray_rules, codes=(DECLARED, UNDECLARED)) as d:
        first, second = d.scan(), d.scan()
    assert (first.seq, second.seq) == (1, 2)
    assert second.decision.reasons == (Reason.NOT_DECLARED,)
    with desk(tmp_path, no_xray_rules) as d:
        third = d.scan()
        item_ids = {e.item_id for e in d.events() if e.kind is not EventKind.DEVICE_STATE}
    assert third.seq == 3
    assert item_ids == {1, 2, 3}


# --- decisions without devices --------------------------------------------------------------


def session(rules: RuleSet, events: list[EdgeEvent], **cfg: Any) -> DeskSession:
    counter = iter(range(1, 1000))
    return DeskSession(
        site="s1",
        cfg=desk_config("/dev/null", "/dev/null", Path("unused"), **cfg),
        index=index(),
        rules=rules,
        clock=ManualClock(T0),
        emit=events.append,
        next_seq=lambda: next(counter),
    )


def scanned(code: str) -> BarcodeRead:
    return BarcodeRead("desk-scan", 0, ReadStatus.OK, (code,), T0)


def weighed(kg: float) -> Weighing:
    return Weighing("desk-scale", kg, True, "stable", T0)


def test_inspector_verdicts_reach_the_desk(rules: RuleSet) -> None:
    events: list[EdgeEvent] = []
    s = session(rules, events)
    s.submit(Verdict(verdict_id=uuid.uuid4(), site="s1", parcel_code=DECLARED,
                     verdict=VerdictKind.CLEAR, inspector="insp1", at=T0))  # fmt: skip
    assert s.drain() == 1
    assert s.record(scanned(DECLARED), weighed(1.2)).outcome is Outcome.RELEASE
    s.apply(Verdict(verdict_id=uuid.uuid4(), site="s1", parcel_code=DECLARED,
                    verdict=VerdictKind.HOLD, inspector="insp1", at=T0))  # fmt: skip
    held = s.record(scanned(DECLARED), weighed(1.2))
    assert held.outcome is Outcome.HOLD
    assert Reason.INSPECTOR_HOLD in held.decision.reasons


def test_a_released_declaration_is_not_released_twice(no_xray_rules: RuleSet) -> None:
    s = session(no_xray_rules, [])
    assert s.record(scanned(DECLARED), weighed(1.2)).outcome is Outcome.RELEASE
    again = s.record(scanned(DECLARED), weighed(1.2))
    assert (again.outcome, again.decision.reasons) == (Outcome.HOLD, (Reason.DUPLICATE_PARCEL,))


def test_weight_outside_tolerance_goes_to_inspection(no_xray_rules: RuleSet) -> None:
    r = session(no_xray_rules, []).record(scanned(DECLARED), weighed(1.5))
    assert (r.outcome, r.decision.reasons) == (Outcome.INSPECT, (Reason.WEIGHT_DEVIATION,))
    assert r.area == "INSPECTION AREA"
    assert any("measured 1.500 kg vs declared 1.200 kg" in n for n in r.notes)


def test_a_desk_cannot_waive_xray_the_rules_require(rules: RuleSet, no_xray_rules: RuleSet) -> None:
    with pytest.raises(DeskError, match="cannot waive it"):
        session(rules, [], xray_required_here=False)
    waived = session(no_xray_rules, [], xray_required_here=False)
    assert waived.record(scanned(DECLARED), weighed(1.2)).outcome is Outcome.RELEASE
    waived.apply(SyncApplied((), (), rules))  # the hub's rules now require X-ray: they win
    r = waived.record(scanned("]C1" + DECLARED), weighed(1.2))
    assert Reason.XRAY_PENDING in r.decision.reasons


def test_a_desk_may_require_xray_when_the_rules_do_not(no_xray_rules: RuleSet) -> None:
    r = session(no_xray_rules, [], xray_required_here=True).record(scanned(DECLARED), weighed(1.2))
    assert (r.outcome, r.decision.reasons) == (Outcome.HOLD, (Reason.XRAY_PENDING,))
    assert "this desk requires a cleared X-ray image (xray_required_here)" in r.notes


def test_sync_pages_and_statuses_change_the_next_decision(no_xray_rules: RuleSet) -> None:
    s = session(no_xray_rules, [])
    s.submit(SyncApplied((), ((DocKind.INVENTORY, "AG001:COP00000001", 700),)))
    s.drain()
    r = s.record(scanned(DECLARED), weighed(1.2))
    assert (r.outcome, r.area) == (Outcome.RETURN, "RETURN TO SENDER")


# --- the screen ---------------------------------------------------------------------------


def test_screen_fits_80_by_24_with_area_in_big_letters(rules: RuleSet) -> None:
    view = DeskView("desk-1")
    s = session(rules, [])
    view.status("READY: scan the next parcel")
    for code in (DECLARED, UNDECLARED, "RR123456780CN", DECLARED, UNDECLARED, DECLARED):
        view.show(s.record(scanned(code), weighed(1.2)))
    console = Console(width=80, height=24, file=io.StringIO(), color_system=None)
    with console.capture() as cap:
        console.print(view.render())
    lines = cap.get().rstrip("\n").split("\n")
    assert len(lines) <= 24
    assert all(console.measure(line).maximum <= 80 for line in lines)
    hold_cage = big_text("HOLD CAGE", 76)
    assert hold_cage is not None and all(row.strip() in cap.get() for row in hold_cage)
    screen = cap.get()
    assert "put it in the hold cage" in screen
    assert "an inspector" not in screen and "it has no cleared X-ray image" in screen
    assert "READY: scan the next parcel" in screen


def test_big_text_falls_back_for_what_it_cannot_draw() -> None:
    assert big_text("查验区", 76) is None
    assert big_text("X" * 30, 76) is None
    rows = big_text("HOLD", 76)
    assert rows is not None and len(rows) == 3 and max(len(r) for r in rows) == 15


# --- configuration ------------------------------------------------------------------------


SITE = """\
site: s1
desks:
  - desk_id: desk-1
    hand_scanner: {kind: hand_scanner, device_id: scan1, serial: {port: /dev/ttyUSB0}}
    scale:
      kind: scale
      device_id: scale1
      serial: {port: /dev/ttyUSB1, baudrate: 9600}
    areas: {hold: CAGE B}
"""


def test_site_file_with_only_a_desk() -> None:
    cfg = parse_edge_site(SITE, "site.yaml").desk()
    assert (cfg.desk_id, cfg.areas.hold, cfg.areas.return_) == (
        "desk-1",
        "CAGE B",
        "RETURN TO SENDER",
    )
    assert cfg.store_path == Path("var/desk/desk-1")
    assert cfg.areas.area_for(Outcome.REJECT) == "MANUAL CODING"
    with pytest.raises(EdgeConfigError, match="no 'edges' entry"):
        parse_edge_site(SITE, "site.yaml").edge()
    with pytest.raises(EdgeConfigError, match="no desk 'desk-9'"):
        parse_edge_site(SITE, "site.yaml").desk("desk-9")


def test_site_file_errors_name_line_and_key() -> None:
    with pytest.raises(EdgeConfigError) as caught:
        parse_edge_site(SITE.replace("baudrate: 9600", "baudrate: fast"), "site.yaml")
    assert "site.yaml:8: desks.0.scale.serial.baudrate:" in str(caught.value)
    with pytest.raises(EdgeConfigError, match="used twice: \\['desk-1'\\]"):
        parse_edge_site(SITE + SITE.split("desks:\n")[1], "site.yaml")
    with pytest.raises(EdgeConfigError, match="needs an 'edges' or a 'desks' entry"):
        parse_edge_site("site: s1\n", "site.yaml")


# --- the whole desk, with a real broker ---------------------------------------------------


def probe(link: MqttLink, topic: str, probes: list[bytes]) -> bool:
    """Publish a probe and say whether one came back yet (the subscription is live)."""
    link.publish(topic, b"probe")
    return bool(probes)


def test_runtime_publishes_the_desk_events_to_the_broker(
    tmp_path: Path, no_xray_rules: RuleSet
) -> None:
    require_service("Mosquitto", "127.0.0.1", 1883)
    site = f"desk-test-{uuid.uuid4().hex[:8]}"
    got: list[EdgeEvent] = []
    probes: list[bytes] = []
    topic = edge_event_topic(site, "desk-1")

    def on_message(msg: Message) -> None:
        if msg.payload == b"probe":
            probes.append(msg.payload)
        else:
            got.append(EdgeEvent.model_validate_json(msg.payload))

    listener = MqttLink(LinkSettings(site=site, kind="test", device_id="listener"))
    results: list[DeskResult] = []
    with (
        HandScannerServer(HandScannerSpec(codes=(DECLARED,))) as scanner_sim,
        ScaleServer(ScaleSpec(weight_kg=1.2)) as scale_sim,
        listener,
    ):
        listener.subscribe(topic, on_message)
        listener.wait_connected(5)
        wait_until(lambda: probe(listener, topic, probes))
        cfg = desk_config(scanner_sim.address, scale_sim.address, tmp_path)
        cache = DeclarationCache(tmp_path / "cache.db")  # as the hub sync left it
        cache.store(
            [order(1), payment(1), waybill(1), inventory(1)],
            [(DocKind.INVENTORY, "AG001:COP00000001", 800)],
        )
        cache.close()
        runtime = DeskRuntime(site, cfg, no_xray_rules, on_result=results.append)
        runtime.start()
        try:
            wait_until(lambda: runtime.scanner.online is True)
            scanner_sim.trigger()
            wait_until(lambda: len(results) == 1)
            wait_until(lambda: {e.kind for e in got} >= {EventKind.DECIDED, EventKind.WEIGHED})
            wait_until(lambda: runtime.outbox.pending() == 0)
        finally:
            runtime.stop()
    assert results[0].outcome is Outcome.RELEASE
    parcel = [e for e in got if e.item_id == 1]
    assert kinds(parcel) == [EventKind.CODE_READ, EventKind.WEIGHED, EventKind.DECIDED]
    assert {e.site for e in got} == {site}


def test_runtime_decides_and_keeps_events_while_hub_and_broker_are_away(
    tmp_path: Path, no_xray_rules: RuleSet
) -> None:
    results: list[DeskResult] = []
    with (
        HandScannerServer(HandScannerSpec(codes=(DECLARED,))) as scanner_sim,
        ScaleServer(ScaleSpec(weight_kg=1.2)) as scale_sim,
    ):
        cfg = desk_config(scanner_sim.address, scale_sim.address, tmp_path).model_copy(
            update={"broker_url": "mqtt://127.0.0.1:1", "hub_url": "http://127.0.0.1:1"}
        )
        cache = DeclarationCache(tmp_path / "cache.db")
        cache.store([order(1), payment(1), waybill(1), inventory(1)],
                    [(DocKind.INVENTORY, "AG001:COP00000001", 800)])  # fmt: skip
        cache.close()
        runtime = DeskRuntime("s1", cfg, no_xray_rules, on_result=results.append)
        runtime.start()
        try:
            wait_until(lambda: runtime.scanner.online is True)
            scanner_sim.trigger()
            wait_until(lambda: len(results) == 1)
        finally:
            runtime.stop()
    assert results[0].outcome is Outcome.RELEASE
    outbox = Outbox(tmp_path / "outbox.db")  # reopened after the stop: still on disk
    try:
        kept = [EdgeEvent.model_validate_json(p.payload) for p in outbox.next_batch(100)]
    finally:
        outbox.close()
    assert [e.kind for e in kept if e.item_id == 1] == [
        EventKind.CODE_READ,
        EventKind.WEIGHED,
        EventKind.DECIDED,
    ]
