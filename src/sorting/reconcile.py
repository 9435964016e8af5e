"""Reconciliation of the PLC's divert confirmations against the answers the edge gave."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum

from contracts.reasons import Outcome
from contracts.statuses import ConfirmStatus
from sorting.chutes import ChutePlan


class AlarmKind(StrEnum):
    """Alarms raised by reconciliation."""

    RELEASE_WITHOUT_DECISION = "release_without_decision"  # critical: invariant broken
    CONFIRM_MISMATCH = "confirm_mismatch"
    NO_ANSWER = "no_answer"
    LOST_TRACK = "lost_track"
    ABORTED = "aborted"
    RECIRCULATION_LIMIT = "recirculation_limit"
    UNKNOWN_STATUS = "unknown_status"


@dataclass(frozen=True, slots=True)
class Alarm:
    """One alarm about one item."""

    kind: AlarmKind
    item_id: int
    detail: str


@dataclass(frozen=True, slots=True)
class Reply:
    """What the edge answered the PLC for an item."""

    chute: int
    outcome: Outcome


class Reconciler:
    """Remembers replies and checks each confirmation against them."""

    def __init__(self, plan: ChutePlan, recirculation_limit: int = 2, capacity: int = 50_000):
        self._plan = plan
        self._limit = recirculation_limit
        self._capacity = capacity
        self._replies: OrderedDict[int, Reply] = OrderedDict()
        self._recirc: dict[int, int] = {}

    def replied(self, item_id: int, chute: int, outcome: Outcome) -> None:
        """Record the answer given for an item (a later answer replaces it)."""
        self._replies[item_id] = Reply(chute, outcome)
        self._replies.move_to_end(item_id)
        while len(self._replies) > self._capacity:
            old, _ = self._replies.popitem(last=False)
            self._recirc.pop(old, None)

    def over_recirculation_limit(self, item_id: int) -> bool:
        """Return True when the item has recirculated as often as allowed."""
        return self._recirc.get(item_id, 0) >= self._limit

    def confirmed(self, item_id: int, chute: int, status: int) -> list[Alarm]:
        """Check one confirmation; return the alarms it raises (empty when all is well)."""
        reply = self._replies.get(item_id)
        alarms: list[Alarm] = []
        released = self._plan.is_release(chute) and status == ConfirmStatus.DIVERTED
        if released and (reply is None or reply.outcome is not Outcome.RELEASE):
            what = "no answer" if reply is None else f"decision {reply.outcome.value}"
            alarms.append(
                Alarm(AlarmKind.RELEASE_WITHOUT_DECISION, item_id, f"release chute {chute}, {what}")
            )
        if status == ConfirmStatus.DIVERTED:
            if reply is not None and reply.chute != chute:
                alarms.append(
                    Alarm(
                        AlarmKind.CONFIRM_MISMATCH, item_id, f"answered {reply.chute}, went {chute}"
                    )
                )
        elif status == ConfirmStatus.LANE_FULL:
            n = self._recirc.get(item_id, 0) + 1
            self._recirc[item_id] = n
            if n >= self._limit:
                alarms.append(Alarm(AlarmKind.RECIRCULATION_LIMIT, item_id, f"{n} recirculations"))
        elif status == ConfirmStatus.NO_ANSWER:
            alarms.append(Alarm(AlarmKind.NO_ANSWER, item_id, f"sent to reject chute {chute}"))
        elif status == ConfirmStatus.LOST_TRACK:
            alarms.append(Alarm(AlarmKind.LOST_TRACK, item_id, "PLC lost track"))
        elif status == ConfirmStatus.ABORTED:
            alarms.append(Alarm(AlarmKind.ABORTED, item_id, "divert aborted"))
        else:
            alarms.append(Alarm(AlarmKind.UNKNOWN_STATUS, item_id, f"status {status}"))
        return alarms
