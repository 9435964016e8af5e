"""SerialBus: ownership, reconnect back-off, outage logging, timeouts and real pty/TCP I/O."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tty
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import serial

from contracts.statuses import ReadStatus
from devices.codecs import mtsics, tunnel
from devices.codecs.mtsics import WeightReply
from devices.codecs.tunnel import TunnelFrame
from devices.errors import DeviceError, DeviceUnavailable
from devices.profiles import SerialSettings
from devices.serial_bus import NoReply, SerialBus


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class FailingOpener:
    """Stands in for ``serial.serial_for_url``: fails until told otherwise, records calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = True

    def __call__(self, url: str, **kwargs: Any) -> Any:
        self.calls.append((url, kwargs))
        if self.fail:
            raise serial.SerialException(f"could not open port {url}: [Errno 2] No such file")
        return serial.serial_for_url("loop://", timeout=0)


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    for fd in (master, slave):
        with contextlib.suppress(OSError):
            os.close(fd)


def settings(port: str, **extra: Any) -> SerialSettings:
    return SerialSettings(port=port, reconnect_min_ms=500, reconnect_max_ms=4000, **extra)


def test_reconnect_backs_off_doubling_and_logs_the_outage_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, opener = FakeClock(), FailingOpener()
    states: list[tuple[bool, str]] = []
    bus = SerialBus(
        settings("/dev/ttyX9"),
        "scale-1",
        listener=lambda on, d: states.append((on, d)),
        opener=opener,
        monotonic=clock,
    )
    caplog.set_level(logging.INFO, logger="devices.serial_bus")
    with bus:
        waits = []
        for _ in range(5):
            with pytest.raises(DeviceUnavailable) as err:
                bus.connect()
            assert isinstance(err.value.__cause__, serial.SerialException)
            with pytest.raises(DeviceUnavailable, match="next attempt in"):
                bus.connect()  # inside the back-off: no new attempt
            waits.append(bus._retry_at - clock.t)
            clock.t = bus._retry_at
        assert waits == [0.5, 1.0, 2.0, 4.0, 4.0]
        assert len(opener.calls) == 5
        opener.fail = False
        bus.connect()
        assert bus.online is True
    assert [on for on, _ in states] == [False, True]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    infos = [r for r in caplog.records if "available (" in r.getMessage()]
    assert len(warnings) == 1
    assert "ttyX9" in warnings[0].getMessage()
    assert len(infos) == 1


def test_line_settings_reach_the_port_7e1() -> None:
    opener = FailingOpener()
    opener.fail = False
    cfg = settings("/dev/ttyS0", baudrate=4800, bytesize=7, parity="E", read_timeout_ms=250)
    with SerialBus(cfg, "desk", opener=opener) as bus:
        bus.connect()
    _, kwargs = opener.calls[0]
    assert kwargs["baudrate"] == 4800
    assert (kwargs["bytesize"], kwargs["parity"], kwargs["stopbits"]) == (7, "E", 1)
    assert kwargs["timeout"] == 0.25


def test_one_owner_per_port() -> None:
    cfg = settings("/dev/ttyOwned")
    with (
        SerialBus(cfg, "first"),
        pytest.raises(DeviceError, match="already owned by device first"),
    ):
        SerialBus(cfg, "second").open()
    with SerialBus(cfg, "second") as bus:
        assert bus.url == "/dev/ttyOwned"


def test_io_before_open_is_refused() -> None:
    with pytest.raises(DeviceError, match="not open"):
        SerialBus(settings("/dev/ttyNone"), "x").connect()


def test_read_frames_over_a_pty_reassembles_and_times_out(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    frame = tunnel.encode(TunnelFrame(5, ReadStatus.OK, ("]C1RR123456785CN",)))
    with SerialBus(settings(path), "tunnel-1") as bus:
        assert bus.read_frames(tunnel.decode, 0.05) == []
        os.write(master, b"junk" + frame[:7])
        assert bus.read_frames(tunnel.decode, 0.05) == []
        os.write(master, frame[7:] + frame)
        got = bus.read_frames(tunnel.decode, 0.5)
        got += bus.read_frames(tunnel.decode, 0.05) if len(got) < 2 else []
        assert [f.item_id for f in got if isinstance(f, TunnelFrame)] == [5, 5]
        assert bus.online is True


def test_exchange_without_answer_raises_no_reply(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    with SerialBus(settings(path), "scale-1") as bus:
        with pytest.raises(NoReply, match="no reply within 100 ms"):
            bus.exchange(b"S\r\n", mtsics.decode, 0.1)
        assert os.read(master, 100) == b"S\r\n"


def test_exchange_discards_stale_input_and_respects_the_gap(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    slept: list[float] = []
    # The longest gap the settings allow: a loaded machine cannot let it pass on its own
    # between the two writes, and the recorded sleep stands in for the wait.
    cfg = settings(path, inter_frame_gap_ms=1000)
    with SerialBus(cfg, "scale-1", sleep=slept.append) as bus:
        bus.write(b"SI\r\n")
        os.write(master, b"S S      9.999 kg\r\n")  # stale: answers a request nobody waits for
        assert os.read(master, 100) == b"SI\r\n"
        with pytest.raises(NoReply):
            bus.exchange(b"S\r\n", mtsics.decode, 0.05)
        assert slept and 0.5 < slept[0] <= 1.0
        os.write(master, b"S S      1.234 kg\r\n")
        assert bus.read_frames(mtsics.decode, 0.5) == [
            WeightReply("S", True, Decimal("1.234"), "kg")
        ]


def test_peer_gone_is_an_outage_and_a_dead_endpoint_stays_down_over_tcp() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    states: list[bool] = []
    clock = FakeClock()
    cfg = SerialSettings(port=f"socket://127.0.0.1:{port}", reconnect_min_ms=500)
    listener = lambda on, _d: states.append(on)  # noqa: E731
    with SerialBus(cfg, "tunnel-tcp", listener=listener, monotonic=clock) as bus:
        bus.connect()
        conn, _ = server.accept()
        conn.close()
        with pytest.raises(DeviceUnavailable) as err:
            bus.read_frames(tunnel.decode, 0.5)  # the peer's close is seen at once
        assert isinstance(err.value.__cause__, serial.SerialException)
        server.close()
        with pytest.raises(DeviceUnavailable, match=r"next attempt in 0\.50 s"):
            bus.connect()
        clock.t += 0.5
        with pytest.raises(DeviceUnavailable, match="cannot open"):
            bus.connect()
    assert states == [True, False]


def test_report_unresponsive_marks_offline_once(pty_pair: tuple[int, str]) -> None:
    _, path = pty_pair
    states: list[bool] = []
    with SerialBus(settings(path), "scale-1", listener=lambda on, _d: states.append(on)) as bus:
        bus.connect()
        bus.report_unresponsive("no answer")
        bus.report_unresponsive("no answer again")
    assert states == [True, False]
