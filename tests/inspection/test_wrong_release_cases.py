"""Every path to a wrong release found in the customs review, held to what DESIGN §4/§5 require.

Each case builds an index the way the documents would arrive and decides the parcel through
``DeclarationIndex.decide_parcel``; the expected outcome and reasons come from DESIGN, not
from the code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from contracts.clock import ManualClock
from contracts.facts import ParcelFacts
from contracts.reasons import Outcome, Reason
from inspection.decision import Decision
from inspection.index import DeclarationIndex
from inspection.model import Declaration, DocKind, GoodsLine, Notice
from inspection.pipeline import decide_parcel
from inspection.rules import RuleSet
from tests.inspection.builders import (
    good_facts,
    inventory,
    order,
    payment,
    purchase,
    waybill,
)

CLOCK = ManualClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
R = Reason
KEY1 = "AG001:COP00000001"


def _released(idx: DeclarationIndex, *keys: str) -> None:
    for key in keys:
        idx.set_status(DocKind.INVENTORY, key, 800)


def _clean() -> DeclarationIndex:
    idx = DeclarationIndex()
    idx.add_all([order(1), payment(1), waybill(1), inventory(1)])
    _released(idx, KEY1)
    return idx


@dataclass(frozen=True)
class Case:
    """One wrong-release path: how the index is filled, what DESIGN says must happen."""

    name: str
    build: Callable[[], DeclarationIndex]
    outcome: Outcome
    reasons: frozenset[Reason]  # every one must be among the decision's reasons
    codes: tuple[str, ...] = ("YT0000000001",)
    facts: Callable[[], ParcelFacts] = good_facts
    note: str = ""  # a word the explanation must carry
    exact: bool = False  # reasons must be exactly these
    extra: dict[str, object] = field(default_factory=dict)


def _lines_worth_9000() -> DeclarationIndex:
    idx = DeclarationIndex()
    big = (GoodsLine(1, "6109100021", "T恤", qty=Decimal(30), total_price=Decimal(9000)),)
    idx.add_all([order(1), payment(1), waybill(1), inventory(1, lines=big)])
    _released(idx, KEY1)
    return idx


def _two_lists(first: int, second: int) -> Callable[[], DeclarationIndex]:
    def build() -> DeclarationIndex:
        idx = DeclarationIndex()
        lists = {
            1: inventory(1),
            2: inventory(2, logistics_no="YT0000000001", order_no="ORD00000002"),
        }
        idx.add_all([order(1), payment(1), waybill(1), order(2), payment(2)])
        idx.add_all([lists[first], lists[second]])
        _released(idx, KEY1, "AG001:COP00000002")
        return idx

    return build


def _import_and_export(export_first: bool) -> Callable[[], DeclarationIndex]:
    def build() -> DeclarationIndex:
        idx = _clean()
        export = replace(
            inventory(7, logistics_no="YT0000000001"),
            kind=DocKind.EXPORT_INVENTORY,
            message_type="CEB603",
            ie_flag="E",
        )
        if export_first:
            idx = DeclarationIndex()
            idx.add(export)
            idx.add_all([order(1), payment(1), waybill(1), inventory(1)])
            _released(idx, KEY1)
        else:
            idx.add(export)
        idx.set_status(DocKind.EXPORT_INVENTORY, export.business_key, 800)
        return idx

    return build


def _generic_9610() -> DeclarationIndex:
    idx = DeclarationIndex()
    row = Declaration(
        kind=DocKind.GENERIC,
        message_type="GENERIC",
        business_key="GEN0000000001",
        logistics_no="GEN0000000001",
        trade_mode="9610",
        ie_flag="I",
        buyer_id_number="110101199003071234",
        currency="CNY",
        goods_value=Decimal(100),
        gross_weight_kg=Decimal("1.2"),
        lines=(GoodsLine(1, "6109100021", "T恤", qty=Decimal(2), total_price=Decimal(100)),),
    )
    idx.add(row)
    idx.set_status(DocKind.GENERIC, row.business_key, 800)
    return idx


# 02:00 on 1 January 2027, China time, is 18:00 on 31 December 2026 UTC
NEW_YEAR_CHINA = datetime(2026, 12, 31, 18, 0, tzinfo=UTC)


def _ledger_new_year() -> DeclarationIndex:
    """Five 2026 purchases of CNY 5,000 (released) and one at 02:00 1 Jan 2027 China time:
    the last one starts a new year, so it is within the limit."""
    idx = DeclarationIndex()
    for i in range(1, 6):
        idx.add_all(purchase(i, Decimal("5000.00"), decl_time=datetime(2026, 6, i, tzinfo=UTC)))
        _released(idx, f"AG001:COP{i:08d}")
    idx.add_all(purchase(6, Decimal("3000.00"), decl_time=NEW_YEAR_CHINA))
    _released(idx, "AG001:COP00000006")
    return idx


def _ledger_unreleased_do_not_count() -> DeclarationIndex:
    """Five earlier lists of CNY 5,000 still pending at customs: they do not count yet."""
    idx = DeclarationIndex()
    for i in range(1, 6):
        idx.add_all(purchase(i, Decimal("5000.00"), decl_time=datetime(2026, 6, i, tzinfo=UTC)))
        idx.set_status(DocKind.INVENTORY, f"AG001:COP{i:08d}", 399)
    idx.add_all(purchase(6, Decimal("3000.00"), decl_time=datetime(2026, 7, 1, tzinfo=UTC)))
    _released(idx, "AG001:COP00000006")
    return idx


def _ledger_cancelled_gives_back() -> DeclarationIndex:
    """Six released purchases would pass the year's limit; the first was returned (CEB625
    accepted), so the sixth is within it again."""
    idx = DeclarationIndex()
    for i in range(1, 7):
        idx.add_all(purchase(i, Decimal("4990.00"), decl_time=datetime(2026, 6, i, tzinfo=UTC)))
        _released(idx, f"AG001:COP{i:08d}")
    idx.apply_notice(Notice("CEB626", KEY1, status="800"))
    return idx


def _negative_receipt() -> DeclarationIndex:
    idx = _clean()
    idx.set_status(DocKind.INVENTORY, KEY1, -304001)
    assert idx.alarms == [f"customs error -304001 about {KEY1}"]
    return idx


def _status(status: int) -> Callable[[], DeclarationIndex]:
    def build() -> DeclarationIndex:
        idx = _clean()
        idx.set_status(DocKind.INVENTORY, KEY1, status)
        return idx

    return build


def _vary(**docs: Declaration) -> Callable[[], DeclarationIndex]:
    def build() -> DeclarationIndex:
        idx = DeclarationIndex()
        parts = {"order": order(1), "payment": payment(1), "waybill": waybill(1)}
        parts.update(docs)
        idx.add_all([*parts.values(), docs.get("inventory", inventory(1))])
        _released(idx, KEY1)
        return idx

    return build


def _other_platform_order() -> DeclarationIndex:
    """Only another platform's order carries the same orderNo: it is not this list's order."""
    idx = DeclarationIndex()
    idx.add_all(
        [
            order(1, ebp_code="EBP9999", business_key="EBP9999:ORD00000001"),
            payment(1),
            waybill(1),
            inventory(1),
        ]
    )
    _released(idx, KEY1)
    return idx


def _withdrawn() -> DeclarationIndex:
    idx = _clean()
    idx.add(replace(inventory(1), extra={"appType": "3"}))
    return idx


def _cancelled() -> DeclarationIndex:
    idx = _clean()
    idx.apply_notice(Notice("CEB623", KEY1))  # a request alone changes nothing
    assert idx.lookup("YT0000000001") is not None
    idx.apply_notice(Notice("CEB624", KEY1, status="800"))
    return idx


CASES = [
    Case("list lines CNY 9,000 under an order of CNY 200", _lines_worth_9000, Outcome.INSPECT,
         frozenset({R.VALUE_LIMIT, R.THREE_DOC_MISMATCH}), note="list goods total"),
    Case("two lists on one waybill, first filed first", _two_lists(1, 2), Outcome.HOLD,
         frozenset({R.DECLARATION_CONFLICT})),
    Case("two lists on one waybill, second filed first", _two_lists(2, 1), Outcome.HOLD,
         frozenset({R.DECLARATION_CONFLICT})),
    Case("import and export list on one waybill", _import_and_export(False), Outcome.HOLD,
         frozenset({R.DECLARATION_CONFLICT})),
    Case("export list first, then the import list", _import_and_export(True), Outcome.HOLD,
         frozenset({R.DECLARATION_CONFLICT})),
    Case("generic CSV 9610 row released by status alone", _generic_9610, Outcome.INSPECT,
         frozenset({R.THREE_DOC_MISMATCH}), codes=("GEN0000000001",), note="order missing"),
    Case("ledger: 02:00 on 1 January China time is the new year", _ledger_new_year,
         Outcome.RELEASE, frozenset(), codes=("YT0000000006",), exact=True),
    Case("ledger: lists not yet released do not count", _ledger_unreleased_do_not_count,
         Outcome.RELEASE, frozenset(), codes=("YT0000000006",), exact=True),
    Case("ledger: an accepted return gives the quota back", _ledger_cancelled_gives_back,
         Outcome.RELEASE, frozenset(), codes=("YT0000000006",), exact=True),
    Case("negative receipt leaves the release standing", _negative_receipt, Outcome.RELEASE,
         frozenset(), exact=True),
    Case("status 899 is not a release", _status(899), Outcome.HOLD,
         frozenset({R.CUSTOMS_PENDING}), note="899"),
    Case("status 4 is its own explanation", _status(4), Outcome.HOLD,
         frozenset({R.CUSTOMS_PENDING}), note="status 4"),
    Case("an unknown status is its own explanation", _status(123), Outcome.HOLD,
         frozenset({R.CUSTOMS_PENDING}), note="unknown customs status 123"),
    Case("NaN weight", _clean, Outcome.REJECT, frozenset({R.NO_WEIGHT}),
         facts=lambda: good_facts(weight_kg=math.nan), note="not a weight"),
    Case("infinite weight", _clean, Outcome.REJECT, frozenset({R.NO_WEIGHT}),
         facts=lambda: good_facts(weight_kg=math.inf)),
    Case("payer name differs from the buyer", _vary(payment=payment(1, payer_name="李四")),
         Outcome.INSPECT, frozenset({R.THREE_DOC_MISMATCH}), note="buyer name"),
    Case("buyer name on the list differs", _vary(inventory=inventory(1, buyer_name="李四")),
         Outcome.INSPECT, frozenset({R.THREE_DOC_MISMATCH}), note="buyer name on list"),
    Case("e-commerce enterprise code differs", _vary(order=order(1, ebc_code="9999999999")),
         Outcome.INSPECT, frozenset({R.THREE_DOC_MISMATCH}), note="enterprise code"),
    Case("consignee phone differs", _vary(
        order=order(1, consignee_telephone="13800138000"),
        waybill=waybill(1, consignee_telephone="13900139000")),
         Outcome.INSPECT, frozenset({R.THREE_DOC_MISMATCH}), note="consignee phone"),
    Case("consignee address differs", _vary(
        order=order(1, consignee_address="北京市海淀区"),
        waybill=waybill(1, consignee_address="上海市浦东新区")),
         Outcome.INSPECT, frozenset({R.THREE_DOC_MISMATCH}), note="consignee address"),
    Case("waybill weight differs from the list's gross", _vary(
        waybill=waybill(1, gross_weight_kg=Decimal("3.0"))),
         Outcome.INSPECT, frozenset({R.THREE_DOC_MISMATCH}), note="waybill weight"),
    Case("net weight above gross", _vary(
        inventory=inventory(1, net_weight_kg=Decimal("1.5"))),
         Outcome.INSPECT, frozenset({R.THREE_DOC_MISMATCH}), note="net weight"),
    Case("another platform's order with the same number", _other_platform_order,
         Outcome.INSPECT, frozenset({R.THREE_DOC_MISMATCH}), note="order missing"),
    Case("appType 3 withdraws the list", _withdrawn, Outcome.HOLD,
         frozenset({R.NOT_DECLARED}), exact=True),
    Case("an accepted cancellation withdraws the list", _cancelled, Outcome.HOLD,
         frozenset({R.NOT_DECLARED}), exact=True),
    Case("tax on the order differs from the rules' tax", _vary(
        order=order(1, tax_total=Decimal("0"), actural_paid=Decimal("200.00")),
        payment=payment(1, amount_paid=Decimal("200.00"))),
         Outcome.INSPECT, frozenset({R.TAX_MISMATCH}), note="taxTotal", exact=True),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_wrong_release_path_is_closed(case: Case, rules: RuleSet) -> None:
    idx = case.build()
    decision = _pipeline(idx, list(case.codes), case.facts(), rules)
    assert decision.outcome is case.outcome, decision
    if case.exact:
        assert set(decision.reasons) == case.reasons, decision
    else:
        assert case.reasons <= set(decision.reasons), decision
    if case.note:
        assert any(case.note in n for n in decision.notes), decision.notes


def test_the_clean_set_itself_is_released(rules: RuleSet) -> None:
    """The base the cases vary is a release: each case's outcome is its own change's."""
    decision = _pipeline(_clean(), ["YT0000000001"], good_facts(), rules)
    assert decision.outcome is Outcome.RELEASE and decision.reasons == ()


BASE_RULES = 'version: "v"\nseed: "s"\nweight: {abs_g: 50, rel: 0.1}\n'


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (BASE_RULES + "limits: {per_transaction_cny: 5000}\nlimits: {per_transaction_cny: 99999}\n",
         "r.yaml:5: limits: duplicate key"),
        (BASE_RULES + "limits:\n  per_transaction_cny: 5000\n  per_transaction_cny: 9\n",
         "r.yaml:6: limits.per_transaction_cny: duplicate key"),
        (BASE_RULES + "customs: {release_statuses: [500]}\n", "r.yaml:4: customs.release_statuses"),
        (BASE_RULES + "customs: {release_statuses: [800, 700]}\n",
         "r.yaml:4: customs.release_statuses"),
        (BASE_RULES + "customs: {release_statuses: [-1]}\n", "r.yaml:4: customs.release_statuses"),
        (BASE_RULES + "customs: {postal_release_statuses: [500]}\n",
         "r.yaml:4: customs.postal_release_statuses"),
        (BASE_RULES + "currency_to_cny: {USD: -7.1}\n", "r.yaml:4: currency_to_cny"),
        (BASE_RULES + "tax: {by_hs_prefix: {'2204': {vat: -0.13}}}\n",
         "r.yaml:4: tax.by_hs_prefix"),
    ],
)  # fmt: skip
def test_rules_file_is_refused_with_file_line_and_key(text: str, where: str) -> None:
    from inspection.rules import RulesError, parse_rules

    with pytest.raises(RulesError, match=where.replace(".", r"\.")):
        parse_rules(text, "r.yaml")


def _pipeline(
    idx: DeclarationIndex, codes: list[str], facts: ParcelFacts, rules: RuleSet
) -> Decision:
    """Decide through the one pipeline the line runs; a failed pipeline fails the test."""
    result = decide_parcel(idx, codes, facts, rules, CLOCK)
    assert not result.failed, "the decision pipeline failed"
    return result.decision
