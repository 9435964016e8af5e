"""The injected clock protocol, the system clock and a manual clock for tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current UTC time."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)


class SteadyClock:
    """UTC time that moves only with the monotonic clock: a wall-clock jump never moves it.

    It starts at the wall time of its creation and then counts monotonic seconds, so
    durations and deadlines measured with it stay right when the system clock is stepped.
    Use it to measure time, not to stamp records (it drifts from a corrected wall clock).
    """

    __slots__ = ("_m0", "_monotonic", "_t0")

    def __init__(
        self, start: datetime | None = None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        """Anchor at ``start`` (the wall time now by default)."""
        self._t0 = start if start is not None else datetime.now(UTC)
        self._monotonic = monotonic
        self._m0 = monotonic()

    def now(self) -> datetime:
        """Return the anchor plus the monotonic seconds since."""
        return self._t0 + timedelta(seconds=self._monotonic() - self._m0)


@dataclass(slots=True)
class ManualClock:
    """A clock that moves only when told to; for tests and faster-than-real-time runs."""

    current: datetime

    def now(self) -> datetime:
        """Return the clock's current time."""
        return self.current

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self.current += timedelta(seconds=seconds)
