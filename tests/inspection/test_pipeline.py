"""The one decision pipeline: resolve, gather, decide, and fail closed on any error."""

from __future__ import annotations

import logging

import pytest

from contracts.clock import ManualClock
from contracts.facts import ParcelFacts
from contracts.reasons import Outcome, Reason
from inspection import decision as decision_module
from inspection.checks import Dossier
from inspection.index import DeclarationIndex, Entry
from inspection.model import DocKind
from inspection.pipeline import FAILED_NOTE, decide_parcel, parcel_code
from inspection.rules import RuleSet
from tests.inspection.builders import T0, good_facts, inventory, order, payment, waybill

CLOCK = ManualClock(T0)


def _index() -> DeclarationIndex:
    idx = DeclarationIndex()
    idx.add_all([order(1), payment(1), waybill(1), inventory(1)])
    idx.set_status(DocKind.INVENTORY, "AG001:COP00000001", 800)
    return idx


def test_a_good_parcel_is_released_with_its_documents(rules: RuleSet) -> None:
    result = decide_parcel(_index(), ["]C1yt0000000001"], good_facts(), rules, CLOCK)
    assert result.decision.outcome is Outcome.RELEASE, result.decision
    assert not result.failed
    assert result.declaration is not None
    assert parcel_code(result.declaration) == "YT0000000001"
    assert result.dossier is not None and result.dossier.payment is not None


def test_facts_are_built_for_the_entry_found(rules: RuleSet) -> None:
    """A line builds duplicate/hold facts once it knows which declaration the parcel is."""
    seen: list[Entry | None] = []

    def facts_for(entry: Entry | None) -> ParcelFacts:
        seen.append(entry)
        return ParcelFacts(
            weight_kg=1.2, weight_stable=True, xray=good_facts().xray, inspector_hold=True
        )

    result = decide_parcel(_index(), ["YT0000000001"], facts_for, rules, CLOCK)
    assert len(seen) == 1 and seen[0] is not None
    assert seen[0].declaration.business_key == "AG001:COP00000001"
    assert result.decision.outcome is Outcome.HOLD
    assert result.decision.reasons == (Reason.INSPECTOR_HOLD,)


def test_resolution_reasons_join_the_facts(rules: RuleSet) -> None:
    result = decide_parcel(_index(), ["RR123456784CN"], good_facts(), rules, CLOCK)
    assert result.decision.outcome is Outcome.REJECT
    assert Reason.INVALID_CODE in result.decision.reasons
    assert result.entry is None


def test_an_exception_inside_a_check_rejects_with_a_reason(
    rules: RuleSet, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in a check never releases: REJECT with DEVICE_FAULT, logged with its traceback."""

    def broken(d: Dossier, r: RuleSet) -> list[str]:
        raise ZeroDivisionError("check bug")

    monkeypatch.setattr(decision_module, "three_doc_problems", broken)
    with caplog.at_level(logging.ERROR, logger="inspection.pipeline"):
        result = decide_parcel(_index(), ["YT0000000001"], good_facts(), rules, CLOCK)
    assert result.failed
    assert result.decision.outcome is Outcome.REJECT
    assert result.decision.reasons == (Reason.DEVICE_FAULT,)
    assert result.decision.notes == (FAILED_NOTE,)
    assert result.decision.rule_set_version == rules.version
    assert result.entry is None and result.dossier is None
    assert any(r.exc_info and "check bug" in str(r.exc_info[1]) for r in caplog.records)


def test_an_exception_while_gathering_rejects(rules: RuleSet) -> None:
    """A broken index or a broken facts builder ends the same way."""

    class BrokenIndex(DeclarationIndex):
        def dossier(self, entry: Entry, rules: RuleSet) -> Dossier:
            raise KeyError("ledger")

    idx = BrokenIndex()
    idx.add_all([order(1), payment(1), waybill(1), inventory(1)])
    got = decide_parcel(idx, ["YT0000000001"], good_facts(), rules, CLOCK).decision
    assert (got.outcome, got.reasons) == (Outcome.REJECT, (Reason.DEVICE_FAULT,))

    def facts_for(entry: Entry | None) -> ParcelFacts:
        raise RuntimeError("tracker bug")

    got = decide_parcel(_index(), ["YT0000000001"], facts_for, rules, CLOCK).decision
    assert got.outcome is not Outcome.RELEASE and Reason.DEVICE_FAULT in got.reasons
