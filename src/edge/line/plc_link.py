"""The edge's PLC link: one thread owns the PLC connection, polls it and posts replies at once.

Every read and write of the PLC happens on this thread ("one bus, one owner"), so a reply
never waits for the endpoint lock behind a poll, and the engine thread never blocks on
Modbus. Replies queued by the engine are written as soon as the thread sees them, between
poll cycles; replies that queued up meanwhile share one ``reply_head`` update (up to 16).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from contracts import registers as reg
from devices.adapters.plc import PlcAdapter, PlcEvent
from devices.errors import DeviceError
from devices.events import DeviceStateChanged, SendToChute

log = logging.getLogger(__name__)

#: Pause after a failed poll cycle before the next one, seconds (the endpoint backs off too).
RETRY_S = 0.05


class PlcLink:
    """Polls ``adapter`` every ``adapter.poll_interval_s`` and writes queued replies at once."""

    def __init__(
        self,
        adapter: PlcAdapter,
        sink: Callable[[PlcEvent], None],
        stop: threading.Event,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Hand every PLC event to ``sink``; run until ``stop`` is set."""
        self.adapter = adapter
        self._sink = sink
        self._stop = stop
        self._monotonic = monotonic
        self._replies: queue.SimpleQueue[SendToChute] = queue.SimpleQueue()
        self._last_state: DeviceStateChanged | None = None
        self.replies_sent = 0
        self.replies_failed = 0
        self.thread = threading.Thread(target=self._run, name="edge-plc", daemon=True)

    def reply(self, command: SendToChute) -> None:
        """Queue one reply for the PLC (any thread; never blocks on the network)."""
        self._replies.put(command)

    def start(self) -> None:
        """Start the thread."""
        self.thread.start()

    def join(self, timeout_s: float = 5.0) -> None:
        """Wait for the thread after the stop event was set."""
        self.thread.join(timeout_s)

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
        try:
            events = self.adapter.cycle()
        except DeviceError as err:
            log.debug("device %s: poll failed: %s", self.adapter.device_id, err)
            self._pass_state()
            return False
        for event in events:
            if isinstance(event, DeviceStateChanged):
                self._last_state = event
            self._sink(event)
        return True

    def _pass_state(self) -> None:
        """Pass on a state change the adapter recorded in a failed cycle (it raised instead)."""
        states = self.adapter.states
        if states and states[-1] is not self._last_state:
            self._last_state = states[-1]
            self._sink(states[-1])

    def _drain(self, limit: int) -> list[SendToChute]:
        """Return up to ``limit`` more queued replies without waiting."""
        more: list[SendToChute] = []
        while len(more) < limit:
            try:
                more.append(self._replies.get_nowait())
            except queue.Empty:
                break
        return more

    def _send(self, commands: list[SendToChute]) -> None:
        """Post replies with one head update; on failure the PLC rejects those items itself."""
        try:
            self.adapter.send_many(commands)
        except DeviceError as err:
            self.replies_failed += len(commands)
            log.warning(
                "device %s: %d replies not posted (items %s): %s", self.adapter.device_id,
                len(commands), [c.item_id for c in commands], err,
            )
            return
        self.replies_sent += len(commands)
