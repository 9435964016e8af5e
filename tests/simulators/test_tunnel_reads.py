"""The one tunnel-frame emitter: fault precedence, frames, and the same reads on both servers."""

from __future__ import annotations

import asyncio

from contracts.statuses import ReadStatus
from devices.codecs import Garbled, tunnel
from devices.codecs.tunnel import TunnelFrame
from simulators.faults import FaultDice, FaultProfile
from simulators.line.config import ScannerServerConfig
from simulators.serial_sims.tunnel import TunnelRuntime, TunnelSpec
from simulators.site.scanner import TunnelGate
from simulators.tunnel_reads import ReadFault, TunnelEmitter, stray_label


def emitter(**faults: float) -> TunnelEmitter:
    return TunnelEmitter("]C1", 6, FaultDice(FaultProfile(**faults), 3))


def test_error_wins_over_noread_which_wins_over_multi() -> None:
    assert emitter(error_rate=1, noread_rate=1, multiread_rate=1).roll() is ReadFault.ERROR
    assert emitter(noread_rate=1, multiread_rate=1).roll() is ReadFault.NOREAD
    assert emitter(multiread_rate=1).roll() is ReadFault.MULTI
    assert emitter().roll() is ReadFault.NONE


def test_every_roll_takes_three_draws_whatever_the_rates() -> None:
    quiet, busy = emitter(), emitter(noread_rate=0.5, multiread_rate=0.5, error_rate=0.5)
    for _ in range(5):
        quiet.roll()
        busy.roll()
    assert quiet.dice.rng.random() == busy.dice.rng.random()


def test_frames_follow_the_fault_and_the_labels() -> None:
    e = emitter()
    assert tunnel.decode(e.frame(9, ("A1",), ReadFault.NONE))[1] == TunnelFrame(
        9, ReadStatus.OK, ("]C1A1",)
    )
    assert tunnel.decode(e.frame(9, ("A1",), ReadFault.NOREAD))[1] == TunnelFrame(
        9, ReadStatus.NOREAD
    )
    assert tunnel.decode(e.frame(9, ("A1", "B2"), ReadFault.MULTI))[1] == TunnelFrame(
        9, ReadStatus.MULTI, ("]C1A1", "]C1B2")
    )
    assert isinstance(tunnel.decode(e.frame(9, ("A1",), ReadFault.ERROR))[1], Garbled)
    assert stray_label(12) == "LBL00000012"


async def _gate_reads(faults: FaultProfile, labels: tuple[str, ...], count: int) -> list[object]:
    """Serve ``count`` items from the site's gate over TCP; return what a host decodes."""
    gate = TunnelGate(ScannerServerConfig(port=0), faults, seed=5)
    await gate.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", gate.port)
    try:
        async with asyncio.timeout(5):
            while gate.clients == 0:
                await asyncio.sleep(0.01)
            for item_id in range(1, count + 1):
                assert gate.scan(item_id, labels)
            data = b""
            while data.count(b"\x03") < count:
                data += await reader.read(4096)
    finally:
        writer.close()
        await gate.stop()
    return [tunnel.decode(part + b"\x03")[1] for part in data.split(b"\x03") if part]


def test_site_gate_sends_the_serial_tunnel_faults() -> None:
    """The site's gate now garbles and multi-reads like the serial tunnel: one emitter."""
    garbled = asyncio.run(_gate_reads(FaultProfile(error_rate=1.0), ("A1",), 3))
    assert len(garbled) == 3
    assert all(isinstance(frame, Garbled) for frame in garbled)
    multi = asyncio.run(_gate_reads(FaultProfile(multiread_rate=1.0), ("A1",), 2))
    assert multi == [
        TunnelFrame(1, ReadStatus.MULTI, ("]C0A1", "]C0" + stray_label(1))),
        TunnelFrame(2, ReadStatus.MULTI, ("]C0A1", "]C0" + stray_label(2))),
    ]
    serial = TunnelRuntime(TunnelSpec(codes=("A1",), aim="]C0"), FaultDice(FaultProfile(), 0))
    plain = asyncio.run(_gate_reads(FaultProfile(), ("A1",), 1))
    assert plain == [tunnel.decode(serial.scan(1))[1]]
