"""Benchmark results, the registry of benchmarks and small timing helpers."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class BenchResult:
    """One measured figure beside its floor (the same work done by the bare library)."""

    name: str
    value: float
    unit: str
    floor_name: str
    floor_value: float
    target: str  # e.g. ">= 20000" or "<= 0.2"
    meets_target: bool
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """``value / floor_value`` (how far from the bare floor the real path is)."""
        return self.value / self.floor_value if self.floor_value else float("inf")

    def as_json(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict with the ratio included."""
        out = asdict(self)
        out["ratio"] = round(self.ratio, 3)
        return out


@dataclass(frozen=True, slots=True)
class BenchContext:
    """What every benchmark gets: a scale factor (1.0 = the full targets) and a work dir."""

    scale: float
    workdir: Path
    progress: Callable[[str], None]

    def n(self, full: int, minimum: int = 1) -> int:
        """Scale a full-size count down for quick runs."""
        return max(minimum, int(full * self.scale))


Benchmark = Callable[[BenchContext], list[BenchResult]]


def percentile(samples: Sequence[float], pct: float) -> float:
    """Return the ``pct`` percentile (0..100) of samples by nearest rank."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, round(pct / 100.0 * (len(ordered) - 1))))
    return ordered[k]


def median(samples: Sequence[float]) -> float:
    """Return the median of samples."""
    return statistics.median(samples) if samples else float("nan")


def peak_rss_mb() -> float:
    """Return this process's peak resident memory in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn: Callable[[], object]) -> float:
    """Run ``fn`` once and return the wall time in seconds."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
