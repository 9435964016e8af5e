"""The line engine: joins device events per item, decides, and answers the PLC in time.

Everything that touches the tracker, the index and the rules runs on the engine's single
thread (see ``loop.py``), so nothing here needs a lock. Any failure while deciding ends in
the reject chute: a parcel that cannot be decided never goes to a release chute.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from pydantic import ValidationError

from contracts import events as ev
from contracts.clock import Clock
from contracts.events import EdgeEvent, VerdictKind
from contracts.facts import ParcelFacts
from contracts.messages import Verdict
from contracts.reasons import REASON_INDEX, Outcome
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
from edge.line.silence import ScannerWatch
from edge.state import Answer, SafetyState
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
        headroom_ms: Callable[[], float] | None = None,
        state: SafetyState | None = None,
        steady: Clock | None = None,
        scanner_id: str | None = None,
        silent_after: int = 5,
    ) -> None:
        """Wire the engine; ``steady`` measures deadlines (``clock`` by default), ``clock``
        stamps events (the wall clock: a jump of it never moves a deadline)."""
        self.site, self.edge_id = site, edge_id
        self.index, self.rules, self.plan = index, rules, plan
        self._reply, self._emit, self.clock = reply, emit, clock
        self.steady: Clock = steady if steady is not None else clock
        self.margin_ms = margin_ms
        self.tracker = ItemTracker()
        self.reconciler = Reconciler(plan, recirculation_limit)
        #: verdicts, released keys, open answers and the confirm cursor, on disk first
        self.state = state if state is not None else SafetyState()
        self.holds: set[str] = self.state.holds  # parcel codes an inspector put on hold
        self._next_confirm = self.state.confirm_cursor()  # the confirm ring entry due next
        for prior in self.state.open_answers():  # answers given before a restart
            self.reconciler.replied(prior.item_id, prior.chute, Outcome(prior.outcome))
        self.devices: dict[str, bool] = {}
        self.stats = EngineStats()
        self._pending_xray: dict[str, XrayState] = {}  # verdicts by parcel code
        self._screen = screen
        self.expect_weight, self.expect_xray, self.guard_ms = expect_weight, expect_xray, guard_ms
        #: the measured time a reply needs to reach the PLC (the PLC link's), else ``guard_ms``
        self._headroom = headroom_ms
        #: requests waiting for the item's facts, answered at the latest ``guard_ms`` early
        self._waiting: dict[int, tuple[DestinationRequested, Deadline]] = {}
        #: items an inspector has judged (a pre-screen alarm waits for one until the deadline)
        self._reviewed: set[int] = set()
        #: the tunnel scanner, reported offline when it sends nothing for ``silent_after`` items
        self.scanner_watch = ScannerWatch(scanner_id, silent_after)

    # --- events -------------------------------------------------------------------------

    def handle(self, event: object) -> None:
        """Apply one event from a device, the pre-screen, the hub or the sync."""
        if isinstance(event, DestinationRequested):
            self.answer(event)
        elif isinstance(event, BarcodeRead):
            self._device_state(self.scanner_watch.heard(event.device_id, self.steady.now()))
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
            self.tracker.on_xray(event.item_id, event.state, self.steady.now())
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
            if self.index.writable:
                self.index.add_all(event.declarations)
                for kind, key, status in event.statuses:
                    self.index.set_status(kind, key, status)
            else:  # the sync thread wrote the page into the store; read it afresh
                self.index.forget()
            if event.rules is not None:
                log.info("edge %s: rules %s now in force", self.edge_id, event.rules.version)
                self.rules = event.rules
            for verdict in event.verdicts:  # a verdict already held changes nothing
                self._verdict(verdict)
            if event.verdicts_cursor is not None:
                self.state.set_verdicts_cursor(event.verdicts_cursor)
        else:
            log.warning("edge %s: ignored unknown event %s", self.edge_id, type(event).__name__)

    def _device_state(self, state: DeviceStateChanged | None) -> None:
        """Apply a state the engine worked out itself (None: nothing to report)."""
        if state is not None:
            self.handle(state)

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
        # a confirmation read again after a restart carries the same event id: stored once
        event_id = None
        if event.seq is not None:
            name = f"{self.site}/{self.edge_id}/{event.item_id}/{event.seq}/{event.chute}"
            event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"clearline:confirmed:{name}")
        self._event(
            partial(ev.Confirmed, chute=event.chute, status=event.status),
            event.item_id,
            None,
            event_id=event_id,
        )
        cursor = None if event.seq is None else (event.seq + 1) % 0x10000
        self.state.confirmed(event.item_id, cursor)
        self._check_gap(event.seq, cursor)
        for alarm in alarms:
            log.warning(
                "edge %s item %s: %s %s", self.edge_id, event.item_id, alarm.kind, alarm.detail
            )
            self._event(
                partial(ev.Alarm, alarm=alarm.kind.value, detail=alarm.detail), event.item_id, None
            )

    def _check_gap(self, seq: int | None, cursor: int | None) -> None:
        """Raise ``lost_confirms`` when ring entries were overwritten before they were read."""
        expect, self._next_confirm = self._next_confirm, cursor
        if seq is None or expect is None:
            return
        gap = (seq - expect) % 0x10000
        if 0 < gap <= 4096:  # further: the PLC's rings were reset, nothing was lost
            detail = f"{gap} divert confirmations overwritten before they were read"
            log.warning("edge %s: %s", self.edge_id, detail)
            self._event(partial(ev.Alarm, alarm="lost_confirms", detail=detail), None, None)

    def _verdict(self, v: Verdict) -> None:
        code = normalise(v.parcel_code)
        state = {VerdictKind.CLEAR: XrayState.CLEARED, VerdictKind.SUSPECT: XrayState.SUSPECT}
        # committed before it takes effect; a verdict already held (redelivered) changes nothing
        if not self.state.record_verdict(str(v.verdict_id), code, v.item_id, v.verdict.value, v.at):
            log.debug("edge %s: verdict %s already applied", self.edge_id, v.verdict_id)
            return
        if v.verdict is VerdictKind.HOLD:
            log.info("edge %s: parcel %s on hold", self.edge_id, code)  # held by the store
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

    # --- events to the hub --------------------------------------------------------------

    def _event(
        self,
        build: Callable[[], ev.EventPayload],
        item_id: int | None,
        code: str | None,
        *,
        event_id: uuid.UUID | None = None,
    ) -> None:
        """Build one event and emit it; a payload that breaks the contract is dropped."""
        event = self._build(build, item_id, code, event_id=event_id)
        if event is not None:
            self._emit(event)

    def _build(
        self,
        build: Callable[[], ev.EventPayload],
        item_id: int | None,
        code: str | None,
        *,
        event_id: uuid.UUID | None = None,
    ) -> EdgeEvent | None:
        """Build one event; None when its payload breaks the contract.

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
            return None
        return ev.edge_event(
            payload,
            site=self.site,
            edge_id=self.edge_id,
            at=self.clock.now(),
            item_id=item_id,
            parcel_code=code,
            event_id=event_id,
        )
