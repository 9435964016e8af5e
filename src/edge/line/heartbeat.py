"""The edge heartbeat on its own schedule: a thread and a connection of its own.

DESIGN section 6 asks for ``edge_heartbeat`` (register 2) +1 at least every 100 ms, also
under full load. Written from the PLC link's poll cycle, a beat waits behind the reads,
the reply writes and every other thread holding the GIL; here a small thread wakes on a
fixed timetable (``interval_s``, 25 ms by default, so a stall of 75 ms still keeps within
the 100 ms) and writes it on its own Modbus TCP connection, so neither a busy engine nor a
slow poll can hold it back. It beats only while the edge works: when the engine loop has
not turned for a second, it stops, and the PLC sees what a dead edge looks like. The largest gap
between two written beats (``max_gap_s``) and the gaps over 100 ms (``late``) are kept for
health reports and the benchmarks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from contracts import registers as reg
from devices.errors import DeviceError
from devices.modbus_client import ModbusEndpoint

log = logging.getLogger(__name__)

#: The longest the PLC may see ``edge_heartbeat`` stand still (DESIGN section 6), seconds.
LATE_S = 0.1
#: Time between two beats, seconds: a stall of 75 ms still keeps within the 100 ms.
INTERVAL_S = 0.025


class BeatFigures(Protocol):
    """What a heartbeat reports: beats written, gaps over 100 ms, the worst gap (s)."""

    interval_s: float
    beats: int
    late: int
    max_gap_s: float


class Heartbeat:
    """Writes ``edge_heartbeat`` every ``interval_s`` on ``endpoint`` until ``stop`` is set."""

    def __init__(
        self,
        endpoint: ModbusEndpoint,
        stop: threading.Event,
        *,
        interval_s: float = INTERVAL_S,
        alive: Callable[[], bool] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Beat on ``endpoint`` (a connection of its own) every ``interval_s`` (<= 0.1 s).

        ``alive()`` says whether the edge still works (its engine loop turns); while it says
        no, no beat is written, so the PLC sees the heartbeat stop and rejects by itself.
        """
        if not 0 < interval_s <= 0.1:
            raise ValueError("interval_s must be in (0, 0.1] seconds")
        self.endpoint = endpoint
        self.interval_s = interval_s
        self._stop = stop
        self._monotonic = monotonic
        self._alive = alive
        self.withheld = 0  # beats not written because the edge was not alive
        self._value: int | None = None
        self._last_t: float | None = None
        self.beats = 0
        self.failures = 0
        self.max_gap_s = 0.0
        self.late = 0  # gaps between two written beats longer than 100 ms
        self.thread = threading.Thread(target=self._run, name="edge-heartbeat", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self.thread.start()

    def join(self, timeout_s: float = 5.0) -> None:
        """Wait for the thread after the stop event was set; close the connection."""
        self.thread.join(timeout_s)
        self.endpoint.close()

    def beat(self) -> None:
        """Write the next value now (raises ``DeviceError``); the first continues the PLC's."""
        if self._value is None:
            self._value = self.endpoint.read_holding(reg.EDGE_HEARTBEAT.address, 1)[0]
        nxt = (self._value + 1) % reg.U16_MOD
        self.endpoint.write_registers(reg.EDGE_HEARTBEAT.address, [nxt])
        self._value = nxt
        now = self._monotonic()
        if self._last_t is not None:
            gap = now - self._last_t
            self.max_gap_s = max(self.max_gap_s, gap)
            self.late += gap > LATE_S
        self._last_t = now
        self.beats += 1

    def _run(self) -> None:
        """Beat on a fixed timetable; a missed slot is skipped, never made up in a burst."""
        next_t = self._monotonic()
        while not self._stop.is_set():
            try:
                if self._alive is None or self._alive():
                    self.beat()
                else:
                    if not self.withheld:
                        log.error("edge heartbeat withheld: the engine loop stopped turning")
                    self.withheld += 1
                    self._last_t = None
            except DeviceError as err:
                self.failures += 1
                self._value = None  # re-read after a reconnect: the PLC may have restarted
                self._last_t = None
                log.debug("device %s: heartbeat not written: %s", self.endpoint.device_id, err)
            next_t += self.interval_s
            now = self._monotonic()
            next_t = max(next_t, now)
            self._stop.wait(next_t - now)
