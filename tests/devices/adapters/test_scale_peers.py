"""The scale driver and simulator against MT-SICS peers written elsewhere.

- our ``ScaleAdapter`` drives the ``mt-sics-emulator`` package's TCP scale server;
- the ``mettler-toledo-device`` client library identifies and reads our ``ScaleServer``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from devices.adapters.scale import ScaleAdapter
from devices.profiles import ScaleProfile, SerialSettings
from simulators.serial_sims import PtyLink, ScaleServer, ScaleSpec

mtsics_emulator = pytest.importorskip("mtsics", reason="mt-sics-emulator is a dev dependency")
mettler = pytest.importorskip(
    "mettler_toledo_device", reason="mettler-toledo-device is a dev dependency"
)


class EmulatorThread:
    """The peer scale server on its own event loop in a thread, on a free loopback port."""

    def __init__(self, profile: str) -> None:
        from mtsics.core.state import ScaleState
        from mtsics.profiles import load
        from mtsics.protocol.engine import MTSICSEngine
        from mtsics.transport.tcp import TCPConfig, TCPTransport

        self.state = ScaleState(config=load(profile))
        self.transport = TCPTransport(MTSICSEngine(self.state), cfg=TCPConfig("127.0.0.1", 0))
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mtsics-emulator", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        _, self.port = self.loop.run_until_complete(self.transport.start())
        self._ready.set()
        self.loop.run_forever()

    def __enter__(self) -> EmulatorThread:
        self._thread.start()
        assert self._ready.wait(5.0), "emulator did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        stop = asyncio.run_coroutine_threadsafe(self.transport.close(), self.loop)
        stop.result(5.0)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5.0)
        self.loop.close()


@pytest.fixture
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread("mt-ind570") as peer:
        yield peer


def adapter_for(port: int, **extra: Any) -> ScaleAdapter:
    settings = SerialSettings(port=f"socket://127.0.0.1:{port}", reconnect_min_ms=20)
    options: dict[str, Any] = {"reply_timeout_ms": 500, "retries": 2} | extra
    return ScaleAdapter(
        ScaleProfile(kind="scale", device_id="peer-scale", serial=settings, **options)
    )


def test_driver_identifies_and_weighs_on_a_peer_scale(emulator: EmulatorThread) -> None:
    emulator.state.set_weight(12.3, stable=True)
    with adapter_for(emulator.port) as scale:
        identity = scale.identify()
        assert identity.serial_number == emulator.state.config.serial_number
        m = scale.measure(7)
        assert (m.weight_kg, m.stable, m.item_id) == (12.3, True, 7)
        m = scale.measure(8)  # SI on the profile answers with an echo the driver accepts
        assert m.weight_kg == 12.3


def test_driver_zero_and_tare_on_a_peer_scale(emulator: EmulatorThread) -> None:
    emulator.state.set_weight(2.0, stable=True)
    with adapter_for(emulator.port) as scale:
        scale.zero()
        assert scale.measure(1).weight_kg == 0.0
        emulator.state.set_weight(7.5, stable=True)
        assert scale.tare() == 5.5
        assert scale.measure(2).weight_kg == 0.0
        scale.clear_tare()
        assert scale.measure(3).weight_kg == 5.5


def test_peer_client_identifies_and_reads_our_simulator() -> None:
    spec = ScaleSpec(weight_kg=3.21, serial_number="CL12345678", model="CL-DESK-30")
    with ScaleServer(spec, PtyLink()) as sim:
        device = mettler.MettlerToledoDevice(port=sim.address, timeout=0.5)
        try:
            assert device.get_serial_number() == "CL12345678"
            assert device.get_balance_data()[0] == "CL-DESK-30"
            assert device.get_software_version()[0] == "1.00"
            assert device.get_mtsics_level()[0] == "01"
            assert device.get_weight_stable() == [3.21, "kg"]
            assert device.get_weight()[:2] == [3.21, "kg"]
            assert device.zero_stable() is False  # 3.21 kg is beyond the zero range: refused
        finally:
            device.close()
