"""What serial adapters share: the bus, the clock, availability events and a poll thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

import serial

from contracts.clock import Clock, SystemClock
from devices.errors import DeviceUnavailable
from devices.events import DeviceStateChanged
from devices.profiles import HandScannerProfile, ScaleProfile, TunnelScannerProfile
from devices.serial_bus import Opener, SerialBus

log = logging.getLogger(__name__)

E = TypeVar("E")
E_co = TypeVar("E_co", covariant=True)
StateSink = Callable[[DeviceStateChanged], None]


class SerialAdapter:
    """Base of the serial adapters: owns one ``SerialBus`` and reports availability changes."""

    kind: ClassVar[str] = "serial"

    def __init__(
        self,
        profile: TunnelScannerProfile | HandScannerProfile | ScaleProfile,
        *,
        clock: Clock | None = None,
        on_state: StateSink | None = None,
        opener: Opener = serial.serial_for_url,
        **bus_options: Any,
    ) -> None:
        """Build the adapter and its bus; call ``open()`` (or use ``with``) before I/O."""
        self.device_id = profile.device_id
        self.clock: Clock = clock or SystemClock()
        self._on_state = on_state
        self.states: list[DeviceStateChanged] = []
        self.bus = SerialBus(
            profile.serial, profile.device_id, listener=self._state, opener=opener, **bus_options
        )

    def _state(self, online: bool, detail: str) -> None:
        """Turn a bus availability change into a ``DeviceStateChanged`` event."""
        event = DeviceStateChanged(self.device_id, self.kind, online, self.clock.now(), detail)
        self.states.append(event)
        del self.states[:-100]
        if self._on_state is not None:
            self._on_state(event)

    @property
    def online(self) -> bool | None:
        """Return the last known availability (None before the first attempt)."""
        return self.bus.online

    def open(self) -> None:
        """Claim the port and try to connect (a failure shows up as an offline state)."""
        self.bus.open()
        try:
            self.bus.connect()
        except DeviceUnavailable as err:
            log.debug("device %s: not connected yet: %s", self.device_id, err.detail)

    def close(self) -> None:
        """Release the port."""
        self.bus.close()

    def __enter__(self) -> Self:
        """Open the adapter."""
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the adapter."""
        self.close()


class Pollable(Protocol[E_co]):
    """A streaming adapter: ``poll(timeout_s)`` returns the events that arrived."""

    device_id: str

    def poll(self, timeout_s: float) -> Sequence[E_co]:
        """Return the events that arrive within ``timeout_s`` seconds."""
        ...


class PollThread(Generic[E]):
    """Runs a streaming adapter's poll loop in a thread, handing each event to ``sink``."""

    def __init__(
        self, adapter: Pollable[E], sink: Callable[[E], None], *, poll_s: float = 0.2
    ) -> None:
        """Poll every ``poll_s`` seconds at most; back off the same while the device is down."""
        self._adapter = adapter
        self._sink = sink
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"poll-{adapter.device_id}", daemon=True
        )

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop polling and wait for the thread to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def __enter__(self) -> PollThread[E]:
        """Start polling."""
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop polling."""
        self.stop()

    def _run(self) -> None:
        """Poll until stopped; device outages wait and retry, sink errors are logged."""
        while not self._stop.is_set():
            try:
                events = self._adapter.poll(self._poll_s)
            except DeviceUnavailable:
                self._stop.wait(self._poll_s)
                continue
            for event in events:
                try:
                    self._sink(event)
                except Exception:
                    log.exception("device %s: event sink failed", self._adapter.device_id)
