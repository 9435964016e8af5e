"""The PLC link's own process: polls the PLC, writes replies, journals confirms, beats.

``main()`` runs in a process started by ``edge.line.plc_process`` (the ``spawn`` start
method: a fresh interpreter, no copy of the edge's threads or heap). The interpreter lock of
the edge, however busy its engine, sync or pre-screen keep it, never holds back a poll of the
PLC's 16-entry confirm ring. The process runs the same ``PlcLink`` as the thread mode, a
``Heartbeat`` on a connection of its own, and journals the confirmations it reads into the
safety store (SQLite WAL: the edge's engine opens the same file; the link's journal thread
commits them) before passing them on.

Talk with the edge is one duplex pipe of tuples:

* edge → here: ``("go", ChildSettings, with_lock)`` first (a process started ahead waits for
  it), then with ``with_lock`` a copy of the edge's locked store file descriptor (the
  store's lock is held until this process has ended too),
  ``("reply", item_id, chute, reason, at)`` (``at`` the edge's
  ``time.monotonic()`` at the hand-over: the clock is the machine's, so the measured reply
  time includes the pipe), ``("alive",)`` while the engine loop turns, ``("stop",)``;
* here → edge: ``("events", [PlcEvent, ...])``, ``("figures", LinkFigures)`` every 0.1 s,
  ``("log", level, logger, text)``.

The process ends when the pipe ends: an edge that dies, even by SIGKILL, closes its side, and
this process leaves within one poll wait (``WAIT_S``), so it never holds the PLC's connection
for an edge that is gone.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.reduction import recv_handle

from contracts.clock import SteadyClock
from devices.adapters.plc import PlcAdapter, PlcEvent
from devices.events import SendToChute
from devices.modbus_client import ModbusEndpoint
from edge.config import ModbusDevice
from edge.line.heartbeat import Heartbeat
from edge.line.plc_link import PlcLink
from edge.state import SafetyState

log = logging.getLogger(__name__)

#: Longest wait for a message from the edge before the figures are sent and the parent
#: checked again, seconds (an edge that died is noticed within it).
WAIT_S = 0.02
#: Time between two figure reports to the edge, seconds.
FIGURES_S = 0.1
#: The heartbeat stops when the edge has not said it is alive for this long, seconds.
ALIVE_S = 1.0


@dataclass(frozen=True, slots=True)
class ChildSettings:
    """What the PLC process needs: the PLC, the safety store and the edge's steady clock.

    ``anchor_at`` is the edge's steady clock read at ``anchor_mono`` (``time.monotonic()``):
    the process stamps events on the same time line, so request deadlines stay right.
    """

    device: ModbusDevice
    state_path: str | None
    anchor_at: datetime
    anchor_mono: float
    confirm_from: int | None = None  # used only without a safety store
    poll_interval_s: float = 0.01
    heartbeat: bool = True
    log_level: int = logging.INFO
    nice: int | None = None  # the process's scheduling priority (-20..19); None keeps the edge's


@dataclass(frozen=True, slots=True)
class LinkFigures:
    """The PLC link's figures as the process last reported them."""

    headroom_ms: float
    replies_sent: int
    replies_failed: int
    lost_requests: int
    lost_confirms: int
    first_read_at: float | None
    beats: int
    beats_late: int
    beat_max_gap_s: float
    max_poll_gap_s: float = 0.0
    max_journal_s: float = 0.0


def endpoint_of(dev: ModbusDevice) -> ModbusEndpoint:
    """Return the endpoint of a Modbus TCP device of the edge config."""
    # Modbus TCP frames are delimited by their MBAP header: no quiet time between frames
    return ModbusEndpoint(
        dev.host,
        dev.port,
        device_id=dev.device_id,
        unit=dev.unit,
        timeout_s=dev.timeout_ms / 1000,
        frame_gap_s=0.0,
    )


class _PipeLog(logging.Handler):
    """Send this process's log records to the edge, which logs them as its own."""

    def __init__(self, send: _Sender, level: int) -> None:
        super().__init__(level)
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        """Send the record's level, logger name and text (with its traceback, if any)."""
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            self._send(("log", record.levelno, record.name, text))
        except Exception:  # the edge is gone: nobody to tell
            pass


class _Sender:
    """Sends to the edge from a thread of its own: a pipe the edge is slow to empty never
    holds back a poll (what was read is journaled first; the pipe only carries it on)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._q: queue.SimpleQueue[tuple[object, ...] | None] = queue.SimpleQueue()
        self.broken = threading.Event()
        self.thread = threading.Thread(target=self._run, name="plc-send", daemon=True)

    def __call__(self, message: tuple[object, ...]) -> None:
        """Queue one message (any thread)."""
        self._q.put(message)

    def close(self) -> None:
        """Send what is queued, then end the thread."""
        self._q.put(None)
        self.thread.join(2.0)

    def _run(self) -> None:
        """Send queued messages; consecutive events go as one message."""
        while True:
            msg = self._q.get()
            if msg is None:
                return
            batch: list[tuple[object, ...]] = [msg]
            while len(batch) < 256:
                try:
                    more = self._q.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._q.put(None)
                    break
                batch.append(more)
            try:
                for out in _merged(batch):
                    self._conn.send(out)
            except OSError:  # the edge is gone
                self.broken.set()
                return


def _merged(batch: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """Turn runs of ``("event", e)`` into one ``("events", [e, ...])`` (order kept)."""
    out: list[tuple[object, ...]] = []
    run: list[object] = []
    for msg in batch:
        if msg[0] == "event":
            if not run:
                out.append(("events", run))
            run.append(msg[1])
        else:
            run = []
            out.append(msg)
    return out


def main(conn: Connection, settings: ChildSettings | None = None) -> None:
    """Run the PLC link until the edge says stop or its side of the pipe closes.

    Without ``settings`` the process was started ahead (its imports done) and waits for
    ``("go", settings)`` first.
    """
    lock_fd: int | None = None
    if settings is None:
        try:
            msg = conn.recv()
            if msg[0] != "go":
                return
            settings = msg[1]
            if msg[2]:  # a copy of the edge's locked store file: held until this process ends
                lock_fd = recv_handle(conn)
        except (EOFError, OSError):
            return  # the edge is gone before it needed us
        assert isinstance(settings, ChildSettings)
    try:
        _run(conn, settings)
    finally:  # the last confirmations are journaled: a spare may take the lock now
        if lock_fd is not None:
            os.close(lock_fd)


def _run(conn: Connection, settings: ChildSettings) -> None:
    """Run the PLC link with ``settings`` until stop, end of pipe or parent gone."""
    if settings.nice is not None:  # first, so that every thread started below inherits it
        raised = set_priority(settings.nice)
    send = _Sender(conn)
    send.thread.start()
    root = logging.getLogger()
    root.handlers[:] = [_PipeLog(send, settings.log_level)]
    root.setLevel(settings.log_level)
    if settings.nice is not None and not raised:
        log.warning(
            "PLC link process: priority %d not allowed here (it needs CAP_SYS_NICE, e.g. "
            "systemd's AmbientCapabilities=CAP_SYS_NICE); running at priority %d",
            settings.nice,
            os.getpriority(os.PRIO_PROCESS, 0),
        )
    parent = os.getppid()
    state = SafetyState(settings.state_path) if settings.state_path is not None else None
    now = settings.anchor_at + timedelta(seconds=time.monotonic() - settings.anchor_mono)
    adapter = PlcAdapter(
        endpoint_of(settings.device),
        word_order=settings.device.word_order,
        clock=SteadyClock(now),
        poll_interval_s=settings.poll_interval_s,
        beat_in_cycle=False,
        confirm_from=state.confirm_cursor() if state is not None else settings.confirm_from,
    )
    stop = threading.Event()
    last_alive = [time.monotonic()]

    def events(event: PlcEvent) -> None:
        send(("event", event))

    journal = state.journal_read if state is not None else None
    link = PlcLink(adapter, events, stop, journal=journal)
    beat: Heartbeat | None = None
    if settings.heartbeat:
        beat = Heartbeat(
            endpoint_of(settings.device),
            stop,
            alive=lambda: time.monotonic() - last_alive[0] <= ALIVE_S,
        )
        beat.start()
    link.start()
    try:
        _serve(conn, send, link, beat, last_alive, parent)
    finally:
        stop.set()
        link.join()
        if beat is not None:
            beat.join()
        adapter.endpoint.close()
        if state is not None:
            state.close()
        send.close()


def set_priority(nice: int) -> bool:
    """Give the calling thread (and the threads it starts) priority ``nice``; False if refused.

    On Linux a nice value belongs to a thread and is inherited by the threads it creates, so
    the PLC process calls this before it starts any thread of its own.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except PermissionError:
        return False
    return True


def _serve(
    conn: Connection,
    send: _Sender,
    link: PlcLink,
    beat: Heartbeat | None,
    last_alive: list[float],
    parent: int,
) -> None:
    """Hand replies to the link and report figures until stop, end of pipe or parent gone."""
    next_figures = 0.0
    while True:
        try:
            if conn.poll(WAIT_S):
                msg = conn.recv()
                if msg[0] == "reply":
                    _, item_id, chute, reason, at = msg
                    link.reply(SendToChute(item_id, chute, reason), at)
                elif msg[0] == "alive":
                    last_alive[0] = time.monotonic()
                elif msg[0] == "stop":
                    return
        except (EOFError, OSError):
            log.info("device %s: the edge is gone; PLC link process ends", link.adapter.device_id)
            return
        if os.getppid() != parent or send.broken.is_set():
            return  # re-parented: the edge died and the pipe's end outlived it somewhere
        now = time.monotonic()
        if now >= next_figures:
            next_figures = now + FIGURES_S
            send(("figures", _figures(link, beat)))


def _figures(link: PlcLink, beat: Heartbeat | None) -> LinkFigures:
    """Return the link's and the heartbeat's figures now."""
    return LinkFigures(
        headroom_ms=link.headroom_ms(),
        replies_sent=link.replies_sent,
        replies_failed=link.replies_failed,
        lost_requests=link.lost_requests,
        lost_confirms=link.lost_confirms,
        first_read_at=link.first_read_at,
        beats=beat.beats if beat is not None else 0,
        beats_late=beat.late if beat is not None else 0,
        beat_max_gap_s=beat.max_gap_s if beat is not None else 0.0,
        max_poll_gap_s=link.max_poll_gap_s,
        max_journal_s=link.max_journal_s,
    )
