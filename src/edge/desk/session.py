"""The manual desk's decisions: one scanned and weighed parcel → decision, area and events.

A desk has no PLC, so it numbers the parcels it handles itself: the desk sequence number
(1, 2, 3, ... kept across restarts) is the ``item_id`` of the parcel's ``code_read``,
``weighed`` and ``decided`` events, and the hub keys the pass as ``site/desk_id/sequence``.
Decisions use ``inspection.decision.decide`` with the rules in force: a desk has no X-ray,
so while the rules require X-ray a parcel without a cleared image is held (``XRAY_PENDING``).
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from pydantic import ValidationError

from contracts import events as ev
from contracts.clock import Clock
from contracts.events import EdgeEvent, VerdictKind
from contracts.facts import ParcelFacts
from contracts.messages import Verdict
from contracts.reasons import Outcome
from contracts.statuses import XrayState
from devices.events import BarcodeRead, DeviceStateChanged
from edge.config import DeskConfig
from edge.sync import SyncApplied
from inspection.checks import Dossier
from inspection.decision import Decision
from inspection.identity import normalise
from inspection.index import DeclarationIndex, Entry
from inspection.masking import scrub
from inspection.model import Declaration
from inspection.pipeline import ParcelDecision, decide_parcel, parcel_code
from inspection.rules import RuleSet
from inspection.rules_model import Xray

log = logging.getLogger(__name__)

EventSink = Callable[[EdgeEvent], None]


class DeskError(RuntimeError):
    """The desk cannot run as configured (for example it waives X-ray the rules require)."""


def check_xray_setting(cfg: DeskConfig, rules: RuleSet) -> None:
    """Refuse ``xray_required_here: false`` while the rules require X-ray for a release."""
    if cfg.xray_required_here is False and rules.source.xray.required:
        raise DeskError(
            f"desk {cfg.desk_id}: xray_required_here is false, but rules {rules.version} "
            "require a cleared X-ray image for every release (xray.required: true); a desk "
            "cannot waive it: remove the setting or have the rules changed"
        )


def desk_rules(cfg: DeskConfig, rules: RuleSet) -> RuleSet:
    """Return the rules the desk decides with: the rules, made stricter by ``true`` only."""
    if cfg.xray_required_here and not rules.source.xray.required:
        return replace(rules, source=rules.source.model_copy(update={"xray": Xray(required=True)}))
    return rules


# --- weighing ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Weighing:
    """The weight a desk decides with (kg; None = no usable weight) and how it was got."""

    device_id: str
    weight_kg: float | None
    stable: bool
    detail: str
    at: datetime
    flags: frozenset[str] = frozenset()
    device_fault: bool = False


# --- the session ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Found:
    """What the codes read resolved to ("" and None where nothing matched)."""

    kind: str | None = None
    key: str | None = None
    code: str = ""
    declared_kg: float | None = None
    allowed_g: float | None = None

    @property
    def ref(self) -> str:
        """Return ``kind:key`` of the matched declaration ("" when none)."""
        return f"{self.kind}:{self.key}" if self.key else ""


@dataclass(frozen=True, slots=True)
class DeskResult:
    """One parcel handled at the desk: read, weighing, decision and where it must go."""

    seq: int
    desk_id: str
    at: datetime
    read: BarcodeRead
    weighing: Weighing | None
    parcel_code: str | None
    declaration_key: str | None
    declared_kg: float | None
    allowed_g: float | None
    decision: Decision
    area: str
    notes: tuple[str, ...]

    @property
    def outcome(self) -> Outcome:
        """Return the decided outcome."""
        return self.decision.outcome

    @property
    def code(self) -> str:
        """Return the parcel's code: the declaration's, else the first code read ("" if none)."""
        if self.parcel_code:
            return self.parcel_code
        return normalise(self.read.codes[0]) if self.read.codes else ""


def _declared(decl: Declaration, dossier: Dossier | None, rules: RuleSet) -> tuple[float, float]:
    """Return the declared gross weight (kg) and the tolerance allowed around it (g)."""
    declared = decl.gross_weight_kg
    if declared is None and dossier is not None and dossier.waybill is not None:
        declared = dossier.waybill.gross_weight_kg
    if declared is None:
        raise LookupError("no declared gross weight")
    chapters = tuple({ln.hs_code[:2] for ln in decl.lines if ln.hs_code})
    return float(declared), rules.tolerance_g(float(declared), chapters)


def _found(result: ParcelDecision, rules: RuleSet) -> _Found:
    """What the pipeline matched, with the declared weight and its tolerance for the screen."""
    decl = result.declaration
    if decl is None or result.failed:
        return _Found()
    declared_kg = allowed_g = None
    try:
        declared_kg, allowed_g = _declared(decl, result.dossier, rules)
    except LookupError:
        pass
    except Exception:  # the screen's weight line only; the decision stands
        log.exception("declared weight of %s could not be shown", decl.business_key)
    return _Found(
        kind=decl.kind.value,
        key=decl.business_key,
        code=parcel_code(decl),
        declared_kg=declared_kg,
        allowed_g=allowed_g,
    )


class DeskSession:
    """Decides each desk parcel and records its events; apart from ``submit``, one thread."""

    def __init__(
        self,
        *,
        site: str,
        cfg: DeskConfig,
        index: DeclarationIndex,
        rules: RuleSet,
        clock: Clock,
        emit: EventSink,
        next_seq: Callable[[], int],
    ) -> None:
        """Check the desk's X-ray setting against the rules (DeskError) and get ready."""
        check_xray_setting(cfg, rules)
        self.site, self.cfg, self.index, self.rules = site, cfg, index, rules
        self.clock, self._emit, self.next_seq = clock, emit, next_seq
        self.devices: dict[str, bool] = {}
        self.holds: set[str] = set()  # parcel codes an inspector put on hold
        self.xray: dict[str, XrayState] = {}  # inspector verdicts by parcel code
        self._released: set[str] = set()  # declarations released at this desk
        self._inbox: queue.SimpleQueue[object] = queue.SimpleQueue()

    def submit(self, event: object) -> None:
        """Queue a sync page or a verdict from another thread (applied before the next parcel)."""
        self._inbox.put(event)

    def drain(self) -> int:
        """Apply every queued event; return how many."""
        n = 0
        while True:
            try:
                event = self._inbox.get_nowait()
            except queue.Empty:
                return n
            self.apply(event)
            n += 1

    def apply(self, event: object) -> None:
        """Apply a sync page (declarations, statuses, rules) or an inspector verdict."""
        if isinstance(event, SyncApplied):
            if self.index.writable:
                self.index.add_all(event.declarations)
                for kind, key, status in event.statuses:
                    self.index.set_status(kind, key, status)
            else:  # the sync thread wrote the page into the store; read it afresh
                self.index.forget()
            if event.rules is not None:
                if self.cfg.xray_required_here is False and event.rules.source.xray.required:
                    log.warning(
                        "desk %s: rules %s require X-ray; xray_required_here: false no longer "
                        "applies and parcels without a cleared image are held",
                        self.cfg.desk_id,
                        event.rules.version,
                    )
                log.info("desk %s: rules %s now in force", self.cfg.desk_id, event.rules.version)
                self.rules = event.rules
        elif isinstance(event, Verdict):
            code = normalise(event.parcel_code)
            if not code:
                log.warning("desk %s: verdict %s names no code", self.cfg.desk_id, event.verdict_id)
            elif event.verdict is VerdictKind.HOLD:
                self.holds.add(code)
            else:
                clear = event.verdict is VerdictKind.CLEAR
                self.xray[code] = XrayState.CLEARED if clear else XrayState.SUSPECT
        else:
            log.warning("desk %s: ignored %s", self.cfg.desk_id, type(event).__name__)

    def device_changed(self, event: DeviceStateChanged) -> None:
        """Record and report a device going online or offline."""
        self.devices[event.device_id] = event.online
        payload = partial(
            ev.DeviceState,
            device_id=event.device_id,
            device_kind=event.kind,
            online=event.online,
            detail=scrub(event.detail),
        )
        self._event(payload, None, None, event.at)

    def record(
        self, read: BarcodeRead, weighing: Weighing | None, seq: int | None = None
    ) -> DeskResult:
        """Decide one parcel, emit its code_read, weighed and decided events, return the result.

        ``seq`` is the parcel's desk sequence number (a new one when None); ``weighing`` is
        None when the parcel was not weighed. Never raises for bad data: a failed decision
        is a REJECT with DEVICE_FAULT.
        """
        seq = self.next_seq() if seq is None else seq
        t0 = time.perf_counter()
        codes = read.codes
        read_payload = partial(
            ev.CodeRead, device_id=read.device_id, status=read.status, codes=list(codes)
        )
        self._event(read_payload, seq, None, read.at)
        if weighing is not None:
            weighed = partial(
                ev.Weighed,
                device_id=weighing.device_id,
                weight_kg=weighing.weight_kg,
                stable=weighing.stable,
                flags=sorted(weighing.flags),
                detail=scrub(weighing.detail),
            )
            self._event(weighed, seq, None, weighing.at)
        rules = desk_rules(self.cfg, self.rules)
        notes: list[str] = []
        holds, xray, released = self.holds, self.xray, self._released

        def facts_for(entry: Entry | None) -> ParcelFacts:
            decl = entry.declaration if entry is not None else None
            code = parcel_code(decl) if decl is not None else ""
            ref = f"{decl.kind.value}:{decl.business_key}" if decl is not None else ""
            return ParcelFacts(
                weight_kg=weighing.weight_kg if weighing is not None else None,
                weight_stable=weighing.stable if weighing is not None else False,
                xray=xray.get(code, XrayState.NONE),
                inspector_hold=bool(code) and code in holds,
                duplicate=bool(ref) and ref in released,
                device_fault=weighing.device_fault if weighing is not None else False,
            )

        result = decide_parcel(self.index, codes, facts_for, rules, self.clock)
        decision = result.decision
        found = _found(result, rules)
        if rules is not self.rules:
            notes.append("this desk requires a cleared X-ray image (xray_required_here)")
        if weighing is None:
            notes.append("not weighed")
        if decision.outcome is Outcome.RELEASE and found.ref:
            self._released.add(found.ref)
        area = self.cfg.areas.area_for(decision.outcome)
        all_notes = tuple(scrub(n) for n in (*decision.notes, *notes))
        now = self.clock.now()
        code = found.code or None
        decided = partial(
            ev.Decided,
            outcome=decision.outcome,
            reasons=list(decision.reasons),
            rule_set_version=decision.rule_set_version,
            declaration_kind=found.kind,
            declaration_key=found.key,
            chute=None,
            area=area,
            desk=True,
            latency_ms=round((time.perf_counter() - t0) * 1000.0, 3),
            notes=list(all_notes),
        )
        self._event(decided, seq, code, now)
        log.info(
            "desk %s parcel #%s %s: %s (%s)",
            self.cfg.desk_id,
            seq,
            code or (normalise(codes[0]) if codes else "-"),
            decision.outcome.value,
            ",".join(r.value for r in decision.reasons) or "no reasons",
        )
        return DeskResult(
            seq=seq,
            desk_id=self.cfg.desk_id,
            at=now,
            read=read,
            weighing=weighing,
            parcel_code=code,
            declaration_key=found.key,
            declared_kg=found.declared_kg,
            allowed_g=found.allowed_g,
            decision=decision,
            area=area,
            notes=all_notes,
        )

    def _event(
        self,
        build: Callable[[], ev.EventPayload],
        item_id: int | None,
        code: str | None,
        at: datetime,
    ) -> None:
        """Emit one edge event from this desk; a payload that breaks the contract is dropped."""
        try:
            payload = build()
        except ValidationError as err:
            log.warning(
                "desk %s parcel #%s: event not sent, it breaks the contract: %s",
                self.cfg.desk_id,
                item_id,
                ev.problems(err),
            )
            return
        self._emit(
            ev.edge_event(
                payload,
                site=self.site,
                edge_id=self.cfg.desk_id,
                at=at,
                item_id=item_id,
                parcel_code=code,
            )
        )
