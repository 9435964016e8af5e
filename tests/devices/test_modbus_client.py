"""ModbusEndpoint against a real Modbus TCP server on 127.0.0.1 (ephemeral ports)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from devices.errors import DeviceUnavailable, ProtocolError
from devices.modbus_client import ModbusEndpoint
from devices.modbus_maps import RegisterWrite
from simulators.faults import FaultProfile
from simulators.modbus_sims.server import LoopThread, ModbusSimServer


class _Image:
    """20 registers; 0..9 read-only, 10..19 writable."""

    size = 20

    def __init__(self) -> None:
        self.regs = list(range(100, 120))

    def read(self, address: int, count: int) -> list[int]:
        return self.regs[address : address + count]

    def write(self, address: int, values: list[int]) -> None:
        if address < 10:
            raise ValueError("read-only")
        self.regs[address : address + len(values)] = values


@contextmanager
def served(image: Any, **options: Any) -> Iterator[ModbusSimServer]:
    loop = LoopThread().start()
    server = ModbusSimServer(image, name="test", **options)
    try:
        loop.call(server.start())
        yield server
    finally:
        loop.stop(server.stop)


class FakeTime:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(s)


def _endpoint(port: int, **options: Any) -> ModbusEndpoint:
    options.setdefault("timeout_s", 0.2)
    return ModbusEndpoint("127.0.0.1", port, device_id="dev1", **options)


def test_read_and_write_round_trip() -> None:
    image = _Image()
    with (
        served(image) as server,
        _endpoint(server.port) as ep,
    ):
        assert ep.read_holding(0, 3) == [100, 101, 102]
        ep.write_registers(10, [7, 8])
        ep.write_many([RegisterWrite(12, (9,)), RegisterWrite(19, (65535,))])
        assert image.regs[10:13] == [7, 8, 9]
        assert ep.read_holding(10, 10)[-1] == 65535
        assert ep.online
        assert ep.transactions == 5


def test_refused_requests_are_protocol_errors() -> None:
    with (
        served(_Image()) as server,
        _endpoint(server.port) as ep,
    ):
        with pytest.raises(ProtocolError, match="illegal data address"):
            ep.write_registers(0, [1])
        with pytest.raises(ProtocolError, match="illegal data address"):
            ep.read_holding(15, 10)  # runs past register 19
        assert ep.read_holding(0, 1) == [100]  # the connection is still fine


def test_another_unit_id_is_unavailable() -> None:
    with (
        served(_Image()) as server,
        _endpoint(server.port, unit=5) as ep,
        pytest.raises(DeviceUnavailable, match="gateway target"),
    ):
        ep.read_holding(0, 1)


def test_error_replies_raise_unavailable_without_an_outage() -> None:
    with (
        served(_Image(), faults=FaultProfile(error_rate=1.0)) as server,
        _endpoint(server.port) as ep,
    ):
        for _ in range(4):
            with pytest.raises(DeviceUnavailable, match="device busy"):
                ep.read_holding(0, 1)
        assert ep.online


def test_dropped_replies_time_out_and_become_an_outage(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="devices.modbus_client")
    with (
        served(_Image(), faults=FaultProfile(drop_rate=1.0)) as server,
        _endpoint(server.port, timeout_s=0.1, failures_for_outage=2) as ep,
    ):
        with pytest.raises(DeviceUnavailable, match="failed"):
            ep.read_holding(0, 1)
        assert ep.online  # one lost reply is not an outage
        for _ in range(3):
            with pytest.raises(DeviceUnavailable):
                ep.read_holding(0, 1)
        assert not ep.online
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "unavailable" in warnings[0].getMessage()


def test_cut_connection_reconnects_at_once() -> None:
    with (
        served(_Image(), faults=FaultProfile(disconnect_after=3)) as server,
        _endpoint(server.port) as ep,
    ):
        ep.read_holding(0, 1)
        ep.read_holding(0, 1)
        with pytest.raises(DeviceUnavailable):
            ep.read_holding(0, 1)  # the server cuts the connection on frame 3
        assert ep.read_holding(0, 2) == [100, 101]  # new connection, no back-off
    assert server.disconnects == 1


def test_outage_back_off_and_recovery_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="devices.modbus_client")
    clock = FakeTime()
    image = _Image()
    with served(image) as server:
        port = server.port
        ep = _endpoint(port, monotonic=clock, sleep=clock.sleep, backoff_initial_s=1.0)
        assert ep.read_holding(0, 1) == [100]
    # the server is gone: connect fails, the back-off starts
    with pytest.raises(DeviceUnavailable, match=r"failed|cannot connect"):
        ep.read_holding(0, 1)
    with pytest.raises(DeviceUnavailable, match="cannot connect"):
        ep.read_holding(0, 1)
    assert not ep.online
    with pytest.raises(DeviceUnavailable, match=r"next try in 1\.00 s"):
        ep.read_holding(0, 1)  # inside the back-off: no network access at all
    clock.t += 1.5
    with pytest.raises(DeviceUnavailable, match="cannot connect"):
        ep.read_holding(0, 1)
    with pytest.raises(DeviceUnavailable, match=r"next try in 2\.00 s"):
        ep.read_holding(0, 1)  # the back-off doubled
    with served(image, port=port):
        clock.t += 2.5
        assert ep.read_holding(1, 1) == [101]
        assert ep.online
        ep.close()
    levels = [
        (r.levelno, r.getMessage())
        for r in caplog.records
        if r.levelno >= logging.INFO and r.name == "devices.modbus_client"
    ]
    assert [lvl for lvl, _ in levels] == [logging.WARNING, logging.INFO]
    assert "unavailable" in levels[0][1]
    assert "back online" in levels[1][1]


def test_frame_gap_is_kept_between_transactions() -> None:
    clock = FakeTime()
    with (
        served(_Image()) as server,
        _endpoint(server.port, monotonic=clock, sleep=clock.sleep, frame_gap_s=0.004) as ep,
    ):
        ep.read_holding(0, 1)
        ep.read_holding(0, 1)
        clock.t += 1.0
        ep.read_holding(0, 1)
    assert clock.slept == [pytest.approx(0.004)]


@pytest.mark.parametrize(
    ("address", "count", "message"),
    [(0, 0, "count"), (0, 126, "count"), (65535, 2, "outside"), (-1, 1, "outside")],
)
def test_bad_ranges_are_refused_before_any_io(address: int, count: int, message: str) -> None:
    ep = _endpoint(1)
    with pytest.raises(ValueError, match=message):
        ep.read_holding(address, count)


def test_bad_values_and_settings_are_refused() -> None:
    ep = _endpoint(1)
    with pytest.raises(ValueError, match="65536"):
        ep.write_registers(10, [65536])
    with pytest.raises(ValueError, match="unit"):
        _endpoint(1, unit=300)
    with pytest.raises(ValueError, match="port"):
        _endpoint(0)
