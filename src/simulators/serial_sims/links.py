"""The device side of a serial link for simulators: a pty, a TCP listener, or a real port."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import socket
import tty
from typing import Any, Protocol

import serial

log = logging.getLogger(__name__)


class Link(Protocol):
    """Where a simulator reads commands and writes frames, as the device would."""

    @property
    def address(self) -> str:
        """Return what a host opens to reach the device (pty path or ``socket://`` URL)."""
        ...

    @property
    def connected(self) -> bool:
        """Return True when a host can receive what is sent (always, except TCP)."""
        ...

    def recv(self, timeout_s: float) -> bytes:
        """Return bytes from the host, or b"" after ``timeout_s`` seconds."""
        ...

    def send(self, data: bytes) -> bool:
        """Send bytes to the host; False when nobody is there to receive them."""
        ...

    def hang_up(self) -> bool:
        """Break the connection if the link can (TCP); False when it cannot (pty, serial)."""
        ...

    def close(self) -> None:
        """Release the link."""
        ...


class PtyLink:
    """A pseudo-terminal: the simulator holds the master, hosts open ``address`` (the slave).

    The slave stays open inside the simulator too, so hosts may close and reopen it; bytes
    written while no host reads are lost once the pty buffer is full, as on a real line.
    """

    def __init__(self) -> None:
        """Open a raw pty pair."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self._path = os.ttyname(self._slave)

    @property
    def address(self) -> str:
        """Return the slave's path, e.g. ``/dev/pts/3``."""
        return self._path

    @property
    def connected(self) -> bool:
        """Return True: a pty has no connection state."""
        return True

    def recv(self, timeout_s: float) -> bytes:
        """Return bytes the host wrote, or b"" on timeout."""
        ready, _, _ = select.select([self._master], [], [], max(0.0, timeout_s))
        if not ready:
            return b""
        try:
            return os.read(self._master, 4096)
        except BlockingIOError:
            return b""
        except OSError as err:
            if err.errno == errno.EIO:
                return b""
            raise

    def send(self, data: bytes) -> bool:
        """Write to the host; bytes that do not fit in the pty buffer are dropped."""
        try:
            os.write(self._master, data)
        except BlockingIOError:
            return False
        return True

    def hang_up(self) -> bool:
        """A pty cannot hang up without losing its path; the caller goes silent instead."""
        return False

    def close(self) -> None:
        """Close both ends; a host still reading gets an error."""
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class TcpLink:
    """A TCP listener serving one host at a time (a newer connection replaces the older)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (port 0 picks a free one)."""
        self._listener = socket.create_server((host, port))
        self._listener.setblocking(False)
        self._host, self._port = self._listener.getsockname()[:2]
        self._client: socket.socket | None = None

    @property
    def address(self) -> str:
        """Return ``socket://host:port`` for ``serial.serial_for_url``."""
        return f"socket://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        """Return the TCP port listened on."""
        return int(self._port)

    @property
    def connected(self) -> bool:
        """Return True while a host is connected."""
        return self._client is not None

    def _accept(self) -> None:
        """Take a waiting connection, replacing the current one."""
        try:
            conn, peer = self._listener.accept()
        except BlockingIOError:
            return
        self._drop()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client = conn
        log.info("simulator link %s: host %s connected", self.address, peer)

    def _drop(self) -> None:
        """Close the current connection."""
        if self._client is not None:
            with contextlib.suppress(OSError):
                self._client.close()
            self._client = None

    def recv(self, timeout_s: float) -> bytes:
        """Accept hosts and return what the current one sent, or b"" on timeout or hang-up."""
        watch: list[Any] = [self._listener] + ([self._client] if self._client else [])
        ready, _, _ = select.select(watch, [], [], max(0.0, timeout_s))
        if self._listener in ready:
            self._accept()
            return b""
        if self._client is None or self._client not in ready:
            return b""
        try:
            data = self._client.recv(4096)
        except OSError:
            data = b""
        if not data:
            self._drop()
        return data

    def send(self, data: bytes) -> bool:
        """Send to the connected host; False when none is connected."""
        if self._client is None:
            return False
        try:
            self._client.sendall(data)
        except OSError:
            self._drop()
            return False
        return True

    def hang_up(self) -> bool:
        """Close the connection; the host may connect again."""
        self._drop()
        return True

    def close(self) -> None:
        """Stop listening and close the connection."""
        self._drop()
        with contextlib.suppress(OSError):
            self._listener.close()


class SerialLink:
    """A real serial port (or any pyserial URL) the simulator drives as the device."""

    def __init__(self, url: str, baudrate: int = 9600, bytesize: int = 8, parity: str = "N"):
        """Open ``url`` with the given line settings."""
        self._url = url
        self._port: Any = serial.serial_for_url(
            url, baudrate=baudrate, bytesize=bytesize, parity=parity, timeout=0.1
        )

    @property
    def address(self) -> str:
        """Return the port's path or URL."""
        return self._url

    @property
    def connected(self) -> bool:
        """Return True: a serial line has no connection state."""
        return True

    def recv(self, timeout_s: float) -> bytes:
        """Return bytes from the host, or b"" on timeout."""
        self._port.timeout = max(0.0, timeout_s)
        data: bytes = self._port.read(1)
        if data and self._port.in_waiting:
            data += self._port.read(self._port.in_waiting)
        return data

    def send(self, data: bytes) -> bool:
        """Write to the host."""
        self._port.write(data)
        return True

    def hang_up(self) -> bool:
        """A serial line cannot hang up; the caller goes silent instead."""
        return False

    def close(self) -> None:
        """Close the port."""
        self._port.close()


def open_link(serial_url: str | None, host: str | None, port: int | None) -> Link:
    """Open the link a command line asks for: ``pty`` (or None without TCP), a port, or TCP."""
    if serial_url is not None and serial_url not in {"", "pty"}:
        return SerialLink(serial_url)
    if serial_url is None and port is not None:
        return TcpLink(host or "127.0.0.1", port)
    return PtyLink()
