"""Evaluation against ground truth: the detection definition and the table."""

from __future__ import annotations

import pytest

from inspection.xray.evaluate import (
    CLEAN,
    Case,
    EvaluationError,
    detected,
    evaluate,
    overlap,
)
from inspection.xray.flags import Flag, FlagKind
from inspection.xray.materials import MaterialShares
from inspection.xray.prescreen import PrescreenResult

SHARES = MaterialShares(1.0, 0.0, 0.0, 0.0, 500.0)


def result(*flags: Flag, auto_clear: bool = False) -> PrescreenResult:
    return PrescreenResult(
        flags=flags,
        shares=SHARES,
        metal_mass_g=0.0,
        risk=max((f.score for f in flags), default=0.0),
        auto_clear=auto_clear,
        blockers=() if auto_clear else ("test",),
        width=100,
        height=100,
    )


def flag(kind: FlagKind, score: float, region: tuple[int, int, int, int]) -> Flag:
    return Flag(kind, score, region, score, "test")


def test_overlap_is_relative_to_the_smaller_box() -> None:
    assert overlap((0, 0, 10, 10), (0, 0, 100, 100)) == 1.0
    assert overlap((0, 0, 10, 10), (5, 0, 10, 10)) == 0.5
    assert overlap((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert overlap((0, 0, 0, 0), (0, 0, 5, 5)) == 0.0


def test_detection_needs_the_right_flag_at_the_right_place() -> None:
    blade = (10, 10, 40, 10)
    right = Case("blade", result(flag(FlagKind.BLADE, 0.3, (12, 10, 30, 10))), (blade,))
    elsewhere = Case("blade", result(flag(FlagKind.BLADE, 0.9, (60, 60, 20, 20))), (blade,))
    wrong_kind = Case("blade", result(flag(FlagKind.DENSE_METAL, 0.9, blade)), (blade,))
    cleared = Case("blade", result(flag(FlagKind.BLADE, 0.3, blade), auto_clear=True), (blade,))
    assert detected(right)  # pending with a BLADE flag on the blade: put before a person
    assert not detected(elsewhere)
    assert not detected(wrong_kind)
    assert not detected(cleared)
    no_box = Case("mismatch", result(flag(FlagKind.DECLARATION_MISMATCH, 0.6, (0, 0, 5, 5))))
    assert detected(no_box)


def test_table_rows_and_headline_figures() -> None:
    box = (10, 10, 20, 20)
    cases = [
        Case("gun", result(flag(FlagKind.GUN, 0.8, box)), (box,)),
        Case("gun", result(), (box,)),
        Case("dense_block", result(flag(FlagKind.IMPENETRABLE, 0.9, box)), (box,)),
        Case(CLEAN, result(auto_clear=True)),
        Case(CLEAN, result(auto_clear=True)),
        Case(CLEAN, result(flag(FlagKind.GUN, 0.7, box))),
        Case(CLEAN, result(flag(FlagKind.DENSE_METAL, 0.3, box))),
    ]
    table = evaluate(cases)
    assert [r.group for r in table.rows] == ["dense_block", "gun", CLEAN]
    gun = table.row("gun")
    assert (gun.n, gun.detected, gun.detection_rate, gun.suspect_rate) == (2, 1, 0.5, 0.5)
    assert table.detection_rate == pytest.approx(2 / 3)
    assert table.false_alarm_rate == 0.25
    assert table.auto_clear_rate == 0.5
    assert table.row(CLEAN).pending_rate == 0.25
    assert table.as_dict()["rows"][2]["group"] == CLEAN  # type: ignore[index]


def test_unknown_classes_and_empty_input_are_refused() -> None:
    with pytest.raises(EvaluationError, match="unknown class"):
        evaluate([Case("bazooka", result())])
    with pytest.raises(EvaluationError, match="no cases"):
        evaluate([])
    with pytest.raises(EvaluationError, match="no row"):
        evaluate([Case(CLEAN, result())]).row("gun")
