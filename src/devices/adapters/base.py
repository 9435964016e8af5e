"""What serial adapters share: the bus, the clock, availability events and a poll thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

import serial

from contracts.backoff import Backoff
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
    """Runs a streaming adapter's poll loop in a thread, handing each event to ``sink``.

    The thread never dies of a device: ``DeviceUnavailable`` waits and retries; any other
    exception (a protocol error, an exception reply, a bug in a codec) is logged once per
    outage, reported through the adapter's ``fault(detail)`` when it has one (offline state,
    fresh connection), and retried with a capped back-off until the device answers again.
    """

    def __init__(
        self,
        adapter: Pollable[E],
        sink: Callable[[E], None],
        *,
        poll_s: float = 0.2,
        max_backoff_s: float = 2.0,
    ) -> None:
        """Poll every ``poll_s`` seconds at most; back off up to ``max_backoff_s`` on faults."""
        self._adapter = adapter
        self._sink = sink
        self._poll_s = poll_s
        self._backoff = Backoff(max(poll_s, 0.01), max(poll_s, 0.01, max_backoff_s))
        self.faults = 0  # poll failures other than DeviceUnavailable
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
        failing = False
        while not self._stop.is_set():
            try:
                events = self._adapter.poll(self._poll_s)
            except DeviceUnavailable:
                self._stop.wait(self._poll_s)
                continue
            except Exception as err:
                self.faults += 1
                if not failing:
                    log.exception("device %s: poll failed; retrying", self._adapter.device_id)
                failing = True
                self._report_fault(f"{type(err).__name__}: {err}")
                self._stop.wait(self._backoff.next_delay())
                continue
            if failing:
                log.info("device %s: polling again", self._adapter.device_id)
                failing = False
            self._backoff.reset()
            for event in events:
                try:
                    self._sink(event)
                except Exception:
                    log.exception("device %s: event sink failed", self._adapter.device_id)

    def _report_fault(self, detail: str) -> None:
        """Tell the adapter (offline state, fresh connection); its own failure is only logged."""
        fault = getattr(self._adapter, "fault", None)
        if fault is None:
            return
        try:
            fault(detail)
        except Exception:
            log.exception("device %s: reporting a fault failed", self._adapter.device_id)
