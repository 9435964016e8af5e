"""Reason codes and their PLC indices, in the order DESIGN §5 lists them."""

from __future__ import annotations

from contracts.reasons import REASON_BY_INDEX, REASON_INDEX, Outcome, Reason

#: DESIGN §5, in order; a code's PLC index is its position + 1 (0 is "no reason").
DESIGN_ORDER = (
    "NOT_DECLARED",
    "CUSTOMS_PENDING",
    "CUSTOMS_REJECTED",
    "CUSTOMS_INSPECT",
    "CUSTOMS_DETAINED",
    "CUSTOMS_SUSPENDED",
    "CUSTOMS_RETURN",
    "THREE_DOC_MISMATCH",
    "VALUE_LIMIT",
    "ANNUAL_LIMIT",
    "PROHIBITED_GOODS",
    "WEIGHT_DEVIATION",
    "NO_WEIGHT",
    "UNSTABLE_WEIGHT",
    "XRAY_SUSPECT",
    "XRAY_PENDING",
    "INSPECTOR_HOLD",
    "RANDOM_SELECTION",
    "DUPLICATE_PARCEL",
    "INVALID_CODE",
    "NO_READ",
    "MULTI_READ_CONFLICT",
    "LATE_DECISION",
    "DEVICE_FAULT",
    "DECLARATION_CONFLICT",
    "TAX_MISMATCH",
)


def test_indices_follow_the_design_order() -> None:
    assert tuple(r.value for r in Reason) == DESIGN_ORDER
    assert {r.value: i for r, i in REASON_INDEX.items()} == {
        name: i + 1 for i, name in enumerate(DESIGN_ORDER)
    }
    assert REASON_BY_INDEX[25] is Reason.DECLARATION_CONFLICT
    assert REASON_BY_INDEX[26] is Reason.TAX_MISMATCH
    assert 0 not in REASON_BY_INDEX


def test_outcomes_are_the_design_five() -> None:
    assert [o.value for o in Outcome] == ["RELEASE", "INSPECT", "HOLD", "RETURN", "REJECT"]
