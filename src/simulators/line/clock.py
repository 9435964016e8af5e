"""Simulated time: a virtual clock you advance, and a pacer that ties it to the wall clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

#: Where simulated time starts when nobody says otherwise (a fixed, reproducible instant).
DEFAULT_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class VirtualClock:
    """Seconds since the start of a run, moved only by ``advance``/``advance_to``.

    ``now()`` gives the matching UTC datetime, so the clock also serves as a
    ``contracts.clock.Clock``.
    """

    epoch: datetime = DEFAULT_EPOCH
    t: float = 0.0

    def now(self) -> datetime:
        """Return the simulated time as a timezone-aware UTC datetime."""
        return self.epoch + timedelta(seconds=self.t)

    def monotonic(self) -> float:
        """Return simulated seconds since the start of the run."""
        return self.t

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (>= 0)."""
        if seconds < 0:
            raise ValueError(f"cannot move simulated time backwards by {seconds} s")
        self.t += seconds

    def advance_to(self, t: float) -> None:
        """Move the clock to simulated second ``t`` (never backwards)."""
        if t < self.t:
            raise ValueError(f"cannot move simulated time back from {self.t} s to {t} s")
        self.t = t


@dataclass(slots=True)
class RealTimePacer:
    """Maps simulated seconds to wall seconds at ``speed`` (1.0 = real time).

    ``wall`` is the wall-clock source (``time.monotonic`` unless a test injects one).
    """

    speed: float = 1.0
    wall: Callable[[], float] = time.monotonic
    _start_wall: float = field(init=False, default=0.0)
    _start_sim: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError(f"pacer speed must be positive, not {self.speed}")
        self._start_wall = self.wall()

    def restart(self, sim_t: float) -> None:
        """Anchor simulated second ``sim_t`` to the wall clock's present."""
        self._start_wall = self.wall()
        self._start_sim = sim_t

    def slip(self, wall_s: float) -> None:
        """Hold simulated time back by ``wall_s`` wall seconds (a stall the line sat out)."""
        self._start_wall += wall_s

    def sim_now(self) -> float:
        """Return the simulated second that corresponds to the wall clock's present."""
        return self._start_sim + (self.wall() - self._start_wall) * self.speed

    def wall_delay(self, sim_t: float) -> float:
        """Return the wall seconds to wait until simulated second ``sim_t`` (>= 0)."""
        return max(0.0, (sim_t - self.sim_now()) / self.speed)
