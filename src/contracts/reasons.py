"""Outcomes and reason codes of a decision, with their stable numbering on the PLC reply ring."""

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
    """Stable reason codes; the member order fixes the numeric index sent to the PLC.

    Never reorder or remove a member: new codes are appended at the end.
    """

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
