"""The one capped back-off every reconnect and retry loop uses."""

from __future__ import annotations

import math


class Backoff:
    """Doubling delays in seconds, from ``initial_s`` up to ``max_s``; ``reset`` after a success.

    ``next_delay()`` returns the delay to wait now and doubles the one after it, never past
    ``max_s``. The helper keeps no clock: the caller waits (or schedules its next attempt)
    with whatever time source it owns.
    """

    __slots__ = ("_current_s", "factor", "initial_s", "max_s")

    def __init__(self, initial_s: float, max_s: float, factor: float = 2.0) -> None:
        """Check the bounds (0 < initial_s <= max_s, finite; factor >= 1)."""
        if not (math.isfinite(initial_s) and math.isfinite(max_s) and math.isfinite(factor)):
            raise ValueError("back-off bounds must be finite numbers")
        if initial_s <= 0 or max_s < initial_s:
            raise ValueError(f"back-off needs 0 < initial_s <= max_s, got {initial_s} and {max_s}")
        if factor < 1:
            raise ValueError(f"back-off factor must be at least 1, got {factor}")
        self.initial_s, self.max_s, self.factor = initial_s, max_s, factor
        self._current_s = initial_s

    @property
    def current_s(self) -> float:
        """Return the delay the next ``next_delay()`` will give, in seconds."""
        return self._current_s

    def next_delay(self) -> float:
        """Return the delay to wait now (s) and grow the next one, capped at ``max_s``."""
        delay = self._current_s
        self._current_s = min(self._current_s * self.factor, self.max_s)
        return delay

    def reset(self) -> None:
        """Start again from ``initial_s`` (call after a success)."""
        self._current_s = self.initial_s
