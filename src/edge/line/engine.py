"""The line engine: joins device events per item, decides, and answers the PLC in time.

Everything that touches the tracker, the index and the rules runs on the engine's single
thread (see ``loop.py``), so nothing here needs a lock. Any failure while deciding ends in
the reject chute: a parcel that cannot be decided never goes to a release chute.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from contracts import events as ev
from contracts.clock import Clock
from contracts.events import VerdictKind
from contracts.messages import Verdict
from contracts.reasons import Outcome
from contracts.statuses import XrayState
from devices.events import (
    BarcodeRead,
    DestinationRequested,
    DeviceStateChanged,
    DivertConfirmed,
    ImageCaptured,
    WeightMeasured,
)
from edge.line.answering import Answering, ReplySink
from edge.line.emitting import EngineStats, EventSink, XrayScreened, route_of
from edge.line.silence import ScannerWatch
from edge.state import SafetyState
from edge.sync import SyncApplied
from inspection.identity import normalise
from inspection.index import DeclarationIndex
from inspection.model import Declaration
from inspection.rules import RuleSet
from sorting.chutes import ChutePlan
from sorting.deadline import Deadline
from sorting.reconcile import Reconciler
from sorting.tracking import ItemTracker

log = logging.getLogger(__name__)

__all__ = [
    "EngineStats",
    "EventSink",
    "InboxCheck",
    "LineEngine",
    "ReplySink",
    "XrayScreened",
    "route_of",
]

ScreenSink = Callable[[ImageCaptured, Declaration | None], None]


@dataclass(frozen=True, slots=True)
class InboxCheck:
    """The PLC link's process ended: handle what it journaled but never passed on.

    Queued behind every confirmation the process did pass on (the engine loop keeps their
    order), so what the inbox still holds then was lost in the pipe; ``done`` is set after.
    """

    done: threading.Event = field(default_factory=threading.Event)


class LineEngine(Answering):
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
        #: confirmations the PLC link read and journaled before a restart, not handled yet
        self.inbox = self.state.inbox()
        first = self.inbox[0].seq if self.inbox else None
        # the confirm ring entry due next (the inbox's first, else where the link reads on)
        self._next_confirm = first if first is not None else self.state.confirm_cursor()
        #: True once the PLC link journals confirmations (it then keeps the confirm cursor)
        self.journaling = False
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
        elif isinstance(event, InboxCheck):
            try:
                for confirm in self._unhandled():
                    self._confirmed(confirm)
            finally:
                event.done.set()
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
        self.state.confirmed(event.item_id, None if self.journaling else cursor, event.seq)
        self._check_gap(event.seq, cursor)
        for alarm in alarms:
            log.warning(
                "edge %s item %s: %s %s", self.edge_id, event.item_id, alarm.kind, alarm.detail
            )
            self._event(
                partial(ev.Alarm, alarm=alarm.kind.value, detail=alarm.detail), event.item_id, None
            )

    def replay_inbox(self) -> list[DivertConfirmed]:
        """The confirmations journaled before a restart and not handled, as events to handle
        first (then the link reads on from the journal's cursor)."""
        out = [
            DivertConfirmed("inbox", r.item_id, r.chute, r.status, r.at, r.seq) for r in self.inbox
        ]
        self.inbox = []
        return out

    def _unhandled(self) -> list[DivertConfirmed]:
        """The confirmations the safety store's inbox holds now, as events to handle."""
        return [
            DivertConfirmed("inbox", r.item_id, r.chute, r.status, r.at, r.seq)
            for r in self.state.inbox()
        ]

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
