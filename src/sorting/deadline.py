"""Decision deadlines: when an answer to the PLC is still useful."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Deadline:
    """The moment by which the PLC must have the answer, less a safety margin for the write."""

    requested_at: datetime
    due: datetime  # the PLC's decision point
    answer_by: datetime  # due minus the margin for the Modbus write

    @classmethod
    def from_request(cls, at: datetime, time_left_ms: int, margin_ms: int) -> Deadline:
        """Build from a request seen at ``at`` with ``time_left_ms`` left (margin in ms)."""
        due = at + timedelta(milliseconds=time_left_ms)
        return cls(at, due, due - timedelta(milliseconds=margin_ms))

    def left_ms(self, now: datetime) -> float:
        """Return milliseconds left to answer (negative when late)."""
        return (self.answer_by - now).total_seconds() * 1000.0

    def is_late(self, now: datetime) -> bool:
        """Return True when an answer made now would come too late."""
        return now > self.answer_by
