"""One owner per serial port: a lock, an inter-frame gap, read timeouts and reconnect back-off.

A port is anything ``serial.serial_for_url`` opens: a device path, a pty, ``socket://`` or
``rfc2217://``. An outage is logged once when it starts and once when it ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, Self, TypeVar

import serial

from contracts.backoff import Backoff
from devices.codecs.base import drain
from devices.errors import DeviceError, DeviceUnavailable
from devices.profiles import SerialSettings

log = logging.getLogger(__name__)

F = TypeVar("F")
Opener = Callable[..., Any]
#: Called with (online, detail) when the port's availability changes.
StateListener = Callable[[bool, str], None]
try:
    import termios

    _TERMIOS: tuple[type[Exception], ...] = (termios.error,)
except ImportError:  # not POSIX: no termios, no pty
    _TERMIOS = ()
# termios.error (a pty whose other side closed) is not an OSError
_IO_ERRORS = (serial.SerialException, OSError, ValueError, *_TERMIOS)
_POLL_S = 0.05


class NoReply(DeviceUnavailable):
    """The port is open but the device did not answer in time."""


class SerialBus:
    """The single owner of one serial port; every method is thread-safe."""

    _owners: ClassVar[dict[str, str]] = {}
    _owners_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        settings: SerialSettings,
        device_id: str,
        *,
        listener: StateListener | None = None,
        opener: Opener = serial.serial_for_url,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Prepare the bus; nothing is opened until ``open()``."""
        self.settings = settings
        self.device_id = device_id
        self._listener = listener
        self._opener = opener
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.RLock()
        self._port: Any = None
        self._claimed = False
        self._online: bool | None = None
        self._retry_at = 0.0
        self._backoff = Backoff(
            settings.reconnect_min_ms / 1000.0, settings.reconnect_max_ms / 1000.0
        )
        self._last_io = -1e9
        self._rx = bytearray()

    # ownership -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Return the port's path or URL."""
        return self.settings.port

    @property
    def online(self) -> bool | None:
        """Return True/False once known, None before the first attempt."""
        return self._online

    def open(self) -> Self:
        """Claim the port (DeviceError if another owner has it); connecting happens on first use."""
        with SerialBus._owners_lock:
            owner = SerialBus._owners.get(self.url)
            if owner is not None and not self._claimed:
                raise DeviceError(f"port {self.url} is already owned by device {owner}")
            SerialBus._owners[self.url] = self.device_id
            self._claimed = True
        return self

    def close(self) -> None:
        """Close the port and give up ownership."""
        with self._lock:
            self._disconnect()
            with SerialBus._owners_lock:
                if self._claimed and SerialBus._owners.get(self.url) == self.device_id:
                    del SerialBus._owners[self.url]
                self._claimed = False

    def __enter__(self) -> Self:
        """Claim the port."""
        return self.open()

    def __exit__(self, *exc: object) -> None:
        """Close the port."""
        self.close()

    # connection ------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the port now if it is closed; DeviceUnavailable while down or backing off."""
        with self._lock:
            self._ensure_port()

    def _ensure_port(self) -> Any:
        """Return the open port, opening it when the back-off allows."""
        if not self._claimed:
            raise DeviceError(f"device {self.device_id}: bus for {self.url} is not open")
        if self._port is not None:
            return self._port
        now = self._monotonic()
        if now < self._retry_at:
            raise DeviceUnavailable(
                self.device_id, f"{self.url} is down; next attempt in {self._retry_at - now:.2f} s"
            )
        try:
            self._port = self._opener(self.url, **self.settings.serial_kwargs())
        except _IO_ERRORS as err:
            self._failed(err, "cannot open")
            raise DeviceUnavailable(self.device_id, f"cannot open {self.url}: {err}") from err
        self._rx.clear()
        self._backoff.reset()
        self._set_online(True, "port open")
        return self._port

    def _failed(self, err: BaseException, what: str) -> None:
        """Close after an I/O error and schedule the next attempt (doubling back-off)."""
        self._disconnect()
        self._retry_at = self._monotonic() + self._backoff.next_delay()
        self._set_online(False, f"{what} {self.url}: {err}")

    def _disconnect(self) -> None:
        """Close the port object, ignoring errors from a port that is already gone."""
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except _IO_ERRORS:
                log.debug("device %s: error closing %s", self.device_id, self.url, exc_info=True)

    def _set_online(self, online: bool, detail: str) -> None:
        """Record availability; log and notify only on a change."""
        if self._online == online:
            return
        self._online = online
        if online:
            log.info("device %s: %s available (%s)", self.device_id, self.url, detail)
        else:
            log.warning("device %s: %s unavailable: %s", self.device_id, self.url, detail)
        if self._listener is not None:
            self._listener(online, detail)

    def report_alive(self, detail: str = "answering") -> None:
        """Mark the device online again after its adapter accepted what it sent."""
        with self._lock:
            if self._port is not None:
                self._set_online(True, detail)

    def report_unresponsive(self, detail: str) -> None:
        """Mark the device offline although the port is open (it stopped answering)."""
        with self._lock:
            self._set_online(False, detail)

    # I/O -------------------------------------------------------------------------------

    def _gap(self) -> None:
        """Wait until the inter-frame gap since the last frame has passed."""
        wait = self._last_io + self.settings.inter_frame_gap_ms / 1000.0 - self._monotonic()
        if wait > 0:
            self._sleep(wait)

    def _read_some(self, port: Any, timeout_s: float) -> bytes:
        """Read what arrives within ``timeout_s`` (at least one byte unless it times out)."""
        timeout_s = max(0.0, timeout_s)
        if port.timeout != timeout_s:
            port.timeout = timeout_s
        data: bytes = port.read(1)
        if data:
            waiting = port.in_waiting
            if waiting:
                data += port.read(waiting)
        return data

    def write(self, data: bytes) -> None:
        """Send ``data`` as one frame after the inter-frame gap."""
        with self._lock:
            port = self._ensure_port()
            self._gap()
            try:
                port.write(data)
                port.flush()
            except _IO_ERRORS as err:
                self._failed(err, "write failed on")
                raise DeviceUnavailable(self.device_id, f"write failed: {err}") from err
            self._last_io = self._monotonic()

    def exchange(
        self, request: bytes, decode: Callable[[bytes], tuple[int, F | None]], timeout_s: float
    ) -> F:
        """Send ``request`` and return the first frame decoded from the reply.

        Stale input is discarded first. Raises ``NoReply`` when nothing complete arrives within
        ``timeout_s`` seconds, ``DeviceUnavailable`` when the port fails.
        """
        with self._lock:
            port = self._ensure_port()
            try:
                port.reset_input_buffer()
            except _IO_ERRORS as err:
                self._failed(err, "reset failed on")
                raise DeviceUnavailable(self.device_id, f"port failed: {err}") from err
            self._rx.clear()
            self.write(request)
            frames = self._collect(decode, timeout_s, first_only=True)
            if not frames:
                raise NoReply(self.device_id, f"no reply within {timeout_s * 1000:.0f} ms")
            return frames[0]

    def read_frames(
        self, decode: Callable[[bytes], tuple[int, F | None]], timeout_s: float
    ) -> list[F]:
        """Return the frames that arrive within ``timeout_s`` seconds (empty when none)."""
        with self._lock:
            self._ensure_port()
            return self._collect(decode, timeout_s, first_only=False)

    def discard_input(self) -> None:
        """Drop everything received but not yet decoded (stale stream data)."""
        with self._lock:
            port = self._ensure_port()
            self._rx.clear()
            try:
                port.reset_input_buffer()
            except _IO_ERRORS as err:
                self._failed(err, "reset failed on")
                raise DeviceUnavailable(self.device_id, f"port failed: {err}") from err

    def _collect(
        self, decode: Callable[[bytes], tuple[int, F | None]], timeout_s: float, first_only: bool
    ) -> list[F]:
        """Read and decode until a frame arrives or ``timeout_s`` passes."""
        port = self._port
        deadline = self._monotonic() + timeout_s
        frames: list[F] = drain(decode, self._rx)
        while not frames:
            left = deadline - self._monotonic()
            if left <= 0:
                break
            try:
                chunk = self._read_some(port, min(left, _POLL_S) if not first_only else left)
            except _IO_ERRORS as err:
                self._failed(err, "read failed on")
                raise DeviceUnavailable(self.device_id, f"read failed: {err}") from err
            if chunk:
                self._last_io = self._monotonic()
                self._rx.extend(chunk)
                frames = drain(decode, self._rx)
        if first_only and len(frames) > 1:
            return frames[:1]
        return frames
