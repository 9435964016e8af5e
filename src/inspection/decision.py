"""The decision: what happens to one parcel, from its facts, declaration, status and rules."""

from __future__ import annotations

import math
from dataclasses import dataclass

from contracts.clock import Clock
from contracts.facts import ParcelFacts
from contracts.reasons import REASON_INDEX, Outcome, Reason
from contracts.statuses import XrayState
from inspection.checks import (
    Dossier,
    is_cbec_retail_import,
    prohibited_hit,
    randomly_selected,
    three_doc_problems,
    value_reasons,
)
from inspection.identity import normalise
from inspection.model import DocKind
from inspection.rules import RuleSet
from inspection.tax import postal_problems, tax_problem


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome, every reason found (deciding one first), the rule-set version and notes."""

    outcome: Outcome
    reasons: tuple[Reason, ...]
    rule_set_version: str
    notes: tuple[str, ...] = ()


#: Precedence: the first line with any of its reasons present decides the outcome.
PRECEDENCE: tuple[tuple[Outcome, frozenset[Reason]], ...] = (
    (
        Outcome.REJECT,
        frozenset(
            {
                Reason.NO_READ,
                Reason.MULTI_READ_CONFLICT,
                Reason.INVALID_CODE,
                Reason.NO_WEIGHT,
                Reason.UNSTABLE_WEIGHT,
                Reason.LATE_DECISION,
                Reason.DEVICE_FAULT,
            }
        ),
    ),
    (Outcome.RETURN, frozenset({Reason.CUSTOMS_RETURN})),
    (
        Outcome.HOLD,
        frozenset(
            {
                Reason.CUSTOMS_DETAINED,
                Reason.CUSTOMS_SUSPENDED,
                Reason.CUSTOMS_REJECTED,
                Reason.CUSTOMS_PENDING,
                Reason.NOT_DECLARED,
                Reason.DUPLICATE_PARCEL,
                Reason.INSPECTOR_HOLD,
                Reason.XRAY_PENDING,
                Reason.DECLARATION_CONFLICT,
            }
        ),
    ),
    (
        Outcome.INSPECT,
        frozenset(
            {
                Reason.CUSTOMS_INSPECT,
                Reason.PROHIBITED_GOODS,
                Reason.THREE_DOC_MISMATCH,
                Reason.VALUE_LIMIT,
                Reason.ANNUAL_LIMIT,
                Reason.WEIGHT_DEVIATION,
                Reason.XRAY_SUSPECT,
                Reason.RANDOM_SELECTION,
                Reason.TAX_MISMATCH,
            }
        ),
    ),
)

#: Every reason's outcome line, derived from PRECEDENCE.
OUTCOME_OF: dict[Reason, Outcome] = {r: o for o, rs in PRECEDENCE for r in rs}


def outcome_for(reasons: frozenset[Reason] | set[Reason]) -> Outcome:
    """Return the outcome that the precedence table gives for a set of reasons."""
    for outcome, members in PRECEDENCE:
        if reasons & members:
            return outcome
    return Outcome.RELEASE


def ordered(reasons: set[Reason] | frozenset[Reason]) -> tuple[Reason, ...]:
    """Order reasons by precedence line, then by their stable index, deciding one first."""
    line = {r: i for i, (_, rs) in enumerate(PRECEDENCE) for r in rs}
    return tuple(sorted(reasons, key=lambda r: (line[r], REASON_INDEX[r])))


#: Customs returnStatus → reason (release statuses are configured in the rules).
_PENDING = frozenset({1, 2, 3, 4, 120, 300, 399, 400})
_DETAINED = frozenset({501, 502, 503, 599})
_STATUS_REASON: dict[int, Reason] = {
    100: Reason.CUSTOMS_REJECTED,
    500: Reason.CUSTOMS_INSPECT,
    600: Reason.CUSTOMS_SUSPENDED,
    700: Reason.CUSTOMS_RETURN,
    **{s: Reason.CUSTOMS_PENDING for s in _PENDING},
    **{s: Reason.CUSTOMS_DETAINED for s in _DETAINED},
}


#: Statuses that hold a parcel as pending but deserve their own words in the explanation.
_STATUS_WORDS: dict[int, str] = {
    4: "sending to customs failed (status 4): the filer must resend",
    899: "customs closed the list (status 899), which is not a release by itself",
}


def status_reason(status: int | None, released: frozenset[int]) -> Reason | None:
    """Return the reason a customs status gives, or None when it is a release status."""
    if status is not None and status in released:
        return None
    if status is None:
        return Reason.CUSTOMS_PENDING
    return _STATUS_REASON.get(status, Reason.CUSTOMS_PENDING)


def status_note(status: int | None) -> str:
    """The explanation of a customs status that is not a release."""
    if status is None:
        return "no customs receipt yet"
    if status in _STATUS_WORDS:
        return _STATUS_WORDS[status]
    if status < 0:
        return f"customs error {status} about a message; the status is not a release"
    if status not in _STATUS_REASON and status != 800:
        return f"unknown customs status {status}: held until customs answers"
    return f"customs status {status}"


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _weight(
    facts: ParcelFacts, d: Dossier | None, rules: RuleSet, found: set[Reason], notes: list[str]
) -> None:
    if facts.weight_kg is None:
        found.add(Reason.NO_WEIGHT)
        return
    if not _finite(facts.weight_kg) or facts.weight_kg < 0:
        found.add(Reason.NO_WEIGHT)
        notes.append(f"measured weight {facts.weight_kg!r} is not a weight")
        return
    if not facts.weight_stable:
        found.add(Reason.UNSTABLE_WEIGHT)
        return
    if d is None:
        return
    declared = d.declaration.gross_weight_kg
    if declared is None and d.waybill is not None:
        declared = d.waybill.gross_weight_kg
    if declared is None:
        found.add(Reason.WEIGHT_DEVIATION)
        notes.append("no declared gross weight to compare")
        return
    declared_kg = float(declared)
    chapters = tuple({line.hs_code[:2] for line in d.declaration.lines if line.hs_code})
    allowed_g = rules.tolerance_g(declared_kg, chapters)
    diff_g = abs(facts.weight_kg - declared_kg) * 1000.0
    if diff_g > allowed_g:
        found.add(Reason.WEIGHT_DEVIATION)
        notes.append(
            f"measured {facts.weight_kg:.3f} kg vs declared {declared_kg:.3f} kg "
            f"(off {diff_g:.0f} g, allowed {allowed_g:.0f} g)"
        )


def decide(
    facts: ParcelFacts,
    declaration: Dossier | None,
    customs_status: int | None,
    rules: RuleSet,
    clock: Clock,
) -> Decision:
    """Decide one parcel. Pure and deterministic; a check that cannot run is a reason."""
    found: set[Reason] = set(facts.identity_reasons)
    notes: list[str] = []
    if facts.device_fault:
        found.add(Reason.DEVICE_FAULT)
    if facts.deadline is not None and clock.now() > facts.deadline:
        found.add(Reason.LATE_DECISION)
    _weight(facts, declaration, rules, found, notes)
    if facts.duplicate:
        found.add(Reason.DUPLICATE_PARCEL)
    if facts.inspector_hold:
        found.add(Reason.INSPECTOR_HOLD)
    if rules.source.xray.required or facts.xray is not XrayState.NONE:
        if facts.xray is XrayState.SUSPECT:
            found.add(Reason.XRAY_SUSPECT)
        elif facts.xray is not XrayState.CLEARED:
            found.add(Reason.XRAY_PENDING)
    if declaration is None:
        if not found & {Reason.NO_READ, Reason.INVALID_CODE, Reason.MULTI_READ_CONFLICT}:
            found.add(Reason.NOT_DECLARED)
    else:
        decl = declaration.declaration
        released = (
            rules.postal_release_statuses if decl.kind is DocKind.POSTAL else rules.release_statuses
        )
        reason = status_reason(customs_status, released)
        if reason is not None:
            found.add(reason)
            notes.append(status_note(customs_status))
        if declaration.conflicts:
            found.add(Reason.DECLARATION_CONFLICT)
            notes.append(f"also declared by {', '.join(declaration.conflicts)}")
        if is_cbec_retail_import(decl):
            problems = three_doc_problems(declaration, rules)
            if problems:
                found.add(Reason.THREE_DOC_MISMATCH)
                notes.extend(problems)
            tax_note = tax_problem(declaration, rules)
            if tax_note is not None:
                found.add(Reason.TAX_MISMATCH)
                notes.append(tax_note)
        value_found, value_notes = value_reasons(declaration, rules, reason is None)
        found |= value_found
        notes.extend(value_notes)
        if decl.kind is DocKind.POSTAL:
            for kind, note in postal_problems(decl, rules):
                found.add(Reason.TAX_MISMATCH if kind == "tax" else Reason.VALUE_LIMIT)
                notes.append(note)
        hit = prohibited_hit(decl, rules, declaration.waybill)
        if hit is not None:
            found.add(Reason.PROHIBITED_GOODS)
            notes.append(f"prohibited/restricted: {hit}")
        code = normalise(decl.logistics_no or decl.business_key)
        if randomly_selected(declaration, rules, code):
            found.add(Reason.RANDOM_SELECTION)
    return Decision(outcome_for(found), ordered(found), rules.version, tuple(notes))
