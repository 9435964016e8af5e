"""What the line model tracks: parcels, where they ended, lane levels and run counters."""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts.statuses import ConfirmStatus
from simulators.line.core import Timer


@dataclass(slots=True)
class Parcel:
    """One item the PLC tracks: identity, true weight and where it is in its journey."""

    item_id: int
    code: str
    weight_kg: float
    lap: int = 0
    lap_start_count: int = 0  # encoder count when the current lap began
    answer: tuple[int, int] | None = None  # (chute, reason) from the edge
    target: int | None = None
    slot: int | None = None  # request ring slot while the request is open
    decision_t: float = 0.0
    timers: list[Timer] = field(default_factory=list)
    disposition: Disposition | None = None  # set when the item leaves the belt
    requested_at: float | None = None  # stamp when this lap's request was posted, s
    replied_at: float | None = None  # stamp when this lap's first reply was taken, s

    @property
    def reply_latency_s(self) -> float | None:
        """Return seconds from posting this lap's request to its first reply (None: none)."""
        if self.requested_at is None or self.replied_at is None:
            return None
        return self.replied_at - self.requested_at


@dataclass(frozen=True, slots=True)
class Disposition:
    """Where an item ended: chute (0 when none), confirm status and laps taken."""

    item_id: int
    code: str
    chute: int
    status: ConfirmStatus
    laps: int
    reason: int
    answered: bool
    reply_latency_s: float | None = None  # last lap: request posted -> reply taken, s


@dataclass(slots=True)
class LineStats:
    """Counters of one run; ``inducted`` equals finished items plus items still on the belt."""

    inducted: int = 0
    requests: int = 0
    replies_taken: int = 0
    replies_late: int = 0
    replies_unknown: int = 0
    replies_invalid: int = 0
    answered_in_time: int = 0
    no_answer: int = 0
    recirculated: int = 0
    recirculation_limit: int = 0
    lost_track: int = 0
    aborted: int = 0
    diverted: dict[int, int] = field(default_factory=dict)

    @property
    def finished(self) -> int:
        """Return the items that left the belt (diverted, lost or aborted)."""
        return sum(self.diverted.values()) + self.lost_track + self.aborted


@dataclass(slots=True)
class Lane:
    """A chute's lane: how full it is, drained at a steady rate (lazily computed)."""

    capacity: int
    drain_per_s: float
    level: float = 0.0
    updated: float = 0.0

    def has_room(self, now: float) -> bool:
        """Drain up to ``now`` and tell whether one more item fits."""
        self.level = max(0.0, self.level - (now - self.updated) * self.drain_per_s)
        self.updated = now
        return self.level + 1.0 <= self.capacity + 1e-9

    def add(self) -> None:
        """Put one item into the lane."""
        self.level += 1.0
