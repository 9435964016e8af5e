"""Serial adapters against their simulators over a real pty and over socket:// loopback."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from contracts.statuses import ReadStatus
from devices.adapters.base import PollThread
from devices.adapters.hand_scanner import HandScannerAdapter
from devices.adapters.scale import CommandRefusedError, ScaleAdapter
from devices.adapters.tunnel_scanner import TunnelScannerAdapter
from devices.errors import DeviceUnavailable
from devices.events import BarcodeRead, DeviceStateChanged
from devices.profiles import HandScannerProfile, ScaleProfile, SerialSettings, TunnelScannerProfile
from simulators.faults import FaultProfile, profile_named
from simulators.serial_sims import (
    HandScannerServer,
    HandScannerSpec,
    PtyLink,
    ScaleServer,
    ScaleSpec,
    TcpLink,
    TunnelServer,
    TunnelSpec,
)
from simulators.serial_sims.codes import DEFAULT_CODES
from simulators.serial_sims.links import Link
from tests.waiting import wait_until

TRANSPORTS = ["pty", "tcp"]


def link(transport: str) -> Link:
    return PtyLink() if transport == "pty" else TcpLink()


def serial(address: str) -> SerialSettings:
    return SerialSettings(port=address, reconnect_min_ms=20, reconnect_max_ms=100)


def collect(adapter: Any, count: int, timeout_s: float = 5.0) -> list[BarcodeRead]:
    """Poll until ``count`` frames (reads plus garbled ones) arrived, or the time is up."""
    reads: list[BarcodeRead] = []
    deadline = time.monotonic() + timeout_s
    while len(reads) + adapter.garbled < count and time.monotonic() < deadline:
        reads += adapter.poll(0.1)
    return reads


# scale, MT-SICS ---------------------------------------------------------------------------


def scale_profile(address: str, **extra: Any) -> ScaleProfile:
    options: dict[str, Any] = {"reply_timeout_ms": 150, "retries": 4} | extra
    return ScaleProfile(kind="scale", device_id="desk-scale", serial=serial(address), **options)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("fault", ["none", "slow", "split", "junk", "drop", "errors"])
def test_scale_reads_the_weight_under_fault(transport: str, fault: str) -> None:
    faults = profile_named(fault)
    with (
        ScaleServer(ScaleSpec(weight_kg=1.234), link(transport), faults, seed=3) as sim,
        ScaleAdapter(scale_profile(sim.address)) as scale,
    ):
        for item_id in range(12):
            m = scale.measure(item_id)
            assert (m.weight_kg, m.stable, m.item_id) == (1.234, True, item_id)
            assert not m.flags
        assert scale.online is True
        if fault == "errors":
            assert scale.bad_replies > 0
        if fault == "drop":
            assert sim.dropped > 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_scale_unstable_weight_is_reported_never_hidden(transport: str) -> None:
    with ScaleServer(ScaleSpec(), link(transport), profile_named("unstable"), seed=5) as sim:
        with ScaleAdapter(scale_profile(sim.address)) as scale:
            stable_cmd = [scale.measure() for _ in range(10)]
        with ScaleAdapter(scale_profile(sim.address, weigh_command="SI")) as scale:
            immediate = [scale.measure() for _ in range(10)]
    not_ready = [m for m in stable_cmd if m.weight_kg is None]
    assert not_ready
    assert all(m.flags == {"not_ready"} and not m.stable for m in not_ready)
    assert all(m.weight_kg == 1.234 and m.stable for m in stable_cmd if m.weight_kg is not None)
    moving = [m for m in immediate if not m.stable]
    assert moving
    assert all(
        m.flags == {"motion"} and m.weight_kg == pytest.approx(1.234, abs=0.05) for m in moving
    )


def test_scale_stuck_value_keeps_the_first_weight() -> None:
    with (
        ScaleServer(ScaleSpec(), faults=profile_named("stuck")) as sim,
        ScaleAdapter(scale_profile(sim.address)) as scale,
    ):
        assert scale.measure().weight_kg == 1.234
        sim.place(5.0)
        assert scale.measure().weight_kg == 1.234


def test_scale_zero_tare_and_clear_tare() -> None:
    with (
        ScaleServer(ScaleSpec(weight_kg=0.3)) as sim,
        ScaleAdapter(scale_profile(sim.address)) as scale,
    ):
        scale.zero()
        assert scale.measure().weight_kg == 0.0
        sim.place(2.3)
        assert scale.tare() == pytest.approx(2.0)
        assert scale.measure().weight_kg == 0.0
        sim.place(3.3)
        assert scale.measure().weight_kg == pytest.approx(1.0)
        scale.clear_tare()
        assert scale.measure().weight_kg == pytest.approx(3.0)
        with pytest.raises(CommandRefusedError, match="zero refused"):
            scale.zero()


@pytest.mark.parametrize(("load", "flag"), [(50.0, "overload"), (-2.0, "underload")])
def test_scale_out_of_range_gives_no_weight(load: float, flag: str) -> None:
    with (
        ScaleServer(ScaleSpec(weight_kg=load)) as sim,
        ScaleAdapter(scale_profile(sim.address)) as scale,
    ):
        m = scale.measure(7)
    assert (m.weight_kg, m.stable, m.flags) == (None, False, frozenset({flag}))


def test_scale_in_another_unit_than_its_profile_is_unavailable() -> None:
    with (
        ScaleServer(ScaleSpec(unit="lb")) as sim,
        ScaleAdapter(scale_profile(sim.address)) as scale,
    ):
        with pytest.raises(DeviceUnavailable, match="sends 'lb'"):
            scale.measure()
        assert scale.online is False


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_scale_disconnect_goes_offline_then_reconnects(transport: str) -> None:
    states: list[DeviceStateChanged] = []
    faults = profile_named("disconnect")  # every 20 frames
    with (
        ScaleServer(ScaleSpec(), link(transport), faults, outage_s=0.3) as sim,
        ScaleAdapter(
            scale_profile(sim.address, reply_timeout_ms=100, retries=1), on_state=states.append
        ) as scale,
    ):
        good, failures = 0, 0
        deadline = time.monotonic() + 8
        while (good < 30 or not failures) and time.monotonic() < deadline:
            try:
                assert scale.measure().weight_kg == 1.234
                good += 1
            except DeviceUnavailable:
                failures += 1
                threading.Event().wait(0.01)
        assert sim.disconnects >= 1
        assert failures >= 1
        assert good >= 30
        assert scale.online is True
    flips = [s.online for s in states]
    assert flips[0] is True
    assert False in flips
    assert flips[-1] is True
    assert all(s.device_id == "desk-scale" and s.kind == "scale" for s in states)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_scale_gone_raises_device_unavailable(transport: str) -> None:
    sim = ScaleServer(ScaleSpec(), link(transport))
    with sim, ScaleAdapter(scale_profile(sim.address, reply_timeout_ms=100, retries=0)) as scale:
        assert scale.measure().weight_kg == 1.234
        sim.stop()
        with pytest.raises(DeviceUnavailable):
            scale.measure()
        assert scale.online is False
        with pytest.raises(DeviceUnavailable):
            scale.measure()


# scale, Toledo continuous -----------------------------------------------------------------


def toledo_profile(address: str) -> ScaleProfile:
    return scale_profile(address, protocol="toledo_continuous", reply_timeout_ms=500)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("fault", ["none", "junk", "split", "errors"])
def test_toledo_stream_gives_the_weight_under_fault(transport: str, fault: str) -> None:
    spec = ScaleSpec(weight_kg=2.5, toledo=True, stream_hz=50)
    with (
        ScaleServer(spec, link(transport), profile_named(fault), seed=2) as sim,
        ScaleAdapter(toledo_profile(sim.address)) as scale,
    ):
        for item_id in range(4):
            m = scale.measure(item_id)
            assert (m.weight_kg, m.stable, m.flags) == (2.5, True, frozenset())


def test_toledo_motion_and_tare() -> None:
    unstable = FaultProfile(unstable_rate=1.0)
    spec = ScaleSpec(weight_kg=2.5, toledo=True, stream_hz=50)
    with (
        ScaleServer(spec, faults=unstable) as sim,
        ScaleAdapter(toledo_profile(sim.address)) as scale,
    ):
        m = scale.measure()
        assert not m.stable
        assert m.flags == {"motion"}
    with ScaleServer(spec) as sim, ScaleAdapter(toledo_profile(sim.address)) as scale:
        assert scale.tare() == 2.5
        m = scale.measure()
        assert (m.weight_kg, m.flags) == (0.0, frozenset({"net"}))
        scale.clear_tare()
        scale.zero()
        wait_until(lambda: scale.measure().weight_kg == 2.5)


# tunnel scanner ----------------------------------------------------------------------------


def tunnel_profile(address: str, **extra: Any) -> TunnelScannerProfile:
    return TunnelScannerProfile(
        kind="tunnel_scanner", device_id="tunnel-1", serial=serial(address), **extra
    )


def started(sim: TunnelServer | HandScannerServer) -> None:
    wait_until(lambda: sim.link.connected)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("fault", ["none", "slow", "split", "junk"])
def test_tunnel_reads_every_item_under_fault(transport: str, fault: str) -> None:
    with (
        TunnelServer(TunnelSpec(), link(transport), profile_named(fault), seed=4) as sim,
        TunnelScannerAdapter(tunnel_profile(sim.address)) as scanner,
    ):
        started(sim)
        for item_id in range(101, 111):
            sim.trigger(item_id)
        reads = collect(scanner, 10)
    assert [r.item_id for r in reads] == list(range(101, 111))
    assert all(r.status is ReadStatus.OK for r in reads)
    expected = [("]C1" + DEFAULT_CODES[i % len(DEFAULT_CODES)],) for i in range(10)]
    assert [r.codes for r in reads] == expected
    assert scanner.garbled == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_tunnel_no_reads_multi_reads_and_error_frames(transport: str) -> None:
    faults = FaultProfile(noread_rate=0.25, multiread_rate=0.25, error_rate=0.2)
    with (
        TunnelServer(TunnelSpec(), link(transport), faults, seed=11) as sim,
        TunnelScannerAdapter(tunnel_profile(sim.address, aim="strip")) as scanner,
    ):
        started(sim)
        for _ in range(40):
            sim.trigger()
        reads = collect(scanner, 40)
    assert scanner.garbled > 0
    assert len(reads) + scanner.garbled == 40
    by_status = {s: [r for r in reads if r.status is s] for s in ReadStatus}
    assert all(r.codes == () for r in by_status[ReadStatus.NOREAD])
    assert all(len(set(r.codes)) == 2 for r in by_status[ReadStatus.MULTI])
    assert by_status[ReadStatus.NOREAD]
    assert by_status[ReadStatus.MULTI]
    assert all(not c.startswith("]") for r in reads for c in r.codes)


def test_tunnel_dropped_frames_are_missing_not_invented() -> None:
    with (
        TunnelServer(TunnelSpec(), faults=profile_named("drop"), seed=8) as sim,
        TunnelScannerAdapter(tunnel_profile(sim.address)) as scanner,
    ):
        for _ in range(30):
            sim.trigger()
        wait_until(lambda: sim.frames_sent + sim.dropped == 30)
        reads = collect(scanner, 30 - sim.dropped)
    assert sim.dropped > 0
    assert len(reads) == 30 - sim.dropped
    assert len({r.item_id for r in reads}) == len(reads)


def test_tunnel_tcp_disconnect_then_reconnect() -> None:
    states: list[DeviceStateChanged] = []
    with (
        TunnelServer(TunnelSpec(), TcpLink(), profile_named("disconnect")) as sim,
        TunnelScannerAdapter(tunnel_profile(sim.address), on_state=states.append) as scanner,
    ):
        started(sim)
        for _ in range(20):
            sim.trigger()
        assert len(collect(scanner, 20)) == 20
        with pytest.raises(DeviceUnavailable):
            collect(scanner, 1, timeout_s=2)
        assert scanner.online is False

        def reconnected() -> bool:
            try:
                scanner.poll(0.01)
            except DeviceUnavailable:
                return False
            return sim.link.connected

        wait_until(reconnected)
        sim.trigger(500)
        assert [r.item_id for r in collect(scanner, 1)] == [500]
    assert [s.online for s in states] == [True, False, True]


def test_tunnel_gone_over_pty_raises_device_unavailable() -> None:
    sim = TunnelServer(TunnelSpec())
    with sim, TunnelScannerAdapter(tunnel_profile(sim.address)) as scanner:
        sim.trigger()
        assert len(collect(scanner, 1)) == 1
        sim.stop()
        with pytest.raises(DeviceUnavailable):
            collect(scanner, 1, timeout_s=2)
        assert scanner.online is False


def test_poll_thread_delivers_reads_and_stops() -> None:
    got: list[BarcodeRead] = []
    with (
        TunnelServer(TunnelSpec()) as sim,
        TunnelScannerAdapter(tunnel_profile(sim.address)) as scanner,
        PollThread(scanner, got.append, poll_s=0.05),
    ):
        for item_id in range(1, 6):
            sim.trigger(item_id)
        wait_until(lambda: len(got) == 5)
    assert [r.item_id for r in got] == [1, 2, 3, 4, 5]


# hand scanner ------------------------------------------------------------------------------


def hand_profile(address: str, **extra: Any) -> HandScannerProfile:
    return HandScannerProfile(
        kind="hand_scanner", device_id="desk-scan", serial=serial(address), **extra
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("fault", ["none", "slow", "split", "junk"])
def test_hand_scanner_reads_on_serial_trigger_under_fault(transport: str, fault: str) -> None:
    with (
        HandScannerServer(HandScannerSpec(), link(transport), profile_named(fault), seed=6) as sim,
        HandScannerAdapter(hand_profile(sim.address)) as scanner,
    ):
        reads: list[BarcodeRead] = []
        for _ in range(5):
            scanner.trigger()
            reads += collect(scanner, 1)
    assert [r.codes for r in reads] == [("]C1" + c,) for c in DEFAULT_CODES]
    assert all(r.item_id == 0 and r.status is ReadStatus.OK for r in reads)
    assert scanner.garbled == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_hand_scanner_vendor_no_read_and_garbled_lines(transport: str) -> None:
    spec = HandScannerSpec(no_read="ERROR", aim="")
    faults = FaultProfile(noread_rate=0.3, error_rate=0.2)
    with (
        HandScannerServer(spec, link(transport), faults, seed=9) as sim,
        HandScannerAdapter(hand_profile(sim.address, no_read_strings=("ERROR", "NR"))) as scanner,
    ):
        started(sim)
        for _ in range(30):
            sim.trigger()
        reads = collect(scanner, 30)
    assert scanner.garbled > 0
    assert len(reads) + scanner.garbled == 30
    noreads = [r for r in reads if r.status is ReadStatus.NOREAD]
    assert noreads
    assert all(r.codes == () for r in noreads)
    assert all(r.codes[0] in DEFAULT_CODES for r in reads if r.status is ReadStatus.OK)


def test_wrong_unit_is_logged_once_however_often_it_is_asked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    states: list[DeviceStateChanged] = []
    with (
        ScaleServer(ScaleSpec(unit="g")) as sim,
        ScaleAdapter(scale_profile(sim.address), on_state=states.append) as scale,
    ):
        for _ in range(3):
            with pytest.raises(DeviceUnavailable, match="sends 'g'"):
                scale.measure()
    assert [s.online for s in states] == [True, False]
    outages = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(outages) == 1
