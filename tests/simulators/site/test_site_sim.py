"""The whole line on simulators, seen only through real transports by plain clients."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pymodbus.client import ModbusTcpClient
from typer.testing import CliRunner

from contracts import registers as reg
from contracts.statuses import ReadStatus
from contracts.topics import parse_xray_image_topic, xray_image_filter
from devices import modbus_maps as mm
from devices.codecs import tunnel
from devices.codecs.base import Garbled
from devices.codecs.tunnel import TunnelFrame
from devices.mqtt_link import LinkSettings, Message, MqttLink
from devices.xray_image import decode_png
from edge.config import load_edge_site
from inspection.rules import load_rules
from simulators.broker import EmbeddedBroker
from simulators.cli import sim_app
from simulators.faults import FaultProfile
from simulators.line.config import LineConfig, LineConfigError, load_site, parse_site
from simulators.scenario import Case, Mix, generate
from simulators.site import FeedError, ItemResult, ParcelFeed, SiteSimulation
from simulators.site.scanner import TunnelGate
from simulators.tunnel_reads import ReadFault
from tests.waiting import wait_until

SITE = "t-site"
PARCELS = 30
# 2 m/s: scanner at 0.5 s, decision point at 1.5 s (1 s to answer), reject chute at 3 s.
LINE: dict[str, Any] = {
    "name": "t1",
    "belt_speed_m_s": 2.0,
    "scanner_m": 1.0,
    "checkweigher_m": 1.4,
    "xray_m": 1.8,
    "decision_point_m": 3.0,
    "loop_length_m": 8.0,
    "reject_chute": 99,
    "recirculation_limit": 1,
    "induction": {"rate_per_h": 36_000, "mode": "fixed", "min_gap_m": 0.05},
    "chutes": [
        {"number": 1, "position_m": 3.5, "capacity": 100, "drain_per_h": 36_000},
        {"number": 2, "position_m": 4.0, "capacity": 100, "drain_per_h": 36_000},
        {"number": 10, "position_m": 4.5, "capacity": 100, "drain_per_h": 36_000},
        {"number": 99, "position_m": 6.0, "capacity": 1000, "drain_per_h": 36_000},
    ],
    "plc": {"port": 0},
    "checkweigher": {"port": 0},
    "scanner": {"port": 0},
    "xray": {"device_id": "xr1", "width_px": 128},
}
ANSWER_CHUTES = (1, 2, 10)


def line(**changes: Any) -> LineConfig:
    return LineConfig.model_validate({**LINE, **changes})


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scenario")
    mix = Mix(shares={Case.NO_READ: 0.1, Case.MULTI_READ_CONFLICT: 0.1})
    generate(parcels=PARCELS, seed=5, out=out, rules=load_rules(), mix=mix)
    return out


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


def truths(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (folder / "parcels.jsonl").read_text().splitlines()]


def modbus(port: int) -> Any:
    client: Any = ModbusTcpClient("127.0.0.1", port=port, timeout=1.0, retries=0)
    assert client.connect()
    return client


def read_frames(sock: socket.socket, buffer: bytearray) -> list[TunnelFrame]:
    """Read what is waiting on ``sock`` and decode every complete frame."""
    sock.settimeout(0.0)
    try:
        while chunk := sock.recv(65536):
            buffer += chunk
    except (BlockingIOError, TimeoutError):
        pass
    frames: list[TunnelFrame] = []
    while True:
        used, frame = tunnel.decode(bytes(buffer))
        del buffer[:used]
        if frame is None:
            return frames
        assert not isinstance(frame, Garbled), frame
        frames.append(frame)


def first_frames(sock: socket.socket, limit_s: float = 10.0) -> list[TunnelFrame]:
    """Wait (up to ``limit_s``) for frames on ``sock`` and return those that came."""
    buffer, until = bytearray(), time.monotonic() + limit_s
    while not (frames := read_frames(sock, buffer)) and time.monotonic() < until:
        time.sleep(0.05)
    return frames


def wait_clients(sim: SiteSimulation, n: int) -> None:
    wait_until(lambda: sim.scanner_clients >= n, 5.0, "the scanner's hosts connected")


class Responder:
    """A scripted host on the PLC's Modbus registers: answers each request, in turn."""

    def __init__(self, port: int) -> None:
        self.client = modbus(port)
        self.seen = 0
        self.reply_head = 0
        self.turn = 0
        self.answers: dict[int, int] = {}

    def poll(self) -> None:
        start, count = reg.PLC_READ_BLOCKS[0]
        block = self.client.read_holding_registers(start, count=count, device_id=1)
        assert not block.isError()
        got = mm.read_requests(block.registers, start, self.seen)
        self.seen = got.head
        for request in got.entries:
            chute = self.answers.setdefault(
                request.item_id, ANSWER_CHUTES[self.turn % len(ANSWER_CHUTES)]
            )
            self.turn += 1
            writes, self.reply_head = mm.reply_writes(
                self.reply_head, [(request.item_id, chute, 0)]
            )
            for w in writes:
                done = self.client.write_registers(w.address, list(w.values), device_id=1)
                assert not done.isError()


def test_every_device_speaks_for_every_item(
    scenario: Path, broker: EmbeddedBroker, tmp_path: Path
) -> None:
    images: queue.Queue[Message] = queue.Queue()
    viewer = MqttLink(LinkSettings(url=broker.url, site=SITE, kind="test", device_id="viewer"))
    viewer.subscribe(xray_image_filter(SITE), images.put)
    sim = SiteSimulation(line(), site=SITE, broker_url=broker.url, scenario=scenario, seed=2)
    with viewer, sim.start(belt=False):
        viewer.wait_connected(5.0)
        scanner = socket.create_connection(("127.0.0.1", sim.scanner_port))
        weigher = modbus(sim.checkweigher_port)
        responder = Responder(sim.plc_port)
        try:
            wait_clients(sim, 1)
            sim.start_belt()
            weighed: dict[int, tuple[float, int]] = {}
            deadline = time.monotonic() + 20.0
            while not sim.wait_done(0.0):
                assert time.monotonic() < deadline, sim.stats()
                responder.poll()
                regs = weigher.read_holding_registers(0, count=6, device_id=1)
                reading = mm.decode_checkweigher(regs.registers)
                if reading.weigh_seq:
                    weighed.setdefault(reading.item_id, (reading.weight_kg, reading.weigh_seq))
                time.sleep(0.01)
            assert sim.wait_done(10.0)
            frames = read_frames(scanner, bytearray())
        finally:
            scanner.close()
            weigher.close()
            responder.client.close()
        results = {r.item_id: r for r in sim.results()}
        sim.write_results(tmp_path / "results.jsonl")
        got: list[Message] = []
        deadline = time.monotonic() + 10.0
        while len(got) < PARCELS and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                got.append(images.get(timeout=0.2))

    truth = {t["seq"]: t for t in truths(scenario)}
    # every parcel of the scenario entered once, in order, and left the belt where it was sent
    assert sorted(r.seq for r in results.values()) == list(range(1, PARCELS + 1))
    for r in results.values():
        assert r.labels == tuple(truth[r.seq]["labels"])
        assert r.status == "diverted", r
        assert r.chute == responder.answers[r.item_id]
        assert r.answered and r.recirculations == 0
        assert r.frame_sent and r.image_published
    # the tunnel scanner: exactly one well-formed frame per item, with that parcel's labels
    assert sorted(f.item_id for f in frames) == sorted(results)
    statuses: Counter[ReadStatus] = Counter()
    for f in frames:
        labels = results[f.item_id].labels
        assert f.codes == tuple("]C0" + x for x in labels)
        expected = {0: ReadStatus.NOREAD, 1: ReadStatus.OK}.get(len(labels), ReadStatus.MULTI)
        assert f.status is expected
        statuses[f.status] += 1
    assert statuses[ReadStatus.NOREAD] >= 1 and statuses[ReadStatus.MULTI] >= 1
    # the checkweigher: each item's true weight (within its noise) under its own item_id
    # The registers hold the latest reading only: a poll slowed down by a busy machine misses
    # some items, but every reading it saw is right and the weighing count reached them all.
    assert len(weighed) >= PARCELS // 2
    for item_id, (kg, _) in weighed.items():
        assert kg == pytest.approx(results[item_id].weight_kg, abs=3e-3)
    seqs = [s for _, s in sorted(weighed.values(), key=lambda v: v[1])]
    assert seqs == sorted(set(seqs)) and seqs[-1] == PARCELS
    # the X-ray: one 16-bit stacked PNG per item on its own topic
    assert Counter(parse_xray_image_topic(m.topic).item_id for m in got) == Counter(list(results))
    for m in got[:3]:
        image = decode_png(m.payload)
        assert image.low.dtype.name == "uint16"
        assert image.low.shape == image.high.shape == (96, 128)
    # results.jsonl: one line per inducted item, each with a final disposition
    lines = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [x["item_id"] for x in lines] == [r.item_id for r in sim.results()]
    assert all(x["status"] == "diverted" and x["chute"] in ANSWER_CHUTES for x in lines)


def test_unplugged_scanner_sends_nothing_until_plugged_back() -> None:
    sim = SiteSimulation(line(), site=SITE, broker_url=None, seed=3)
    with sim.start(belt=False):
        host = socket.create_connection(("127.0.0.1", sim.scanner_port))
        wait_clients(sim, 1)
        sim.start_belt()
        before = first_frames(host)
        assert before, "no frame before the unplug"
        sim.unplug_scanner()
        host.settimeout(2.0)
        rest = b""
        while chunk := host.recv(4096):  # the connection ends
            rest += chunk
        host.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", sim.scanner_port), timeout=1.0)
        lost = sim.stats()["frames_lost"]
        # items keep passing the dead scanner
        wait_for(sim, "frames lost", lambda: sim.stats()["frames_lost"] > lost + 2)
        sim.plug_scanner()
        host = socket.create_connection(("127.0.0.1", sim.scanner_port))
        try:
            wait_clients(sim, 1)
            after = first_frames(host)
        finally:
            host.close()
    last_before = max(f.item_id for f in before)
    assert after and min(f.item_id for f in after) > last_before + 2
    scanned = [r for r in sim.results() if r.scanned_s is not None]
    assert any(not r.frame_sent for r in scanned)


def wait_for(sim: SiteSimulation, what: str, test: Any, timeout_s: float = 5.0) -> None:
    wait_until(test, timeout_s, lambda: f"{what}: {sim.stats()}")


def test_stuck_checkweigher_then_estop_accounts_for_every_item(scenario: Path) -> None:
    sim = SiteSimulation(line(), site=SITE, broker_url=None, scenario=scenario, seed=4)
    with sim.start():
        weigher = modbus(sim.checkweigher_port)
        plc = modbus(sim.plc_port)
        try:
            sim.set_checkweigher_faults(FaultProfile(stuck_value=True))
            readings: list[mm.CheckweigherReading] = []
            deadline = time.monotonic() + 5.0
            while not readings or readings[-1].weigh_seq < 6:
                assert time.monotonic() < deadline, readings
                regs = weigher.read_holding_registers(0, count=6, device_id=1).registers
                readings.append(mm.decode_checkweigher(regs))
                time.sleep(0.02)
            weighed = {r.weigh_seq: r for r in readings if r.weigh_seq}
            assert len({r.item_id for r in weighed.values()}) >= 4  # items kept crossing ...
            # ... under a frozen weight (the first item may have been weighed before the fault)
            assert len({r.weight_kg for r in weighed.values() if r.weigh_seq >= 2}) == 1
            sim.estop()
            assert plc.read_holding_registers(1, count=1, device_id=1).registers == [2]
            aborted = [r for r in sim.results() if r.status == "aborted"]
            assert aborted, "items on the belt were not aborted"
            count = len(sim.results())
            # three induction periods (10 parcels/s) pass on the line's clock: nothing enters
            stopped_at = sim.line_time_s()
            wait_until(lambda: sim.line_time_s() >= stopped_at + 0.3, 5.0, "line time passing")
            assert len(sim.results()) == count  # induction stopped
            sim.reset()
            assert plc.read_holding_registers(1, count=1, device_id=1).registers == [1]
            assert sim.wait_done(15.0), sim.stats()
        finally:
            weigher.close()
            plc.close()
    results: list[ItemResult] = sim.results()
    assert sorted(r.seq for r in results) == list(range(1, PARCELS + 1))
    assert all(r.finished for r in results)
    # no host answered: everything not aborted went to the reject chute
    assert {r.status for r in results} == {"aborted", "no_answer"}
    assert {r.chute for r in results if r.status == "no_answer"} == {99}


def test_images_resume_after_a_broker_restart() -> None:
    broker = EmbeddedBroker().start()
    try:
        sim = SiteSimulation(line(), site=SITE, broker_url=broker.url, seed=6)
        with sim:
            wait_for(sim, "first images", lambda: sim.stats()["images_published"] >= 2)
            broker.stop()
            # a publish fails only once its acknowledgement wait (5 s) has run out
            failing = lambda: sim.stats()["images_failed"] >= 2  # noqa: E731
            wait_for(sim, "images failing", failing, timeout_s=20.0)
            broker.start()
            published = sim.stats()["images_published"]
            wait_for(sim, "images again", lambda: sim.stats()["images_published"] > published + 1)
            stats = sim.stats()
        assert stats["frames_sent"] == 0 and stats["frames_lost"] > 0  # nobody on the scanner
    finally:
        broker.stop()
    missing = [r for r in sim.results() if r.imaged_s is not None and not r.image_published]
    assert len(missing) >= 2  # imaged while the broker was away: accounted as not published


# --- pieces: frames, feed, site file, command line ---------------------------------------


@pytest.mark.parametrize(
    ("labels", "frame"),
    [
        ((), b"\x02000007;NOREAD;\x03"),
        (("RR123456785CN",), b"\x02000007;OK;]C0RR123456785CN\x03"),
        (("YT1", "YT2"), b"\x02000007;MULTI;]C0YT1,]C0YT2\x03"),
    ],
)
def test_gate_frame_bytes(labels: tuple[str, ...], frame: bytes) -> None:
    emitter = TunnelGate(line().scanner).emitter
    assert emitter.frame(7, labels, ReadFault.NONE) == frame
    assert emitter.frame(7, labels, ReadFault.NOREAD) == b"\x02000007;NOREAD;\x03"


def test_gate_frame_refuses_a_label_with_a_field_separator() -> None:
    with pytest.raises(ValueError, match="reserved character"):
        TunnelGate(line().scanner).emitter.frame(1, ("A;B",), ReadFault.NONE)


def test_feed_reads_in_order_and_names_a_bad_line(scenario: Path, tmp_path: Path) -> None:
    feed = ParcelFeed.from_scenario(scenario)
    seqs = []
    while feed.more:
        seqs.append(feed.take().seq)
    assert seqs == list(range(1, PARCELS + 1))
    with pytest.raises(FeedError, match="no parcel left"):
        feed.take()
    bad = tmp_path / "bad"
    bad.mkdir()
    good = (scenario / "parcels.jsonl").read_text().splitlines()[0]
    (bad / "parcels.jsonl").write_text(good + "\n" + good.replace('"weight_kg":', '"weight":'))
    feed = ParcelFeed.from_scenario(bad)
    feed.take()
    assert not feed.more
    assert feed.error is not None and "parcels.jsonl:2:" in str(feed.error)
    with pytest.raises(FeedError, match="not a scenario folder"):
        ParcelFeed.from_scenario(tmp_path)


def test_example_site_serves_both_the_simulator_and_the_edge() -> None:
    example = Path(__file__).resolve().parents[3] / "examples" / "site.yaml"
    site = load_site(example)
    edge = load_edge_site(example).edge()
    sim_line = site.line(edge.line)
    assert (edge.plc.host, edge.plc.port) == (sim_line.plc.host, sim_line.plc.port)
    assert edge.checkweigher is not None
    assert edge.checkweigher.port == sim_line.checkweigher.port
    assert edge.tunnel_scanner is not None
    assert edge.tunnel_scanner.serial.port == f"socket://127.0.0.1:{sim_line.scanner.port}"
    assert edge.tunnel_scanner.item_id_width == sim_line.scanner.item_id_width
    assert edge.xray is not None and edge.xray.device_id == sim_line.xray.device_id
    assert edge.broker_url == site.broker_url
    chutes = {c.number for c in sim_line.chutes}
    plan = edge.chutes
    assert {plan.inspect, plan.hold, plan.return_, plan.reject} | plan.release_chutes <= chutes
    assert plan.reject == sim_line.reject_chute


def test_site_file_errors_name_line_and_key() -> None:
    text = (
        "site: s\nlines:\n  - name: l\n    belt_speed_m_s: 1\n    scanner_m: 1\n"
        "    checkweigher_m: 2\n    xray_m: 3\n    decision_point_m: 5\n    loop_length_m: 20\n"
        "    reject_chute: 9\n    induction: {rate_per_h: 100}\n"
        "    chutes: [{number: 1, position_m: 6}, {number: 9, position_m: 8}]\n"
        "    scanner: {port: 5022, aim: 'C0'}\n    xray: {width_px: 10}\n"
        "edges: [{anything: goes}]\nhub: {url: x}\n"
    )
    with pytest.raises(LineConfigError) as caught:
        parse_site(text, "site.yaml")
    message = str(caught.value)
    assert "site.yaml:13: lines.0.scanner.aim:" in message
    assert "site.yaml:14: lines.0.xray.width_px:" in message
    fixed = text.replace("aim: 'C0'", "aim: ']E0'").replace("width_px: 10", "width_px: 512")
    cfg = parse_site(fixed, "site.yaml").line()
    assert (cfg.scanner.aim, cfg.xray.width_px) == ("]E0", 512)


def test_sim_line_command_runs_a_scenario_and_writes_results(
    scenario: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump({"site": SITE, "lines": [LINE]}))
    out = tmp_path / "results.jsonl"
    args = [
        "line",
        "--config",
        str(site),
        "--scenario",
        str(scenario),
        "--rate",
        "20",
        "--no-xray",
        "--results",
        str(out),
        "--seed",
        "1",
    ]
    result = CliRunner().invoke(sim_app, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["seq"] for x in lines] == list(range(1, PARCELS + 1))
    assert {(x["status"], x["chute"]) for x in lines} == {("no_answer", 99)}
    assert f"inducted {PARCELS}, finished {PARCELS}" in result.output
    bad = CliRunner().invoke(sim_app, ["line", "--config", str(site), "--mqtt-url", "http://x"])
    assert bad.exit_code == 2
    assert "mqtt[s]://HOST:PORT" in bad.output
