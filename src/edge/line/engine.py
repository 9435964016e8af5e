"""The line engine: joins device events per item, decides, and answers the PLC in time.

Everything that touches the tracker, the index and the rules runs on the engine's single
thread (see ``loop.py``), so nothing here needs a lock. Any failure while deciding ends in
the reject chute: a parcel that cannot be decided never goes to a release chute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from pydantic import ValidationError

from contracts import events as ev
from contracts.clock import Clock
from contracts.events import EdgeEvent, VerdictKind
from contracts.facts import ParcelFacts
from contracts.messages import Verdict
from contracts.reasons import REASON_INDEX
from contracts.statuses import XrayState
from devices.events import (
    BarcodeRead,
    DestinationRequested,
    DeviceStateChanged,
    DivertConfirmed,
    ImageCaptured,
    SendToChute,
    WeightMeasured,
)
from edge.sync import SyncApplied
from inspection.identity import normalise
from inspection.index import DeclarationIndex, Entry
from inspection.model import Declaration, DocKind
from inspection.pipeline import ParcelDecision, decide_parcel, failed_decision, parcel_code
from inspection.rules import RuleSet
from sorting.chutes import ChutePlan
from sorting.deadline import Deadline
from sorting.reconcile import Reconciler
from sorting.tracking import ItemTracker

log = logging.getLogger(__name__)

EventSink = Callable[[EdgeEvent], None]
ReplySink = Callable[[SendToChute], None]
ScreenSink = Callable[[ImageCaptured, Declaration | None], None]


@dataclass(frozen=True, slots=True)
class XrayScreened:
    """The pre-screen (or an inspector) gave an item's image a state."""

    item_id: int
    state: XrayState
    flags: tuple[str, ...] = ()
    score: float = 0.0
    device_id: str = "xray"


@dataclass(slots=True)
class EngineStats:
    """Counters for health and metrics."""

    requests: int = 0
    answered: int = 0
    late: int = 0
    failures: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    last_latency_ms: float = 0.0


def route_of(decl: Declaration) -> str:
    """The release route of a declaration: ``postal``, or direction and customs mode."""
    if decl.kind is DocKind.POSTAL:
        return "postal"
    direction = (
        "export" if decl.ie_flag == "E" or decl.kind is DocKind.EXPORT_INVENTORY else "import"
    )
    return f"{direction}-{decl.trade_mode or 'other'}"


class LineEngine:
    """Decides each item the PLC asks about; pure apart from its two sinks."""

    def __init__(
        self,
        *,
        site: str,
        edge_id: str,
        index: DeclarationIndex,
        rules: RuleSet,
        plan: ChutePlan,
        reply: ReplySink,
        emit: EventSink,
        clock: Clock,
        margin_ms: int = 15,
        recirculation_limit: int = 2,
        screen: ScreenSink | None = None,
        expect_weight: bool = True,
        expect_xray: bool = True,
        guard_ms: int = 40,
    ) -> None:
        self.site, self.edge_id = site, edge_id
        self.index, self.rules, self.plan = index, rules, plan
        self._reply, self._emit, self.clock = reply, emit, clock
        self.margin_ms = margin_ms
        self.tracker = ItemTracker()
        self.reconciler = Reconciler(plan, recirculation_limit)
        self.holds: set[str] = set()  # parcel codes an inspector put on hold
        self.devices: dict[str, bool] = {}
        self.stats = EngineStats()
        self._pending_xray: dict[str, XrayState] = {}  # verdicts by parcel code
        self._screen = screen
        self.expect_weight, self.expect_xray, self.guard_ms = expect_weight, expect_xray, guard_ms
        #: requests waiting for the item's facts, answered at the latest ``guard_ms`` early
        self._waiting: dict[int, tuple[DestinationRequested, Deadline]] = {}
        #: items an inspector has judged (a pre-screen alarm waits for one until the deadline)
        self._reviewed: set[int] = set()

    # --- events -------------------------------------------------------------------------

    def handle(self, event: object) -> None:
        """Apply one event from a device, the pre-screen, the hub or the sync."""
        if isinstance(event, DestinationRequested):
            self.answer(event)
        elif isinstance(event, BarcodeRead):
            self.tracker.on_codes(event.item_id, event.status.value, event.codes, event.at)
            self._maybe_answer(event.item_id)
            self._event(
                partial(
                    ev.CodeRead,
                    device_id=event.device_id,
                    status=event.status,
                    codes=list(event.codes),
                ),
                event.item_id,
                None,
            )
            self.index.warm(event.codes)  # the PLC asks later: its answer finds them hot
        elif isinstance(event, WeightMeasured):
            self._weighed(event)
        elif isinstance(event, ImageCaptured):
            self._imaged(event)
        elif isinstance(event, XrayScreened):
            self.tracker.on_xray(event.item_id, event.state, self.clock.now())
            self._event(
                partial(
                    ev.Imaged,
                    device_id=event.device_id,
                    prescreen=event.state.value.lower(),
                    state=event.state.value,
                    flags=list(event.flags),
                    score=round(event.score, 3),
                ),
                event.item_id,
                None,
            )
            self._maybe_answer(event.item_id)
        elif isinstance(event, DivertConfirmed):
            self._confirmed(event)
        elif isinstance(event, DeviceStateChanged):
            self.devices[event.device_id] = event.online
            self._event(
                partial(
                    ev.DeviceState,
                    device_id=event.device_id,
                    device_kind=event.kind,
                    online=event.online,
                    detail=event.detail,
                ),
                None,
                None,
            )
        elif isinstance(event, Verdict):
            self._verdict(event)
        elif isinstance(event, SyncApplied):
            self.index.add_all(event.declarations)
            for kind, key, status in event.statuses:
                self.index.set_status(kind, key, status)
            if event.rules is not None:
                log.info("edge %s: rules %s now in force", self.edge_id, event.rules.version)
                self.rules = event.rules
        else:
            log.warning("edge %s: ignored unknown event %s", self.edge_id, type(event).__name__)

    def _imaged(self, event: ImageCaptured) -> None:
        """Hand an image to the pre-screen with the item's declaration, when it is known."""
        item = self.tracker.item(event.item_id, event.at)
        res = self.index.resolve(item.codes) if item.codes else None
        decl = res.entry.declaration if res is not None and res.entry is not None else None
        if self._screen is None:
            self.handle(XrayScreened(event.item_id, XrayState.PENDING, device_id=event.device_id))
        else:
            self._screen(event, decl)

    def _weighed(self, event: WeightMeasured) -> None:
        if event.weight_kg is None:
            self.tracker.on_fault(event.item_id, "scale", event.at)
        else:
            self.tracker.on_weight(event.item_id, event.weight_kg, event.stable, event.at)
        self._event(
            partial(
                ev.Weighed,
                device_id=event.device_id,
                weight_kg=event.weight_kg,
                stable=event.stable,
                flags=sorted(event.flags),
            ),
            event.item_id,
            None,
        )
        self._maybe_answer(event.item_id)

    def _confirmed(self, event: DivertConfirmed) -> None:
        alarms = self.reconciler.confirmed(event.item_id, event.chute, event.status)
        self._event(
            partial(ev.Confirmed, chute=event.chute, status=event.status), event.item_id, None
        )
        for alarm in alarms:
            log.warning(
                "edge %s item %s: %s %s", self.edge_id, event.item_id, alarm.kind, alarm.detail
            )
            self._event(
                partial(ev.Alarm, alarm=alarm.kind.value, detail=alarm.detail), event.item_id, None
            )

    def _verdict(self, v: Verdict) -> None:
        code = normalise(v.parcel_code)
        state = {VerdictKind.CLEAR: XrayState.CLEARED, VerdictKind.SUSPECT: XrayState.SUSPECT}
        if v.verdict is VerdictKind.HOLD:
            self.holds.add(code)
        elif v.item_id is not None and self.tracker.get(v.item_id) is not None:
            self.tracker.on_xray(v.item_id, state[v.verdict], v.at)
            self._reviewed.add(v.item_id)
            self._maybe_answer(v.item_id)
        else:
            self._pending_xray[code] = state[v.verdict]
        self._event(
            partial(ev.VerdictApplied, verdict_id=v.verdict_id, verdict=v.verdict), v.item_id, code
        )

    # --- the decision -------------------------------------------------------------------

    def answer(self, req: DestinationRequested) -> None:
        """Answer now when the item's facts are complete, else when they are or time runs out."""
        self.stats.requests += 1
        deadline = Deadline.from_request(req.at, req.deadline_ms, self.margin_ms)
        if self._complete(req.item_id) or deadline.left_ms(self.clock.now()) <= self.guard_ms:
            self._answer_now(req, deadline)
        else:
            self._waiting[req.item_id] = (req, deadline)

    def _complete(self, item_id: int) -> bool:
        """True when every fact the line can still deliver for the item has arrived."""
        it = self.tracker.get(item_id)
        if it is None or not it.read_status:
            return False
        if self.expect_weight and it.weight_kg is None and not it.faults:
            return False
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
        now = self.clock.now()
        left = min(d.left_ms(now) for _, d in self._waiting.values()) - self.guard_ms
        return max(0.0, left / 1000.0)

    def answer_due(self) -> int:
        """Answer every waiting request whose time has come, with what is known; return count."""
        now = self.clock.now()
        due = [i for i, (_, d) in self._waiting.items() if d.left_ms(now) <= self.guard_ms]
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
        self._event(
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
        self._reply(SendToChute(req.item_id, chute, reason))
        key = f"{decl.kind.value}:{decl.business_key}" if decl is not None else None
        self.tracker.decided(req.item_id, key, decision.outcome, chute)
        self.reconciler.replied(req.item_id, chute, decision.outcome)
        self.stats.answered += 1
        self.stats.last_latency_ms = latency_ms
        if deadline.is_late(self.clock.now()):
            self.stats.late += 1
        self.stats.by_outcome[decision.outcome.value] = (
            self.stats.by_outcome.get(decision.outcome.value, 0) + 1
        )
        self._event(partial(ev.Diverted, chute=chute, reason=reason), req.item_id, code)

    def _decide(self, item_id: int, deadline: Deadline) -> ParcelDecision:
        """Decide the item through the one pipeline, with the facts the line gathered."""
        now = self.clock.now()
        item = self.tracker.item(item_id, now)

        def facts_for(entry: Entry | None) -> ParcelFacts:
            duplicate = hold = False
            if entry is not None:
                decl = entry.declaration
                code = parcel_code(decl)
                key = f"{decl.kind.value}:{decl.business_key}"
                duplicate = self.tracker.is_duplicate(item_id, key)
                hold = code in self.holds
                pending = self._pending_xray.pop(code, None)
                if pending is not None:
                    self.tracker.on_xray(item_id, pending, now)
            return self.tracker.facts(
                item_id, now, deadline=deadline.answer_by, inspector_hold=hold, duplicate=duplicate
            )

        return decide_parcel(self.index, item.codes, facts_for, self.rules, self.clock)

    # --- events to the hub --------------------------------------------------------------

    def _event(
        self, build: Callable[[], ev.EventPayload], item_id: int | None, code: str | None
    ) -> None:
        """Build one event payload and emit it; a payload that breaks the contract is dropped.

        A device may report what the contract refuses (a negative weight, an unknown
        confirmation status): the fact still reaches the tracker and the decision, only the
        event is dropped, with a warning, as the hub would refuse it.
        """
        try:
            payload = build()
        except ValidationError as err:
            log.warning(
                "edge %s item %s: event not sent, it breaks the contract: %s",
                self.edge_id,
                item_id,
                ev.problems(err),
            )
            return
        self._emit(
            ev.edge_event(
                payload,
                site=self.site,
                edge_id=self.edge_id,
                at=self.clock.now(),
                item_id=item_id,
                parcel_code=code,
            )
        )
