"""The PLC link run in a process of its own, out of reach of the edge's interpreter lock.

The PLC's confirm ring holds 16 entries (DESIGN section 6): at 50 parcels/s, 0.32 s. A poll
thread inside the edge shares one interpreter lock with the engine, the sync, the outbox and
the pre-screen; when they keep it, the poll comes late and ring entries are overwritten
unread (measured in ``docs/benchmarks.md``, PLC link). ``PlcProcessLink`` runs the link (polls,
reply writes, confirm journal, heartbeat) in ``edge.line.plc_child`` and offers the engine the
same face as ``PlcLink``: ``reply()``, ``headroom_ms()``, ``first_read_at``, ``replies_sent``.

A supervising thread here reads the process's events and hands them to ``sink``, tells the
process every 0.1 s that the engine still turns (the heartbeat stops when it does not), and
watches it: a process that dies (or stays silent for ``STALL_S``: it is killed) is logged, the
PLC reported offline, and a new one started after ``restart_s`` (meanwhile the PLC rejects
unanswered items itself, on their deadline).
The process ends with the edge: on ``join()``, and by itself when the edge's side of the pipe
closes, even after a SIGKILL.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import send_handle
from typing import Literal

from contracts.clock import Clock, SystemClock
from devices.adapters.plc import PlcEvent
from devices.events import DeviceStateChanged, SendToChute
from edge.line.engine import InboxCheck
from edge.line.heartbeat import INTERVAL_S
from edge.line.plc_child import ChildSettings, LinkFigures, main
from edge.line.plc_link import INITIAL_HEADROOM_MS

log = logging.getLogger(__name__)

#: The start method: a fresh interpreter (the edge has threads: a fork would copy their locks).
START_METHOD: Literal["spawn"] = "spawn"
#: Time between two "alive" messages to the process, seconds.
ALIVE_EVERY_S = 0.1
#: A process that sent nothing (not even its figures, due every 0.1 s) this long is killed, s.
STALL_S = 5.0
#: ... and a new one, before its first message (a fresh interpreter's imports), seconds.
START_S = 30.0
#: Longest wait for the engine to handle what a dead process journaled, before the next
#: process starts anyway, seconds.
INBOX_WAIT_S = 10.0
#: How long ``join()`` waits for the process to end before killing it, seconds.
STOP_WAIT_S = 3.0


class _Beats:
    """The heartbeat's figures as the PLC process reported them (a ``BeatFigures``)."""

    def __init__(self) -> None:
        self.interval_s = INTERVAL_S
        self.beats = 0
        self.late = 0
        self.max_gap_s = 0.0


class WarmProcess:
    """A PLC link process started ahead: its imports done, it waits for its settings.

    A spare edge starts one before it waits for the lock, so a takeover does not wait for a
    new interpreter (0.5-1.5 s on a busy machine) before the PLC's ring is read.
    """

    def __init__(self) -> None:
        """Start the process (``spawn``)."""
        ctx: SpawnContext = multiprocessing.get_context(START_METHOD)
        self.conn, theirs = ctx.Pipe(duplex=True)
        self.process: BaseProcess = ctx.Process(target=main, args=(theirs,), name="plc-link")
        self.process.daemon = True  # ended at a normal interpreter exit too
        self.process.start()
        theirs.close()  # only the process holds its end: it sees EOF when we are gone

    def close(self) -> None:
        """End the process unused."""
        self.conn.close()
        self.process.join(STOP_WAIT_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1.0)


class PlcProcessLink:
    """Runs the PLC link in a child process; same interface as ``PlcLink`` for the edge."""

    def __init__(
        self,
        settings: ChildSettings,
        sink: Callable[[PlcEvent | InboxCheck], None],
        stop: threading.Event,
        *,
        alive: Callable[[], bool] | None = None,
        restart_s: float = 1.0,
        stall_s: float = STALL_S,
        clock: Clock | None = None,
        warm: WarmProcess | None = None,
    ) -> None:
        """Prepare the link; ``start()`` starts the process and its supervising thread.

        ``alive()`` says whether the engine still turns (None: always); ``clock`` stamps the
        offline report when the process dies; ``warm`` is a process started ahead, used first.
        A process that sends nothing for ``stall_s`` is killed and started again.
        """
        self.settings = settings
        self.device_id = settings.device.device_id
        self.poll_interval_s = settings.poll_interval_s
        self._sink, self._stop, self._alive = sink, stop, alive
        self._restart_s, self._stall_s = restart_s, stall_s
        self._clock: Clock = clock or SystemClock()
        self._warm = warm
        self._lock_fd: int | None = None
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._send_lock = threading.Lock()
        self._figures: LinkFigures | None = None
        self._base = LinkFigures(INITIAL_HEADROOM_MS, 0, 0, 0, 0, None, 0, 0, 0.0)
        self.beat = _Beats()
        #: processes that ended without being asked to (each was started again)
        self.restarts = 0
        self.thread = threading.Thread(target=self._run, name="edge-plc", daemon=True)

    # --- the PlcLink face -----------------------------------------------------------------

    def reply(self, command: SendToChute) -> None:
        """Send one reply to the process (any thread; a dead process loses it: fail closed)."""
        msg = ("reply", command.item_id, command.chute, command.reason, time.monotonic())
        if not self._send(msg):
            log.warning(
                "device %s: reply for item %s not posted: the PLC link process is down",
                self.device_id,
                command.item_id,
            )

    def headroom_ms(self) -> float:
        """Return the headroom the process measured last (see ``PlcLink.headroom_ms``)."""
        f = self._figures
        return f.headroom_ms if f is not None else self._base.headroom_ms

    @property
    def first_read_at(self) -> float | None:
        """``time.time()`` of the first complete read of the PLC by any of the processes."""
        if self._base.first_read_at is not None or self._figures is None:
            return self._base.first_read_at
        return self._figures.first_read_at

    @property
    def replies_sent(self) -> int:
        """Replies written to the PLC (all processes)."""
        return self._total("replies_sent")

    @property
    def replies_failed(self) -> int:
        """Replies that could not be written (all processes)."""
        return self._total("replies_failed")

    @property
    def lost_requests(self) -> int:
        """Requests overwritten before they were read (all processes)."""
        return self._total("lost_requests")

    @property
    def lost_confirms(self) -> int:
        """Confirmations overwritten before they were read (all processes)."""
        return self._total("lost_confirms")

    @property
    def max_poll_gap_s(self) -> float:
        """The longest time between two poll cycles of the running process, seconds."""
        return self._figures.max_poll_gap_s if self._figures is not None else 0.0

    @property
    def max_journal_s(self) -> float:
        """The longest confirm journal commit of the running process, seconds."""
        return self._figures.max_journal_s if self._figures is not None else 0.0

    @property
    def pid(self) -> int | None:
        """The process id of the running PLC link process."""
        return self._proc.pid if self._proc is not None else None

    def start(self, lock_fd: int | None = None) -> None:
        """Start the process and the thread that supervises it.

        ``lock_fd`` is the edge's locked store file (``EdgeLock``): each process gets a copy,
        so the lock stays held until the edge *and* its PLC link process have ended; a spare
        never drives the PLC beside a process of a dead edge, and finds its last
        confirmations journaled when it takes over.
        """
        self._lock_fd = lock_fd
        self._spawn()
        self.thread.start()

    def join(self, timeout_s: float = 5.0) -> None:
        """After the stop event was set: ask the process to stop, wait for it and the thread."""
        if self._warm is not None:  # never started
            self._warm.close()
            self._warm = None
        self._send(("stop",))
        if self.thread.ident is not None:
            self.thread.join(timeout_s)
        self._end_process()

    # --- internals ----------------------------------------------------------------------------

    def _total(self, name: str) -> int:
        now = getattr(self._figures, name) if self._figures is not None else 0
        return int(getattr(self._base, name)) + int(now)

    def _send(self, msg: tuple[object, ...]) -> bool:
        """Send to the process; False when there is none or it is gone."""
        conn = self._conn
        if conn is None:
            return False
        try:
            with self._send_lock:
                conn.send(msg)
        except (OSError, ValueError):
            return False
        return True

    def _spawn(self) -> None:
        """Set a process going: the one started ahead, else a new one (figures are kept)."""
        warm, self._warm = self._warm or WarmProcess(), None
        lock = self._lock_fd
        try:
            warm.conn.send(("go", self.settings, lock is not None))
            if lock is not None and warm.process.pid is not None:
                send_handle(warm.conn, lock, warm.process.pid)
        except OSError as err:  # it died already: seen as an end of pipe, and restarted
            log.warning("device %s: PLC link process not started: %s", self.device_id, err)
        self._proc, self._conn = warm.process, warm.conn
        log.info("device %s: PLC link process %s started", self.device_id, warm.process.pid)

    def _run(self) -> None:
        """Read the process's messages; restart it when it ends unasked or stops talking."""
        next_alive = 0.0
        heard, talked = time.monotonic(), False  # a new process has START_S to say a word
        while True:
            conn = self._conn
            assert conn is not None
            try:
                if conn.poll(ALIVE_EVERY_S):
                    self._dispatch(conn.recv())
                    heard, talked = time.monotonic(), True
            except (EOFError, OSError):
                if self._stop.is_set():
                    return
                check = self._lost()
                if self._stop.wait(self._restart_s) or not self._checked(check):
                    return
                self._spawn()
                heard, talked = time.monotonic(), False
                continue
            now = time.monotonic()
            limit = self._stall_s if talked else max(self._stall_s, START_S)
            if now - heard > limit and not self._stop.is_set():
                self._kill_stalled(now - heard)
                heard = now
            if now >= next_alive:
                next_alive = now + ALIVE_EVERY_S
                if self._alive is None or self._alive():
                    self._send(("alive",))

    def _kill_stalled(self, silent_s: float) -> None:
        """Kill a process that sent nothing (its figures come every 0.1 s): hung, not dead."""
        proc = self._proc
        if proc is None:
            return
        log.error(
            "device %s: PLC link process %s silent for %.1f s; killed",
            self.device_id,
            proc.pid,
            silent_s,
        )
        proc.kill()  # its end of the pipe closes: restarted like a process that died

    def _dispatch(self, msg: tuple[object, ...]) -> None:
        kind = msg[0]
        if kind == "events":
            events = msg[1]
            assert isinstance(events, list)
            for event in events:
                self._sink(event)
        elif kind == "figures":
            figures = msg[1]
            assert isinstance(figures, LinkFigures)
            self._figures = figures
            self.beat.beats = self._base.beats + figures.beats
            self.beat.late = self._base.beats_late + figures.beats_late
            self.beat.max_gap_s = max(self._base.beat_max_gap_s, figures.beat_max_gap_s)
        elif kind == "log":
            _, level, name, text = msg
            logging.getLogger(str(name)).log(int(str(level)), "%s", text)

    def _checked(self, check: InboxCheck) -> bool:
        """Wait until the engine handled what the dead process journaled; False on stop.

        The next process reads the ring on from the journaled cursor: a confirmation that was
        journaled but lost in the pipe is handled from the inbox, before new ones arrive.
        """
        until = time.monotonic() + INBOX_WAIT_S
        while not check.done.wait(0.05):
            if self._stop.is_set():
                return False
            if time.monotonic() > until:
                log.warning("device %s: the engine did not check the inbox", self.device_id)
                break
        return True

    def _lost(self) -> InboxCheck:
        """The process ended unasked: keep its figures, report the PLC offline, log it."""
        proc = self._proc
        code = None
        if proc is not None:
            proc.join(1.0)
            code = proc.exitcode
        self.restarts += 1
        f = self._figures
        if f is not None:
            b = self._base
            self._base = LinkFigures(
                f.headroom_ms,
                b.replies_sent + f.replies_sent,
                b.replies_failed + f.replies_failed,
                b.lost_requests + f.lost_requests,
                b.lost_confirms + f.lost_confirms,
                b.first_read_at or f.first_read_at,
                b.beats + f.beats,
                b.beats_late + f.beats_late,
                max(b.beat_max_gap_s, f.beat_max_gap_s),
            )
            self._figures = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        log.error(
            "device %s: PLC link process ended (exit code %s); the PLC rejects what stays "
            "unanswered; starting a new one in %.1f s",
            self.device_id,
            code,
            self._restart_s,
        )
        self._sink(
            DeviceStateChanged(
                self.device_id, "plc", False, self._clock.now(), "plc link process ended"
            )
        )
        check = InboxCheck()
        self._sink(check)
        return check

    def _end_process(self) -> None:
        """Wait for the process to end; kill it if it does not."""
        proc = self._proc
        if proc is not None:
            proc.join(STOP_WAIT_S)
            if proc.is_alive():
                log.warning("device %s: PLC link process did not stop; killed", self.device_id)
                proc.kill()
                proc.join(1.0)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
