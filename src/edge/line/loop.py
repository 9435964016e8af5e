"""The engine's single thread: a priority queue where PLC requests jump the line."""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time

from devices.events import DestinationRequested
from edge.line.engine import LineEngine

log = logging.getLogger(__name__)


class EngineLoop:
    """Feeds events to the engine one at a time; destination requests first."""

    def __init__(self, engine: LineEngine, stop: threading.Event) -> None:
        self.engine = engine
        self._stop = stop
        self._q: queue.PriorityQueue[tuple[int, int, object]] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._thread = threading.Thread(target=self._run, name="edge-engine", daemon=True)
        #: monotonic time of the loop's last turn (it turns at least every 0.1 s while alive)
        self.last_turn = time.monotonic()

    def submit(self, event: object) -> None:
        """Queue one event (thread-safe)."""
        urgent = 0 if isinstance(event, DestinationRequested) else 1
        self._q.put((urgent, next(self._seq), event))

    def backlog(self) -> int:
        """Return how many events wait."""
        return self._q.qsize()

    def start(self) -> None:
        """Start the engine thread."""
        self.last_turn = time.monotonic()
        self._thread.start()

    def join(self, timeout_s: float = 5.0) -> None:
        """Wait for the engine thread after the stop event was set."""
        self._thread.join(timeout_s)

    def alive(self, within_s: float = 1.0) -> bool:
        """Return True when the loop turned within ``within_s`` seconds."""
        return time.monotonic() - self.last_turn <= within_s

    def _run(self) -> None:
        while not self._stop.is_set():
            self.last_turn = time.monotonic()
            due = self.engine.due_in_s()
            timeout = 0.1 if due is None else min(0.1, due)
            try:
                _, _, event = self._q.get(timeout=timeout) if timeout > 0 else self._q.get_nowait()
            except queue.Empty:
                event = None
            try:
                if event is not None:
                    self.engine.handle(event)
                self.engine.answer_due()
            except Exception:
                log.exception("edge engine: event %s failed", type(event).__name__)
