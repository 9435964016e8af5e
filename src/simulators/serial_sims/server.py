"""The simulator server: one thread that runs a device over a link with seeded faults."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Self

from simulators.faults import FaultDice, FaultProfile
from simulators.serial_sims.links import Link, PtyLink

log = logging.getLogger(__name__)
_IDLE_S = 0.05
_SPLIT_PAUSE_S = 0.005


class SimServer:
    """Base of the serial simulators: a link, a thread, a stop event and the fault dice.

    Subclasses implement ``on_bytes`` (what the host sent) and, for streaming devices,
    ``on_tick`` with ``tick_interval_s``. Everything a device sends goes through ``emit``,
    which applies the fault profile: drop, delay and jitter, junk, split, disconnect.
    """

    def __init__(
        self,
        link: Link | None = None,
        faults: FaultProfile | None = None,
        seed: int = 0,
        *,
        name: str = "sim",
        outage_s: float = 1.0,
    ) -> None:
        """Serve over ``link`` (a new pty by default); ``outage_s`` is a silent link's outage."""
        self.link: Link = link if link is not None else PtyLink()
        self.faults = faults or FaultProfile()
        self.dice = FaultDice(self.faults, seed)
        self.name = name
        self.outage_s = outage_s
        self.lock = threading.RLock()
        self.frames_sent = 0
        self.dropped = 0
        self.disconnects = 0
        self._silent_until = 0.0
        self._calls: deque[Callable[[], None]] = deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-server", daemon=True)

    @property
    def address(self) -> str:
        """Return what a host opens: a pty path or a ``socket://`` URL."""
        return self.link.address

    @property
    def tick_interval_s(self) -> float | None:
        """Return the period of ``on_tick`` in seconds, or None for a silent device."""
        return None

    def on_bytes(self, data: bytes) -> None:
        """Handle bytes from the host (server thread)."""

    def on_tick(self) -> None:
        """Send the periodic output of a streaming device (server thread)."""

    def junk(self) -> bytes:
        """Return the line noise put before a frame under the junk fault."""
        return self.dice.junk()

    # lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start serving."""
        self._thread.start()
        log.info("%s simulator serving on %s", self.name, self.address)

    def stop(self) -> None:
        """Stop serving and release the link."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)
        self.link.close()

    def __enter__(self) -> Self:
        """Start serving."""
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop serving."""
        self.stop()

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the server thread at its next turn."""
        with self.lock:
            self._calls.append(fn)

    # the loop ----------------------------------------------------------------------------

    def silent(self) -> bool:
        """Return True during a simulated outage of a link that cannot hang up."""
        return time.monotonic() < self._silent_until

    def _run(self) -> None:
        """Serve until stopped."""
        interval = self.tick_interval_s
        next_tick = time.monotonic() + interval if interval else float("inf")
        while not self._stop.is_set():
            wait = min(_IDLE_S, max(0.0, next_tick - time.monotonic()))
            try:
                data = self.link.recv(wait)
            except OSError:
                log.exception("%s simulator: link failed", self.name)
                self._stop.wait(_IDLE_S)
                continue
            if data and not self.silent():
                with self.lock:
                    self.on_bytes(data)
            while True:
                with self.lock:
                    if not self._calls:
                        break
                    fn = self._calls.popleft()
                fn()
            if interval and time.monotonic() >= next_tick:
                next_tick = max(next_tick + interval, time.monotonic())
                if not self.silent():
                    with self.lock:
                        self.on_tick()

    def emit(self, frame: bytes) -> None:
        """Send one frame as the device would, with the profile's faults applied."""
        p = self.faults
        drop = self.dice.hit(p.drop_rate)
        delay = self.dice.delay_s()
        junk = self.junk() if self.dice.hit(p.junk_rate) else b""
        split = self.dice.hit(p.split_rate)
        if self.silent():
            return
        if drop:
            self.dropped += 1
            return
        if delay:
            self._stop.wait(delay)
        data = junk + frame
        if split and len(data) > 1:
            cut = self.dice.split_point(len(data))
            self.link.send(data[:cut])
            self._stop.wait(_SPLIT_PAUSE_S)
            self.link.send(data[cut:])
        else:
            self.link.send(data)
        self.frames_sent += 1
        if p.disconnect_after and self.frames_sent % p.disconnect_after == 0:
            self.disconnect()

    def disconnect(self) -> None:
        """Break the connection (TCP) or fall silent for ``outage_s`` (pty, serial)."""
        self.disconnects += 1
        if not self.link.hang_up():
            self._silent_until = time.monotonic() + self.outage_s
        log.info("%s simulator: disconnect #%s", self.name, self.disconnects)


def line_noise(dice: FaultDice) -> bytes:
    """Return 1..8 control or non-ASCII bytes: noise a line-based host skips before a line."""
    n = dice.rng.randint(1, 8)
    return bytes(dice.rng.choice(b"\x00\x11\x13\x7f\x80\xfe\xff") for _ in range(n))
