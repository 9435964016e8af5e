"""A discrete-event core: callbacks ordered by simulated time on a ``VirtualClock``."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

from simulators.line.clock import VirtualClock


class Timer:
    """A scheduled callback; ``cancel()`` makes it a no-op."""

    __slots__ = ("args", "cancelled", "fn", "t")

    def __init__(self, t: float, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.t = t
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        """Stop the callback from running."""
        self.cancelled = True


class EventCore:
    """Runs callbacks in time order; time only moves when ``run_until`` is called."""

    def __init__(self, clock: VirtualClock | None = None) -> None:
        """Use ``clock`` (a fresh ``VirtualClock`` at 0 s by default)."""
        self.clock = clock or VirtualClock()
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self.steps = 0

    @property
    def now(self) -> float:
        """Return the current simulated second."""
        return self.clock.t

    def at(self, t: float, fn: Callable[..., None], *args: Any) -> Timer:
        """Schedule ``fn(*args)`` at simulated second ``t`` (not before now)."""
        timer = Timer(max(t, self.clock.t), fn, args)
        heapq.heappush(self._heap, (timer.t, next(self._seq), timer))
        return timer

    def after(self, seconds: float, fn: Callable[..., None], *args: Any) -> Timer:
        """Schedule ``fn(*args)`` ``seconds`` from now."""
        return self.at(self.clock.t + max(0.0, seconds), fn, *args)

    def next_time(self) -> float | None:
        """Return when the next live callback is due, or None when nothing is scheduled."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def run_until(self, t: float) -> int:
        """Run every callback due up to simulated second ``t``, then set the clock to ``t``."""
        heap = self._heap
        clock = self.clock
        done = 0
        while heap and heap[0][0] <= t:
            when, _, timer = heapq.heappop(heap)
            if timer.cancelled:
                continue
            clock.t = max(clock.t, when)
            timer.fn(*timer.args)
            done += 1
        clock.t = max(clock.t, t)
        self.steps += done
        return done
