"""The site's tunnel scanner: one ``STX item_id;status;codes ETX`` frame per item, over TCP.

Spec: ``ScannerServerConfig`` (host, port, item-id width, AIM prefix). Runtime: ``gate_frame``
turns an item's printed labels into its frame (none → NOREAD, one → OK, more → MULTI).
Server: ``TunnelGate`` serves every connected host on the simulation's asyncio loop, so a
frame leaves the moment the line model says the item passed the scanner. It can be
unplugged (listener and connections closed) and plugged back on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

from contracts.statuses import ReadStatus
from devices.codecs import tunnel
from devices.codecs.tunnel import TunnelFrame
from simulators.faults import FaultDice, FaultProfile
from simulators.line.config import ScannerServerConfig

log = logging.getLogger(__name__)

#: A host that has not read this many bytes is cut off (a real scanner's buffer is small).
MAX_BACKLOG_BYTES = 1 << 20
#: Pause between the two halves of a split frame, seconds.
SPLIT_PAUSE_S = 0.005


def gate_frame(
    item_id: int, labels: tuple[str, ...], spec: ScannerServerConfig, *, noread: bool = False
) -> bytes:
    """Return the encoded gate result for an item carrying ``labels`` (ValueError if unsendable)."""
    codes = () if noread else tuple(spec.aim + label for label in labels)
    if not codes:
        status = ReadStatus.NOREAD
    elif len(codes) == 1:
        status = ReadStatus.OK
    else:
        status = ReadStatus.MULTI
    return tunnel.encode(TunnelFrame(item_id, status, codes), spec.item_id_width)


class TunnelGate:
    """The tunnel scanner's TCP server; every method runs on the loop that started it.

    ``FaultProfile`` fields used: ``noread_rate`` (a read fails), ``drop_rate`` (a frame is
    never sent), ``delay_ms``/``jitter_ms``, ``junk_rate``, ``split_rate`` and
    ``disconnect_after`` (every host is cut off after that many frames; hosts reconnect).
    """

    def __init__(
        self, spec: ScannerServerConfig, faults: FaultProfile | None = None, seed: int = 0
    ) -> None:
        """Describe the server; ``start()`` listens."""
        self.spec = spec
        self.faults = faults or FaultProfile()
        self.dice = FaultDice(self.faults, seed)
        self.host = spec.host
        self.port = spec.port
        self.frames_sent = 0
        self.frames_lost = 0  # unplugged, nobody connected, or dropped by the fault profile
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def plugged(self) -> bool:
        """Return True while the scanner listens."""
        return self._server is not None

    @property
    def url(self) -> str:
        """Return ``socket://host:port``, what a host opens with ``serial.serial_for_url``."""
        return f"socket://{self.host}:{self.port}"

    @property
    def clients(self) -> int:
        """Return the number of hosts connected now."""
        return len(self._writers)

    def set_faults(self, faults: FaultProfile) -> None:
        """Change the fault profile from the next frame on."""
        self.faults = faults
        self.dice.profile = faults

    async def start(self) -> int:
        """Listen (port 0 picks a free port, kept for later plugs); return the TCP port."""
        if self._server is not None:
            return self.port
        server = await asyncio.start_server(self._connected, self.host, self.port)
        self.port = int(server.sockets[0].getsockname()[1])
        self._server = server
        log.info("tunnel scanner listening on %s", self.url)
        return self.port

    async def stop(self) -> None:
        """Stop listening and close every connection (the same as unplugging)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            with contextlib.suppress(Exception):
                await server.wait_closed()
            log.info("tunnel scanner on %s closed (unplugged)", self.url)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one host: keep its writer, discard what it sends, forget it when it leaves."""
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        peer = writer.get_extra_info("peername")
        log.info("tunnel scanner %s: host %s connected", self.url, peer)
        try:
            while await reader.read(1024):
                pass
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    def scan(self, item_id: int, labels: tuple[str, ...]) -> bool:
        """The item left the tunnel: send its frame to every host; False when nobody got it."""
        p = self.faults
        noread = self.dice.hit(p.noread_rate)
        drop = self.dice.hit(p.drop_rate)
        delay = self.dice.delay_s()
        junk = self.dice.junk() if self.dice.hit(p.junk_rate) else b""
        split = self.dice.hit(p.split_rate)
        try:
            frame = gate_frame(item_id, labels, self.spec, noread=noread)
        except ValueError as err:
            log.warning("tunnel scanner: item %s not sent: %s", item_id, err)
            self.frames_lost += 1
            return False
        if drop or self._server is None or not self._writers:
            self.frames_lost += 1
            return False
        data = junk + frame
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._send, data, split)
        else:
            self._send(data, split)
        return True

    def _send(self, data: bytes, split: bool) -> None:
        """Write ``data`` to every host (in two parts when ``split``), then apply disconnects."""
        if not self._writers:
            self.frames_lost += 1
            return
        if split and len(data) > 1:
            cut = self.dice.split_point(len(data))
            self._write(data[:cut])
            asyncio.get_running_loop().call_later(SPLIT_PAUSE_S, self._write, data[cut:])
        else:
            self._write(data)
        self.frames_sent += 1
        every = self.faults.disconnect_after
        if every is not None and self.frames_sent % every == 0:
            log.info("tunnel scanner: cutting %d host(s) after %d frames", self.clients, every)
            for writer in list(self._writers):
                writer.close()
            self._writers.clear()

    def _write(self, data: bytes) -> None:
        """Write to every connected host; cut off a host that stopped reading."""
        for writer in list(self._writers):
            if writer.transport.get_write_buffer_size() > MAX_BACKLOG_BYTES:
                log.warning("tunnel scanner: host stopped reading; connection closed")
                self._writers.discard(writer)
                writer.close()
                continue
            writer.write(data)
