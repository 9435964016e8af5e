"""The edge's PLC link: one thread owns the PLC connection, polls it and posts replies at once.

Every read and write of the PLC happens on this thread ("one bus, one owner"), so a reply
never waits for the endpoint lock behind a poll, and the engine thread never blocks on
Modbus. Replies queued by the engine are written as soon as the thread sees them, between
poll cycles; replies that queued up meanwhile share one ``reply_head`` update (up to 16).

The link measures how long a reply takes from the engine's hand to the PLC's registers
(queue wait, the write itself, and the GIL in between) and offers ``headroom_ms()``: how
early a fallback answer must leave so that it is written before the item's decision
point. That headroom follows the line as it is, not a fixed margin.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable

from contracts import registers as reg
from devices.adapters.plc import PlcAdapter, PlcEvent
from devices.errors import DeviceError
from devices.events import DeviceStateChanged, DivertConfirmed, SendToChute

log = logging.getLogger(__name__)

#: Pause after a failed poll cycle before the next one, seconds (the endpoint backs off too).
RETRY_S = 0.05
#: Replies whose hand-to-register time sets the headroom (the most recent ones).
LATENCY_WINDOW = 128
#: Headroom before any reply was measured, and its least value, ms.
INITIAL_HEADROOM_MS = 25.0
MIN_HEADROOM_MS = 5.0
#: The headroom is this many times the slowest recent reply (queue wait + write).
HEADROOM_FACTOR = 2.0


class PlcLink:
    """Polls ``adapter`` every ``adapter.poll_interval_s`` and writes queued replies at once."""

    def __init__(
        self,
        adapter: PlcAdapter,
        sink: Callable[[PlcEvent], None],
        stop: threading.Event,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        journal: Callable[[list[DivertConfirmed]], None] | None = None,
    ) -> None:
        """Hand every PLC event to ``sink``; run until ``stop`` is set.

        ``journal`` commits the confirmations read to disk before they are handed on, so the
        confirm cursor follows what was read from the PLC's 16-entry ring, not the engine; it
        runs on a thread of its own (``journal_thread``), so a slow disk never delays a poll.
        """
        self.adapter = adapter
        self._sink = sink
        self._journal = journal
        self._stop = stop
        self._monotonic = monotonic
        self._replies: queue.SimpleQueue[tuple[SendToChute, float]] = queue.SimpleQueue()
        self._latency_ms: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._last_state: DeviceStateChanged | None = None
        self.replies_sent = 0
        self.replies_failed = 0
        #: the longest time between the starts of two poll cycles, and the longest journal
        #: commit, seconds (the confirm ring holds 16 entries: 0.32 s at 50 parcels/s)
        self.max_poll_gap_s = 0.0
        self.max_journal_s = 0.0
        self._last_poll: float | None = None
        self._confirms: queue.SimpleQueue[list[DivertConfirmed] | None] = queue.SimpleQueue()
        self.journal_thread: threading.Thread | None = None
        if journal is not None:
            self.journal_thread = threading.Thread(
                target=self._journal_run, name="edge-plc-journal", daemon=True
            )
        #: ``time.time()`` of the first complete read of the PLC (requests and confirm ring)
        self.first_read_at: float | None = None
        self.thread = threading.Thread(target=self._run, name="edge-plc", daemon=True)

    def reply(self, command: SendToChute, at: float | None = None) -> None:
        """Queue one reply for the PLC (any thread; never blocks on the network).

        ``at`` is when the engine handed it over (``time.monotonic()``; now by default): the
        measured reply time, and so the headroom, counts from there.
        """
        self._replies.put((command, self._monotonic() if at is None else at))

    @property
    def lost_requests(self) -> int:
        """Requests the PLC's ring overwrote before they were read."""
        return self.adapter.lost_requests

    @property
    def lost_confirms(self) -> int:
        """Confirmations the PLC's ring overwrote before they were read."""
        return self.adapter.lost_confirms

    @property
    def pid(self) -> int | None:
        """The PLC link's own process: none, it runs in this one."""
        return None

    @property
    def poll_interval_s(self) -> float:
        """Time between two polls of the PLC, seconds."""
        return self.adapter.poll_interval_s

    def headroom_ms(self) -> float:
        """Return how long before its decision point a fallback answer must be handed over.

        Twice the slowest of the recent replies' hand-to-register times (at least
        ``MIN_HEADROOM_MS``; ``INITIAL_HEADROOM_MS`` before the first reply was written).
        """
        recent = tuple(self._latency_ms)
        if not recent:
            return INITIAL_HEADROOM_MS
        return max(MIN_HEADROOM_MS, HEADROOM_FACTOR * max(recent))

    def start(self) -> None:
        """Start the thread (and the journal's)."""
        if self.journal_thread is not None:
            self.journal_thread.start()
        self.thread.start()

    def join(self, timeout_s: float = 5.0) -> None:
        """Wait for the thread after the stop event was set; then for the journal's last commit."""
        self.thread.join(timeout_s)
        if self.journal_thread is not None and self.journal_thread.ident is not None:
            self._confirms.put(None)
            self.journal_thread.join(timeout_s)

    def _run(self) -> None:
        """Poll on the adapter's cadence; between polls, wait for replies and write them."""
        interval = self.adapter.poll_interval_s
        next_poll = self._monotonic()
        while not self._stop.is_set():
            now = self._monotonic()
            if now >= next_poll:
                next_poll = now + (interval if self._poll() else RETRY_S)
            try:
                first = self._replies.get(timeout=max(0.0, next_poll - self._monotonic()))
            except queue.Empty:
                continue
            self._send([first, *self._drain(reg.RING_SLOTS - 1)])

    def _poll(self) -> bool:
        """Run one poll cycle and pass its events on; False when the PLC did not answer."""
        start = self._monotonic()
        if self._last_poll is not None:
            self.max_poll_gap_s = max(self.max_poll_gap_s, start - self._last_poll)
        self._last_poll = start
        try:
            events = self.adapter.cycle()
        except DeviceError as err:
            log.debug("device %s: poll failed: %s", self.adapter.device_id, err)
            self._pass_state()
            return False
        if self.first_read_at is None:
            self.first_read_at = time.time()
            log.info("device %s: first read of the PLC", self.adapter.device_id)
        confirms = [e for e in events if isinstance(e, DivertConfirmed)]
        if confirms and self._journal is not None:
            self._confirms.put(confirms)  # passed on once on disk, by the journal's thread
        for event in events:
            if isinstance(event, DeviceStateChanged):
                self._last_state = event
            if self._journal is None or not isinstance(event, DivertConfirmed):
                self._sink(event)
        return True

    def _journal_run(self) -> None:
        """Commit the confirmations read, all that queued up in one commit, then pass them on.

        The poll never waits for the disk: an fsync that takes 200 ms on a busy disk would
        let the PLC's ring turn unread at 100 parcels/s.
        """
        assert self._journal is not None
        done = False
        while not done:
            batch = self._confirms.get()
            if batch is None:
                return
            while True:
                try:
                    more = self._confirms.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    done = True
                    break
                batch.extend(more)
            t0 = self._monotonic()
            try:
                self._journal(batch)
            except Exception:  # a full disk must not stop the PLC link; the engine still
                # handles them, and after a restart they are read again from the old cursor
                log.exception("device %s: confirmations not journaled", self.adapter.device_id)
            self.max_journal_s = max(self.max_journal_s, self._monotonic() - t0)
            for confirm in batch:
                self._sink(confirm)

    def _pass_state(self) -> None:
        """Pass on a state change the adapter recorded in a failed cycle (it raised instead)."""
        states = self.adapter.states
        if states and states[-1] is not self._last_state:
            self._last_state = states[-1]
            self._sink(states[-1])

    def _drain(self, limit: int) -> list[tuple[SendToChute, float]]:
        """Return up to ``limit`` more queued replies without waiting."""
        more: list[tuple[SendToChute, float]] = []
        while len(more) < limit:
            try:
                more.append(self._replies.get_nowait())
            except queue.Empty:
                break
        return more

    def _send(self, queued: list[tuple[SendToChute, float]]) -> None:
        """Post replies with one head update; on failure the PLC rejects those items itself."""
        commands = [c for c, _ in queued]
        try:
            self.adapter.send_many(commands)
        except DeviceError as err:
            self.replies_failed += len(commands)
            log.warning(
                "device %s: %d replies not posted (items %s): %s",
                self.adapter.device_id,
                len(commands),
                [c.item_id for c in commands],
                err,
            )
            return
        self.replies_sent += len(commands)
        done = self._monotonic()
        self._latency_ms.extend((done - t) * 1000.0 for _, t in queued)
