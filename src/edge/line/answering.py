"""How the line engine answers the PLC: in time, once, and never contradicting itself.

A request is answered at once when the item's facts are complete, else when they are or when
its time runs out (``guard_ms`` or the PLC link's measured headroom before ``answer_by``).
Every answer is committed to the safety store before the PLC hears it, so a restarted (or
standby) edge repeats it instead of deciding again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial

from contracts import events as ev
from contracts.clock import Clock
from contracts.events import EdgeEvent
from contracts.facts import ParcelFacts
from contracts.reasons import REASON_INDEX, Outcome
from contracts.statuses import ReadStatus, XrayState
from devices.events import DestinationRequested, DeviceStateChanged, SendToChute
from edge.line.emitting import EngineStats, EventBuilder, route_of
from edge.line.silence import ScannerWatch
from edge.state import Answer, SafetyState
from inspection.index import DeclarationIndex, Entry
from inspection.model import Declaration
from inspection.pipeline import ParcelDecision, decide_parcel, failed_decision, parcel_code
from inspection.rules import RuleSet
from sorting.chutes import ChutePlan
from sorting.deadline import Deadline
from sorting.reconcile import Reconciler
from sorting.tracking import ItemTracker

log = logging.getLogger(__name__)

ReplySink = Callable[[SendToChute], None]


class Answering(EventBuilder):
    """The decision half of ``LineEngine`` (which sets every attribute named here)."""

    index: DeclarationIndex
    rules: RuleSet
    plan: ChutePlan
    steady: Clock
    margin_ms: int
    guard_ms: int
    expect_weight: bool
    expect_xray: bool
    tracker: ItemTracker
    reconciler: Reconciler
    state: SafetyState
    holds: set[str]
    stats: EngineStats
    devices: dict[str, bool]
    scanner_watch: ScannerWatch
    _reply: ReplySink
    _headroom: Callable[[], float] | None
    _waiting: dict[int, tuple[DestinationRequested, Deadline]]
    _reviewed: set[int]
    _pending_xray: dict[str, XrayState]

    def _device_state(self, state: DeviceStateChanged | None) -> None:
        """Apply a state the engine worked out itself (the engine handles it as an event)."""
        raise NotImplementedError

    def answer(self, req: DestinationRequested) -> None:
        """Answer now when the item's facts are complete, else when they are or time runs out."""
        self.stats.requests += 1
        if self._repeat(req):
            return
        deadline = Deadline.from_request(req.at, req.deadline_ms, self.margin_ms)
        if self._complete(req.item_id) or deadline.left_ms(self.steady.now()) <= self._guard():
            self._answer_now(req, deadline)
        else:
            self._waiting[req.item_id] = (req, deadline)
            self._event(partial(ev.Requested, deadline_ms=req.deadline_ms), req.item_id, None)

    def _repeat(self, req: DestinationRequested) -> bool:
        """Give again an answer already given and not yet confirmed; never contradict it."""
        prior = self.state.open_answer(req.item_id, self.clock.now())
        if prior is None:
            return False
        log.info(
            "edge %s item %s: asked again, chute %s repeated",
            self.edge_id, req.item_id, prior.chute,
        )  # fmt: skip
        for text in prior.events:  # the same event ids: the outbox and the hub keep one copy
            if text:
                self._emit(EdgeEvent.model_validate_json(text))
        self._reply(SendToChute(req.item_id, prior.chute, prior.reason))
        self.reconciler.replied(req.item_id, prior.chute, Outcome(prior.outcome))
        self.stats.answered += 1
        return True

    def _complete(self, item_id: int) -> bool:
        """True when every fact the line can still deliver for the item has arrived."""
        it = self.tracker.get(item_id)
        if it is None or not it.read_status:
            return False
        if self.expect_weight and it.weight_kg is None and not it.faults:
            return False
        if it.read_status == ReadStatus.NOREAD:  # REJECT comes first: no image or verdict alters it
            return True
        if not self.expect_xray or it.xray is XrayState.CLEARED:
            return True
        # a pre-screen alarm waits for the inspector, who may clear it, until time runs out
        return it.xray is XrayState.SUSPECT and item_id in self._reviewed

    def _maybe_answer(self, item_id: int) -> None:
        waiting = self._waiting.get(item_id)
        if waiting is not None and self._complete(item_id):
            del self._waiting[item_id]
            self._answer_now(*waiting)

    def due_in_s(self) -> float | None:
        """Seconds until the earliest waiting request must be answered (None: none waits)."""
        if not self._waiting:
            return None
        now = self.steady.now()
        left = min(d.left_ms(now) for _, d in self._waiting.values()) - self._guard()
        return max(0.0, left / 1000.0)

    def _guard(self) -> float:
        """Return how early (ms before ``answer_by``) a waiting request is answered anyway."""
        return float(self.guard_ms) if self._headroom is None else self._headroom()

    def answer_due(self) -> int:
        """Answer every waiting request whose time has come, with what is known; return count."""
        now = self.steady.now()
        guard = self._guard()
        due = [i for i, (_, d) in self._waiting.items() if d.left_ms(now) <= guard]
        for item_id in due:
            self._answer_now(*self._waiting.pop(item_id))
        return len(due)

    def _answer_now(self, req: DestinationRequested, deadline: Deadline) -> None:
        """Decide one requested item and post the chute; fail closed to the reject chute."""
        t0 = time.perf_counter()
        self._reviewed.discard(req.item_id)
        decl: Declaration | None = None
        try:
            result = self._decide(req.item_id, deadline)
            decision, decl = result.decision, result.declaration
            if result.failed:
                self.stats.failures += 1
            chute = self.plan.chute_for(decision.outcome, route_of(decl) if decl else None)
        except Exception:  # any bug or bad data: the parcel must not be released
            log.exception(
                "edge %s item %s: decision failed; sending to reject", self.edge_id, req.item_id
            )
            self.stats.failures += 1
            decision = failed_decision(self.rules)
            decl, chute = None, self.plan.reject
        code = parcel_code(decl) if decl is not None else None
        reason = REASON_INDEX[decision.reasons[0]] if decision.reasons else 0
        latency_ms = (time.perf_counter() - t0) * 1000.0
        decided = self._build(
            partial(
                ev.Decided,
                outcome=decision.outcome,
                reasons=list(decision.reasons),
                rule_set_version=decision.rule_set_version,
                declaration_kind=decl.kind.value if decl is not None else None,
                declaration_key=decl.business_key if decl is not None else None,
                chute=chute,
                latency_ms=round(latency_ms, 3),
                notes=list(decision.notes),
                deadline_ms=req.deadline_ms,
            ),
            req.item_id,
            code,
        )
        diverted = self._build(partial(ev.Diverted, chute=chute, reason=reason), req.item_id, code)
        key = f"{decl.kind.value}:{decl.business_key}" if decl is not None else None
        sent = [e for e in (decided, diverted) if e is not None]
        released = key if decision.outcome is Outcome.RELEASE else None
        # on disk before the PLC hears it: a restarted edge repeats it, never contradicts it
        answer = Answer(
            req.item_id, chute, reason, decision.outcome.value, self.clock.now(),
            tuple(e.model_dump_json() for e in sent),
        )  # fmt: skip
        self.state.record_answer(answer, released)
        for event in sent:
            self._emit(event)
        self._reply(SendToChute(req.item_id, chute, reason))
        it, watch = self.tracker.get(req.item_id), self.scanner_watch
        online = self.devices.get(watch.device_id) if watch.device_id else None
        # only an item another device saw counts (after a restart nothing is known of it)
        seen = it is not None and (it.weight_kg is not None or bool(it.faults))
        had_frame = not seen or bool(it is not None and it.read_status)
        self._device_state(watch.answered(had_frame, online, self.steady.now()))
        self.tracker.decided(req.item_id, key, decision.outcome, chute)
        self.reconciler.replied(req.item_id, chute, decision.outcome)
        self.stats.answered += 1
        self.stats.last_latency_ms = latency_ms
        if deadline.is_late(self.steady.now()):
            self.stats.late += 1
        self.stats.by_outcome[decision.outcome.value] = (
            self.stats.by_outcome.get(decision.outcome.value, 0) + 1
        )

    def _decide(self, item_id: int, deadline: Deadline) -> ParcelDecision:
        """Decide the item through the one pipeline, with the facts the line gathered."""
        now = self.steady.now()
        item = self.tracker.item(item_id, now)

        def facts_for(entry: Entry | None) -> ParcelFacts:
            duplicate = hold = False
            if entry is not None:
                decl = entry.declaration
                code = parcel_code(decl)
                key = f"{decl.kind.value}:{decl.business_key}"
                duplicate = self._released_before(item_id, key)
                hold = code in self.holds
                pending = self._pending_xray.pop(code, None)
                if pending is not None:
                    self.tracker.on_xray(item_id, pending, now)
            return self.tracker.facts(
                item_id, now, deadline=deadline.answer_by, inspector_hold=hold, duplicate=duplicate
            )

        return decide_parcel(self.index, item.codes, facts_for, self.rules, self.steady)

    def _released_before(self, item_id: int, key: str) -> bool:
        """True when another pass released this declaration (kept across restarts).

        Only this very item, released by this process and sent round again, may be released
        again: PLC item ids start over, so a kept id alone does not prove the same parcel.
        """
        other = self.state.released_item(key)
        if other is None:
            return False
        it = self.tracker.get(item_id)
        lap = it is not None and it.outcome is Outcome.RELEASE and it.parcel_key == key
        return other != item_id or not lap
