"""Comparing a run's dispositions with the scenario: what counts as a wrong release."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from clearline.demo.site_run import PLAN, compare

RELEASE, HOLD, INSPECT, REJECT = min(PLAN.release_chutes), PLAN.hold, PLAN.inspect, PLAN.reject
COPY = ["DUPLICATE_PARCEL"]
EXPECTED = [
    {"seq": 1, "code": "A", "outcome": "RELEASE", "reasons": [], "case": "duplicate"},
    {"seq": 2, "code": "A", "outcome": "HOLD", "reasons": COPY, "case": "duplicate"},
    {"seq": 3, "code": "C", "outcome": "INSPECT", "reasons": ["XRAY_SUSPECT"], "case": "xray"},
]


@dataclass(frozen=True)
class _Result:
    seq: int
    chute: int
    status: str = "diverted"
    reply_in_time: bool | None = True
    frame_sent: bool = True


@pytest.fixture
def expected(tmp_path: Path) -> Path:
    path = tmp_path / "expected.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in EXPECTED), encoding="utf-8")
    return path


def _run(expected: Path, *chutes: int) -> tuple[list[int], list[int]]:
    cmp = compare([_Result(i, c) for i, c in enumerate(chutes, 1)], expected)
    return cmp.wrong_releases, [m["seq"] for m in cmp.mismatches]


def test_a_run_as_expected_has_no_wrong_release(expected: Path) -> None:
    assert _run(expected, RELEASE, HOLD, INSPECT) == ([], [])


def test_a_copy_released_after_its_original_was_rejected_is_its_only_release(
    expected: Path,
) -> None:
    assert _run(expected, REJECT, RELEASE, INSPECT) == ([], [1, 2])


def test_a_copy_released_beside_its_original_is_a_wrong_release(expected: Path) -> None:
    assert _run(expected, RELEASE, RELEASE, INSPECT) == ([2], [2])


def test_releasing_what_must_be_inspected_is_a_wrong_release(expected: Path) -> None:
    assert _run(expected, RELEASE, HOLD, RELEASE) == ([3], [3])


def test_a_mismatch_says_what_the_line_did_with_the_parcel(expected: Path) -> None:
    late = _Result(3, REJECT, status="no_answer", reply_in_time=False)
    cmp = compare([_Result(1, RELEASE), _Result(2, HOLD), late], expected)
    assert cmp.mismatches == [
        {
            "seq": 3,
            "expected": "INSPECT",
            "got": "REJECT",
            "case": "xray",
            "chute": REJECT,
            "status": "no_answer",
            "reply_in_time": False,
            "frame_sent": True,
            "reasons": [],
            "timing": True,
        }
    ]


@dataclass(frozen=True)
class _Item(_Result):
    item_id: int = 0


def test_mismatches_are_split_into_timing_and_decision(expected: Path) -> None:
    """A reject for a weight that came too late is timing; a wrong hold on time is not."""
    results = [
        _Item(1, REJECT, item_id=11),  # NO_WEIGHT at the deadline: timing
        _Item(2, HOLD, item_id=12),  # as expected
        _Item(3, HOLD, item_id=13),  # held for a reason the scenario does not give: decision
    ]
    reasons = {11: ["NO_WEIGHT"], 12: ["DUPLICATE_PARCEL"], 13: ["CUSTOMS_PENDING"]}
    cmp = compare(results, expected, reasons)
    assert [(m["seq"], m["timing"]) for m in cmp.mismatches] == [(1, True), (3, False)]
    assert cmp.as_json()["mismatches_by_cause"] == {"timing": 1, "decision": 1}
    late = compare([_Item(1, REJECT, "no_answer", False, item_id=11)], expected, {})
    assert late.timing == 1
