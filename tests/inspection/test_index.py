"""Tests of the declaration index: lookups by every code, links, statuses and the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from contracts.clock import ManualClock
from contracts.facts import ParcelFacts
from contracts.reasons import Outcome, Reason
from inspection.decision import Decision
from inspection.index import DeclarationIndex, Entry
from inspection.model import DocKind
from inspection.pipeline import decide_parcel
from inspection.rules import RuleSet
from tests.inspection.builders import (
    T0,
    good_facts,
    inventory,
    order,
    payment,
    purchase,
    waybill,
)

CLOCK = ManualClock(T0)


def _decide(
    idx: DeclarationIndex,
    codes: Sequence[str],
    facts: ParcelFacts,
    rules: RuleSet,
    clock: ManualClock,
) -> tuple[Decision, Entry | None]:
    """Decide through the one pipeline; a failed pipeline fails the test."""
    result = decide_parcel(idx, codes, facts, rules, clock)
    assert not result.failed
    return result.decision, result.entry


def _full_index(n: int = 3) -> DeclarationIndex:
    idx = DeclarationIndex()
    for i in range(1, n + 1):
        idx.add_all([order(i), payment(i), waybill(i), inventory(i)])
        idx.set_status(DocKind.INVENTORY, f"AG001:COP{i:08d}", 800)
    return idx


def test_lookup_by_every_code(rules: RuleSet) -> None:
    """logisticsNo, invtNo, orderNo and copNo all find the parcel, normalised."""
    idx = _full_index()
    for code in ("YT0000000002", "inv00000002", " ORD00000002 ", "]C1COP00000002"):
        decision, entry = _decide(idx, [code], good_facts(), rules, CLOCK)
        assert entry is not None and entry.declaration.business_key == "AG001:COP00000002"
        assert decision.outcome is Outcome.RELEASE, decision


def test_status_before_declaration_and_update(rules: RuleSet) -> None:
    """A receipt that arrives before its declaration still applies; a later one replaces it."""
    idx = DeclarationIndex()
    idx.set_status(DocKind.INVENTORY, "AG001:COP00000001", 500)
    idx.add_all([order(1), payment(1), waybill(1), inventory(1)])
    d, _ = _decide(idx, ["YT0000000001"], good_facts(), rules, CLOCK)
    assert d.reasons == (Reason.CUSTOMS_INSPECT,)
    idx.set_status(DocKind.INVENTORY, "AG001:COP00000001", 800)
    d, _ = _decide(idx, ["YT0000000001"], good_facts(), rules, CLOCK)
    assert d.outcome is Outcome.RELEASE


def test_refiling_replaces_codes(rules: RuleSet) -> None:
    """An amended declaration with a new logisticsNo is no longer found by the old one."""
    idx = _full_index(1)
    idx.add(inventory(1, logistics_no="YTNEW0000001"))
    assert idx.lookup("YT0000000001") is None
    assert idx.lookup("YTNEW0000001") is not None
    assert len(idx) == 1


def test_missing_documents_fail_three_doc(rules: RuleSet) -> None:
    """Without its payment, a CBEC parcel is sent to inspection, never released."""
    idx = DeclarationIndex()
    idx.add_all([order(1), waybill(1), inventory(1)])
    idx.set_status(DocKind.INVENTORY, "AG001:COP00000001", 800)
    d, _ = _decide(idx, ["YT0000000001"], good_facts(), rules, CLOCK)
    assert d.outcome is Outcome.INSPECT and Reason.THREE_DOC_MISMATCH in d.reasons


def test_annual_ledger_counts_in_time_order(rules: RuleSet) -> None:
    """The buyer's sixth CNY 5,000 order of the year passes 26,000; the first five do not."""
    idx = DeclarationIndex()
    for i in range(1, 7):
        idx.add_all(purchase(i, Decimal("4990.00"), decl_time=T0 + timedelta(hours=i)))
        idx.set_status(DocKind.INVENTORY, f"AG001:COP{i:08d}", 800)
    outcomes = [_decide(idx, [f"YT{i:010d}"], good_facts(), rules, CLOCK)[0] for i in range(1, 7)]
    assert [o.outcome for o in outcomes[:5]] == [Outcome.RELEASE] * 5
    assert outcomes[5].reasons == (Reason.ANNUAL_LIMIT,)
    # a customs-rejected purchase does not count towards the year
    idx.set_status(DocKind.INVENTORY, "AG001:COP00000001", 100)
    d, _ = _decide(idx, ["YT0000000006"], good_facts(), rules, CLOCK)
    assert d.outcome is Outcome.RELEASE


def test_other_year_does_not_count(rules: RuleSet) -> None:
    """Purchases of last year do not count towards this year's limit."""
    idx = _full_index(1)
    idx.add_all(purchase(9, Decimal("25990.00"), decl_time=T0 - timedelta(days=365)))
    idx.set_status(DocKind.INVENTORY, "AG001:COP00000009", 800)
    d, _ = _decide(idx, ["YT0000000001"], good_facts(), rules, CLOCK)
    assert d.outcome is Outcome.RELEASE
    # the same purchase this year does count
    idx.add_all(purchase(9, Decimal("25990.00"), decl_time=T0 - timedelta(hours=1)))
    d, _ = _decide(idx, ["YT0000000001"], good_facts(), rules, CLOCK)
    assert d.reasons == (Reason.ANNUAL_LIMIT,)


def test_conflict_and_unknown(rules: RuleSet) -> None:
    """Two codes of two declarations conflict; an unknown code is not declared."""
    idx = _full_index(2)
    d, entry = _decide(idx, ["YT0000000001", "YT0000000002"], good_facts(), rules, CLOCK)
    assert entry is None and d.outcome is Outcome.REJECT
    assert d.reasons == (Reason.MULTI_READ_CONFLICT,)
    d, _ = _decide(idx, ["NOPE123"], good_facts(), rules, CLOCK)
    assert d.reasons == (Reason.NOT_DECLARED,)


def test_postal_found_by_s10(rules: RuleSet) -> None:
    """A postal item is found by its S10 id; a mistyped id is INVALID_CODE, not a miss."""
    idx = DeclarationIndex()
    postal = replace(
        inventory(1),
        kind=DocKind.POSTAL,
        business_key="RR123456785CN",
        logistics_no="RR123456785CN",
        order_no="",
        invt_no="",
        cop_no="",
        trade_mode="",
    )
    idx.add(postal)
    idx.set_status(DocKind.POSTAL, "RR123456785CN", 800)
    d, _ = _decide(idx, ["rr123456785cn"], good_facts(), rules, CLOCK)
    assert d.outcome is Outcome.RELEASE
    d, _ = _decide(idx, ["RR123456784CN"], good_facts(), rules, CLOCK)
    assert d.reasons == (Reason.INVALID_CODE,)
