"""Serial simulators: runtimes (pure) and servers with faults over real links."""

from __future__ import annotations

import os
import socket
from decimal import Decimal
from pathlib import Path

import pytest

from contracts.statuses import ReadStatus
from devices.codecs import Garbled, drain, mtsics, toledo, tunnel
from devices.codecs.handscan import HandScanCodec, ScanLine
from devices.codecs.mtsics import Command, ErrorReply, StatusReply, WeightReply
from devices.codecs.toledo import HostCommand, ToledoCodec
from devices.codecs.tunnel import TunnelFrame
from simulators.faults import FaultDice, FaultProfile
from simulators.serial_sims import ScaleServer, ScaleSpec, TcpLink, TunnelServer, TunnelSpec
from simulators.serial_sims.codes import DEFAULT_CODES, read_codes_file, s10
from simulators.serial_sims.handscan import HandScannerRuntime, HandScannerSpec
from simulators.serial_sims.scale import ScaleRuntime
from simulators.serial_sims.tunnel import TunnelRuntime
from tests.waiting import wait_until

# runtimes ----------------------------------------------------------------------------------


def dice(seed: int = 0, **faults: float | bool | int) -> FaultDice:
    return FaultDice(FaultProfile(**faults), seed)


def test_s10_check_digits() -> None:
    assert s10("RR", 12345678, "CN") == "RR123456785CN"
    assert s10("EE", 47312482, "CN") == "EE473124829CN"  # the standard's worked example
    with pytest.raises(ValueError, match="8 digits"):
        s10("RR", 123456789, "CN")


def test_tunnel_runtime_cycles_codes_and_item_ids() -> None:
    rt = TunnelRuntime(TunnelSpec(first_item_id=41), dice())
    frames = [tunnel.decode(rt.scan())[1] for _ in range(3)] + [tunnel.decode(rt.scan(90))[1]]
    assert [f.item_id for f in frames if isinstance(f, TunnelFrame)] == [41, 42, 43, 90]
    assert frames[0] == TunnelFrame(41, ReadStatus.OK, ("]C1" + DEFAULT_CODES[0],))
    assert rt.next_item_id == 91


def test_tunnel_runtime_faults_are_seeded_and_reproducible() -> None:
    def run(seed: int) -> list[bytes]:
        rt = TunnelRuntime(TunnelSpec(), dice(seed, noread_rate=0.3, multiread_rate=0.3))
        return [rt.scan() for _ in range(30)]

    assert run(1) == run(1)
    assert run(1) != run(2)
    frames = [tunnel.decode(b)[1] for b in run(1)]
    statuses = {f.status for f in frames if isinstance(f, TunnelFrame)}
    assert statuses == {ReadStatus.OK, ReadStatus.NOREAD, ReadStatus.MULTI}


def test_tunnel_runtime_errors_stuck_and_single_code_multi_read() -> None:
    rt = TunnelRuntime(TunnelSpec(), dice(error_rate=1.0))
    assert isinstance(tunnel.decode(rt.scan())[1], Garbled)
    rt = TunnelRuntime(TunnelSpec(), dice(stuck_value=True))
    codes = {tunnel.decode(rt.scan())[1].codes for _ in range(5)}  # type: ignore[union-attr]
    assert codes == {("]C1" + DEFAULT_CODES[0],)}
    rt = TunnelRuntime(TunnelSpec(codes=("ONLY1",), aim=""), dice(multiread_rate=1.0))
    frame = tunnel.decode(rt.scan())[1]
    assert isinstance(frame, TunnelFrame)
    assert frame.status is ReadStatus.MULTI
    assert frame.codes[0] == "ONLY1"
    assert frame.codes[1] != "ONLY1"


def test_hand_scanner_runtime_lines() -> None:
    codec = HandScanCodec(("NR",))
    spec = HandScannerSpec(codes=("A1", "B2"), no_read="NR")
    assert HandScannerRuntime(spec, dice()).scan() == [b"]C1A1\r\n"]
    assert HandScannerRuntime(spec, dice(noread_rate=1.0)).scan() == [b"NR\r\n"]
    multi = HandScannerRuntime(spec, dice(multiread_rate=1.0)).scan()
    assert [drain(codec.decode, bytearray(b)) for b in multi] == [
        [ScanLine(ReadStatus.OK, "]C1A1")],
        [ScanLine(ReadStatus.OK, "]C1B2")],
    ]
    [bad] = HandScannerRuntime(spec, dice(error_rate=1.0)).scan()
    assert isinstance(drain(codec.decode, bytearray(bad))[0], Garbled)


def test_scale_runtime_answers_like_mt_sics() -> None:
    rt = ScaleRuntime(ScaleSpec(weight_kg=0.2), dice())
    kg = Decimal("0.200")
    assert rt.handle(Command.S) == WeightReply("S", True, kg, "kg")
    assert rt.handle(Command.SI) == WeightReply("S", True, kg, "kg")
    assert rt.handle(Command.Z) == StatusReply("Z", "A")
    assert rt.handle(Command.S) == WeightReply("S", True, Decimal("0.000"), "kg")
    rt.place(1.7)
    assert rt.handle(Command.T) == WeightReply("T", True, Decimal("1.500"), "kg")
    rt.place(2.0)
    assert rt.handle(Command.S) == WeightReply("S", True, Decimal("0.300"), "kg")
    assert rt.handle(Command.TAC) == StatusReply("TAC", "A")
    assert rt.handle(Command.ZI) == StatusReply("ZI", "+")
    rt.place(40.0)
    assert rt.handle(Command.S) == StatusReply("S", "+")
    assert rt.handle(Garbled(b"XX", "unknown")) == ErrorReply(mtsics.ErrorCode.ES)


def test_scale_runtime_units_faults_and_toledo_frames() -> None:
    rt = ScaleRuntime(ScaleSpec(weight_kg=0.45359237, unit="lb", decimals=2), dice())
    assert rt.handle(Command.S) == WeightReply("S", True, Decimal("1.00"), "lb")
    shaky = ScaleRuntime(ScaleSpec(), dice(unstable_rate=1.0))
    assert shaky.handle(Command.S) == StatusReply("S", "I")
    moving = shaky.handle(Command.SI)
    assert isinstance(moving, WeightReply)
    assert not moving.stable
    assert isinstance(ScaleRuntime(ScaleSpec(), dice(error_rate=1.0)).handle(Command.S), ErrorReply)

    codec = ToledoCodec()
    rt = ScaleRuntime(ScaleSpec(weight_kg=2.5, toledo=True), dice())
    frame = toledo.decode(rt.toledo_frame(codec))[1]
    assert isinstance(frame, toledo.ToledoFrame)
    assert frame.weight == Decimal("2.500")
    rt.host_command(HostCommand.TARE)
    frame = toledo.decode(rt.toledo_frame(codec))[1]
    assert isinstance(frame, toledo.ToledoFrame)
    assert (frame.net, frame.weight, frame.tare) == (True, Decimal(0), Decimal("2.5"))
    bad = ScaleRuntime(ScaleSpec(toledo=True), dice(error_rate=1.0)).toledo_frame(codec)
    assert toledo.decode(bad)[1] == Garbled(bad, "bad checksum")


@pytest.mark.parametrize("spec_args", [{"codes": ()}, {"rate_hz": -1.0}, {"first_item_id": -5}])
def test_bad_specs_are_refused(spec_args: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="tunnel spec"):
        TunnelSpec(**spec_args)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scale spec"):
        ScaleSpec(decimals=9)


# servers over real links -------------------------------------------------------------------


def recv_until(sock: socket.socket, count: int, timeout_s: float = 3.0) -> bytes:
    sock.settimeout(timeout_s)
    data = b""
    while len(data) < count:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_scale_server_answers_a_plain_tcp_client() -> None:
    link = TcpLink()
    with (
        ScaleServer(ScaleSpec(weight_kg=1.234), link),
        socket.create_connection(("127.0.0.1", link.port)) as sock,
    ):
        sock.sendall(b"S\r\nBOGUS\r\n")
        assert recv_until(sock, 23) == b"S S      1.234 kg\r\nES\r\n"


def test_tunnel_server_splits_and_junks_frames_but_bytes_stay_decodable() -> None:
    faults = FaultProfile(split_rate=1.0, junk_rate=1.0)
    link = TcpLink()
    with (
        TunnelServer(TunnelSpec(), link, faults, seed=3) as sim,
        socket.create_connection(("127.0.0.1", link.port)) as sock,
    ):
        wait_until(lambda: sim.link.connected, 3, "host connected")
        for item_id in (1, 2, 3):
            sim.trigger(item_id)
        data = bytearray()
        frames: list[TunnelFrame | Garbled] = []
        sock.settimeout(3)
        while len(frames) < 3:
            data += sock.recv(4096)
            frames += drain(tunnel.decode, data)
    assert [f.item_id for f in frames if isinstance(f, TunnelFrame)] == [1, 2, 3]
    assert sim.frames_sent == 3


def test_tcp_disconnect_fault_hangs_up_and_accepts_again() -> None:
    faults = FaultProfile(disconnect_after=2)
    link = TcpLink()
    with ScaleServer(ScaleSpec(), link, faults) as sim:
        port = link.port
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"S\r\nS\r\n")
            assert recv_until(sock, 100).count(b"kg") == 2  # then EOF: the scale hung up
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"S\r\n")
            assert recv_until(sock, 19) == b"S S      1.234 kg\r\n"
        assert sim.disconnects == 1


def test_drop_fault_counts_what_it_swallowed() -> None:
    link = TcpLink()
    with ScaleServer(ScaleSpec(), link, FaultProfile(drop_rate=1.0)) as sim:
        with socket.create_connection(("127.0.0.1", link.port)) as sock:
            sock.sendall(b"S\r\n")
            sock.settimeout(0.2)
            with pytest.raises(TimeoutError):
                sock.recv(10)
        assert sim.dropped == 1


def test_server_stops_cleanly_without_a_client() -> None:
    sim = TunnelServer(TunnelSpec(rate_hz=50))
    sim.start()
    assert os.path.exists(sim.address)
    wait_until(lambda: sim.frames_sent >= 2, 3, "two frames sent")
    sim.stop()
    assert not os.path.exists(sim.address)


# codes file --------------------------------------------------------------------------------


def test_codes_file(tmp_path: Path) -> None:
    good = tmp_path / "codes.txt"
    good.write_text("# parcels\nRR123456785CN\n\n  HA100000017CN  \n", encoding="utf-8")
    assert read_codes_file(good) == ("RR123456785CN", "HA100000017CN")
    bad = tmp_path / "bad.txt"
    bad.write_text("A;B\n", encoding="utf-8")
    with pytest.raises(ValueError, match="code #1"):
        read_codes_file(bad)
    (tmp_path / "empty.txt").write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no codes"):
        read_codes_file(tmp_path / "empty.txt")
