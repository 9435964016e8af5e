"""Outcomes and reason codes of a decision, with their stable wire numbering."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """Where a parcel must go, by customs meaning."""

    RELEASE = "RELEASE"
    INSPECT = "INSPECT"
    HOLD = "HOLD"
    RETURN = "RETURN"
    REJECT = "REJECT"


class Reason(StrEnum):
    """Stable reason codes; the member order fixes the numeric index sent to the PLC."""

    NOT_DECLARED = "NOT_DECLARED"
    CUSTOMS_PENDING = "CUSTOMS_PENDING"
    CUSTOMS_REJECTED = "CUSTOMS_REJECTED"
    CUSTOMS_INSPECT = "CUSTOMS_INSPECT"
    CUSTOMS_DETAINED = "CUSTOMS_DETAINED"
    CUSTOMS_SUSPENDED = "CUSTOMS_SUSPENDED"
    CUSTOMS_RETURN = "CUSTOMS_RETURN"
    THREE_DOC_MISMATCH = "THREE_DOC_MISMATCH"
    VALUE_LIMIT = "VALUE_LIMIT"
    ANNUAL_LIMIT = "ANNUAL_LIMIT"
    PROHIBITED_GOODS = "PROHIBITED_GOODS"
    WEIGHT_DEVIATION = "WEIGHT_DEVIATION"
    NO_WEIGHT = "NO_WEIGHT"
    UNSTABLE_WEIGHT = "UNSTABLE_WEIGHT"
    XRAY_SUSPECT = "XRAY_SUSPECT"
    XRAY_PENDING = "XRAY_PENDING"
    INSPECTOR_HOLD = "INSPECTOR_HOLD"
    RANDOM_SELECTION = "RANDOM_SELECTION"
    DUPLICATE_PARCEL = "DUPLICATE_PARCEL"
    INVALID_CODE = "INVALID_CODE"
    NO_READ = "NO_READ"
    MULTI_READ_CONFLICT = "MULTI_READ_CONFLICT"
    LATE_DECISION = "LATE_DECISION"
    DEVICE_FAULT = "DEVICE_FAULT"
    DECLARATION_CONFLICT = "DECLARATION_CONFLICT"
    TAX_MISMATCH = "TAX_MISMATCH"


#: Numeric index of each reason on the PLC reply ring; 0 means "no reason" (a release).
REASON_INDEX: dict[Reason, int] = {reason: i + 1 for i, reason in enumerate(Reason)}
#: Inverse of REASON_INDEX.
REASON_BY_INDEX: dict[int, Reason] = {i: reason for reason, i in REASON_INDEX.items()}

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
