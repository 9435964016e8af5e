"""Table-driven tests of the decision: every reason code and every precedence line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

import pytest

from contracts.clock import ManualClock
from contracts.facts import ParcelFacts
from contracts.reasons import Outcome, Reason
from contracts.statuses import XrayState
from inspection.checks import Dossier
from inspection.decision import PRECEDENCE, decide, ordered, outcome_for
from inspection.model import Declaration, DocKind, GoodsLine
from inspection.rules import RuleSet, parse_rules
from tests.inspection.builders import T0, dossier, good_facts, inventory, order, payment, waybill
from tests.inspection.conftest import RULES_NO_RANDOM

CLOCK = ManualClock(T0)


@dataclass(frozen=True)
class Case:
    """One row: how the parcel differs from a clean release, and what must follow."""

    name: str
    outcome: Outcome
    reasons: frozenset[Reason]
    facts: Callable[[], ParcelFacts] = good_facts
    dossier: Callable[[], Dossier | None] = dossier
    status: int | None = 800


def _postal() -> Dossier:
    decl = Declaration(
        kind=DocKind.POSTAL,
        message_type="CN22",
        business_key="RR123456785CN",
        logistics_no="RR123456785CN",
        category="gift",
        goods_value=Decimal(300),
        currency="CNY",
        gross_weight_kg=Decimal("1.2"),
        lines=(GoodsLine(gnum=1, hs_code="6109100021", name="T-shirt"),),
    )
    return Dossier(decl)


R = Reason
CASES = [
    Case("clean release", Outcome.RELEASE, frozenset()),
    Case("clean postal release", Outcome.RELEASE, frozenset(), dossier=_postal),
    Case(
        "no read",
        Outcome.REJECT,
        frozenset({R.NO_READ}),
        facts=lambda: good_facts(identity_reasons=frozenset({R.NO_READ})),
        dossier=lambda: None,
    ),
    Case(
        "invalid code",
        Outcome.REJECT,
        frozenset({R.INVALID_CODE}),
        facts=lambda: good_facts(identity_reasons=frozenset({R.INVALID_CODE})),
        dossier=lambda: None,
    ),
    Case(
        "multi-read conflict",
        Outcome.REJECT,
        frozenset({R.MULTI_READ_CONFLICT}),
        facts=lambda: good_facts(identity_reasons=frozenset({R.MULTI_READ_CONFLICT})),
        dossier=lambda: None,
    ),
    Case(
        "no weight",
        Outcome.REJECT,
        frozenset({R.NO_WEIGHT}),
        facts=lambda: good_facts(weight_kg=None),
    ),
    Case(
        "unstable weight",
        Outcome.REJECT,
        frozenset({R.UNSTABLE_WEIGHT}),
        facts=lambda: good_facts(weight_stable=False),
    ),
    Case(
        "late",
        Outcome.REJECT,
        frozenset({R.LATE_DECISION}),
        facts=lambda: good_facts(deadline=T0 - timedelta(milliseconds=1)),
    ),
    Case(
        "device fault",
        Outcome.REJECT,
        frozenset({R.DEVICE_FAULT}),
        facts=lambda: good_facts(device_fault=True),
    ),
    Case("customs return", Outcome.RETURN, frozenset({R.CUSTOMS_RETURN}), status=700),
    Case("detained 501", Outcome.HOLD, frozenset({R.CUSTOMS_DETAINED}), status=501),
    Case("detained 599", Outcome.HOLD, frozenset({R.CUSTOMS_DETAINED}), status=599),
    Case("suspended", Outcome.HOLD, frozenset({R.CUSTOMS_SUSPENDED}), status=600),
    Case("customs rejected", Outcome.HOLD, frozenset({R.CUSTOMS_REJECTED}), status=100),
    Case("no receipt yet", Outcome.HOLD, frozenset({R.CUSTOMS_PENDING}), status=None),
    Case("pending 399", Outcome.HOLD, frozenset({R.CUSTOMS_PENDING}), status=399),
    Case("pending 120", Outcome.HOLD, frozenset({R.CUSTOMS_PENDING}), status=120),
    Case("processing error", Outcome.HOLD, frozenset({R.CUSTOMS_PENDING}), status=-304001),
    Case("closed 899 is not a release", Outcome.HOLD, frozenset({R.CUSTOMS_PENDING}), status=899),
    Case("unknown status", Outcome.HOLD, frozenset({R.CUSTOMS_PENDING}), status=12345),
    Case("not declared", Outcome.HOLD, frozenset({R.NOT_DECLARED}), dossier=lambda: None),
    Case(
        "duplicate",
        Outcome.HOLD,
        frozenset({R.DUPLICATE_PARCEL}),
        facts=lambda: good_facts(duplicate=True),
    ),
    Case(
        "inspector hold",
        Outcome.HOLD,
        frozenset({R.INSPECTOR_HOLD}),
        facts=lambda: good_facts(inspector_hold=True),
    ),
    Case(
        "xray pending",
        Outcome.HOLD,
        frozenset({R.XRAY_PENDING}),
        facts=lambda: good_facts(xray=XrayState.PENDING),
    ),
    Case(
        "no xray image",
        Outcome.HOLD,
        frozenset({R.XRAY_PENDING}),
        facts=lambda: good_facts(xray=XrayState.NONE),
    ),
    Case("customs inspect", Outcome.INSPECT, frozenset({R.CUSTOMS_INSPECT}), status=500),
    Case(
        "prohibited HS",
        Outcome.INSPECT,
        frozenset({R.PROHIBITED_GOODS}),
        dossier=lambda: dossier(
            declaration=inventory(
                lines=(GoodsLine(1, "9302000000", "x", qty=Decimal(2), total_price=Decimal(190)),)
            )
        ),
    ),
    Case(
        "restricted keyword zh",
        Outcome.INSPECT,
        frozenset({R.PROHIBITED_GOODS}),
        dossier=lambda: dossier(
            declaration=inventory(
                lines=(GoodsLine(1, "8211910000", "不锈钢匕首", total_price=Decimal(190)),)
            )
        ),
    ),
    Case(
        "prohibited keyword en",
        Outcome.INSPECT,
        frozenset({R.PROHIBITED_GOODS}),
        dossier=lambda: dossier(
            declaration=inventory(
                lines=(GoodsLine(1, "9503000000", "Toy GUN set", total_price=Decimal(190)),)
            )
        ),
    ),
    Case(
        "three docs: payment missing",
        Outcome.INSPECT,
        frozenset({R.THREE_DOC_MISMATCH}),
        dossier=lambda: dossier(payment=None),
    ),
    Case(
        "three docs: amount differs",
        Outcome.INSPECT,
        frozenset({R.THREE_DOC_MISMATCH}),
        dossier=lambda: dossier(payment=payment(amount_paid=Decimal("199.00"))),
    ),
    Case(
        "three docs: arithmetic",
        Outcome.INSPECT,
        frozenset({R.THREE_DOC_MISMATCH}),
        dossier=lambda: dossier(order=order(discount=Decimal("5"))),
    ),
    Case(
        "three docs: payer",
        Outcome.INSPECT,
        frozenset({R.THREE_DOC_MISMATCH}),
        dossier=lambda: dossier(payment=payment(payer_id_number="110101199001010000")),
    ),
    Case(
        "three docs: consignee",
        Outcome.INSPECT,
        frozenset({R.THREE_DOC_MISMATCH}),
        dossier=lambda: dossier(waybill=waybill(consignee="李四")),
    ),
    Case(
        "value limit",
        Outcome.INSPECT,
        frozenset({R.VALUE_LIMIT}),
        dossier=lambda: dossier(
            declaration=inventory(
                lines=(
                    GoodsLine(1, "6109100021", "T", qty=Decimal(2), total_price=Decimal("5000.00")),
                )
            ),
            order=order(
                goods_value=Decimal("5000.00"),
                tax_total=Decimal("455.91"),
                actural_paid=Decimal("5465.91"),
            ),
            payment=payment(amount_paid=Decimal("5465.91")),
        ),
    ),
    Case(
        "annual limit",
        Outcome.INSPECT,
        frozenset({R.ANNUAL_LIMIT}),
        dossier=lambda: replace(dossier(), annual_total_cny=Decimal("26000.01")),
    ),
    Case(
        "annual unknown",
        Outcome.INSPECT,
        frozenset({R.ANNUAL_LIMIT}),
        dossier=lambda: replace(dossier(), annual_total_cny=None, annual_known=False),
    ),
    Case(
        "postal over value",
        Outcome.INSPECT,
        frozenset({R.VALUE_LIMIT}),
        dossier=lambda: replace(
            _postal(), declaration=replace(_postal().declaration, goods_value=Decimal("1000.01"))
        ),
    ),
    Case(
        "weight deviation",
        Outcome.INSPECT,
        frozenset({R.WEIGHT_DEVIATION}),
        facts=lambda: good_facts(weight_kg=1.5),
    ),
    Case(
        "weight within abs tolerance",
        Outcome.RELEASE,
        frozenset(),
        facts=lambda: good_facts(weight_kg=1.2 + 0.119),
    ),
    Case(
        "no declared weight",
        Outcome.INSPECT,
        frozenset({R.WEIGHT_DEVIATION, R.THREE_DOC_MISMATCH}),
        dossier=lambda: dossier(
            declaration=inventory(gross_weight_kg=None), waybill=waybill(gross_weight_kg=None)
        ),
    ),
    Case(
        "two live lists on one parcel",
        Outcome.HOLD,
        frozenset({R.DECLARATION_CONFLICT}),
        dossier=lambda: replace(dossier(), conflicts=("AG001:COP99999999",)),
    ),
    Case(
        "tax differs from the rules",
        Outcome.INSPECT,
        frozenset({R.TAX_MISMATCH}),
        dossier=lambda: dossier(
            order=order(tax_total=Decimal("0"), actural_paid=Decimal("200.00")),
            payment=payment(amount_paid=Decimal("200.00")),
        ),
    ),
    Case(
        "xray suspect",
        Outcome.INSPECT,
        frozenset({R.XRAY_SUSPECT}),
        facts=lambda: good_facts(xray=XrayState.SUSPECT),
    ),
    # precedence: every line beats the ones below it, and all reasons are reported
    Case(
        "reject beats return",
        Outcome.REJECT,
        frozenset({R.NO_WEIGHT, R.CUSTOMS_RETURN}),
        facts=lambda: good_facts(weight_kg=None),
        status=700,
    ),
    Case(
        "return beats hold",
        Outcome.RETURN,
        frozenset({R.CUSTOMS_RETURN, R.INSPECTOR_HOLD}),
        facts=lambda: good_facts(inspector_hold=True),
        status=700,
    ),
    Case(
        "hold beats inspect",
        Outcome.HOLD,
        frozenset({R.CUSTOMS_PENDING, R.XRAY_SUSPECT}),
        facts=lambda: good_facts(xray=XrayState.SUSPECT),
        status=399,
    ),
    Case(
        "not declared and unweighed",
        Outcome.REJECT,
        frozenset({R.NOT_DECLARED, R.NO_WEIGHT}),
        facts=lambda: good_facts(weight_kg=None),
        dossier=lambda: None,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_decision_table(case: Case, rules: RuleSet) -> None:
    """Each row gets exactly its outcome and exactly its reasons, deciding reason first."""
    d = decide(case.facts(), case.dossier(), case.status, rules, CLOCK)
    assert d.outcome is case.outcome
    assert set(d.reasons) == case.reasons
    assert d.rule_set_version == "test-1"
    if d.reasons:
        first_line = next(o for o, rs in PRECEDENCE if d.reasons[0] in rs)
        assert first_line is case.outcome


def test_every_reason_code_is_covered() -> None:
    """The table exercises every reason code except RANDOM_SELECTION (tested separately)."""
    covered = set().union(*(c.reasons for c in CASES))
    assert set(Reason) - covered == {Reason.RANDOM_SELECTION}


@pytest.mark.parametrize(
    ("reason", "outcome"),
    [(Reason.DECLARATION_CONFLICT, Outcome.HOLD), (Reason.TAX_MISMATCH, Outcome.INSPECT)],
)
def test_reserved_codes_have_their_design_precedence(reason: Reason, outcome: Outcome) -> None:
    """DESIGN §5 puts DECLARATION_CONFLICT on the HOLD line and TAX_MISMATCH on INSPECT."""
    assert outcome_for({reason}) is outcome
    assert outcome_for({reason, Reason.CUSTOMS_RETURN}) is Outcome.RETURN
    assert ordered({reason, Reason.NO_READ})[0] is Reason.NO_READ


def test_every_outcome_is_covered() -> None:
    """The table exercises every outcome."""
    assert {c.outcome for c in CASES} == set(Outcome)


def test_random_selection_sends_to_inspection() -> None:
    """At rate 1.0 every parcel is selected; at 0.0 none is."""
    always = parse_rules(RULES_NO_RANDOM.replace("general: 0.0", "general: 1.0"), "r.yaml")
    d = decide(good_facts(), dossier(), 800, always, CLOCK)
    assert d.outcome is Outcome.INSPECT
    assert d.reasons == (Reason.RANDOM_SELECTION,)


def test_dishonest_grade_rate_applies(rules: RuleSet) -> None:
    """The worst grade of ebcCode and agentCode decides the rate."""
    text = RULES_NO_RANDOM.replace("dishonest: 0.0", "dishonest: 1.0")
    r = parse_rules(text, "r.yaml")
    bad = dossier(declaration=inventory(agent_code="4403960666"))
    assert decide(good_facts(), bad, 800, r, CLOCK).reasons == (Reason.RANDOM_SELECTION,)
    assert decide(good_facts(), dossier(), 800, r, CLOCK).outcome is Outcome.RELEASE


def test_xray_not_required_by_site_rules() -> None:
    """A site without an X-ray machine may switch the requirement off."""
    r = parse_rules(RULES_NO_RANDOM + "xray: {required: false}\n", "r.yaml")
    d = decide(good_facts(xray=XrayState.NONE), dossier(), 800, r, CLOCK)
    assert d.outcome is Outcome.RELEASE


def test_chapter_tolerance_is_stricter(rules: RuleSet) -> None:
    """Jewellery (chapter 71) allows max(10 g, 2 %) instead of max(50 g, 10 %)."""
    jewel = inventory(lines=(GoodsLine(1, "7113190000", "金项链", total_price=Decimal(190)),))
    d = decide(good_facts(weight_kg=1.2 + 0.030), dossier(declaration=jewel), 800, rules, CLOCK)
    assert d.reasons == (Reason.WEIGHT_DEVIATION,)
    d2 = decide(good_facts(weight_kg=1.2 + 0.020), dossier(declaration=jewel), 800, rules, CLOCK)
    assert d2.outcome is Outcome.RELEASE


def test_notes_explain_weight(rules: RuleSet) -> None:
    """A supervisor sees measured vs declared and the tolerance in the notes."""
    d = decide(good_facts(weight_kg=1.5), dossier(), 800, rules, CLOCK)
    assert any("measured 1.500 kg vs declared 1.200 kg" in n for n in d.notes)


def test_decide_is_deterministic(default_rules: RuleSet) -> None:
    """The same inputs give the same decision every time."""
    runs = {decide(good_facts(), dossier(n), 800, default_rules, CLOCK) for n in range(1, 50)}
    again = {decide(good_facts(), dossier(n), 800, default_rules, CLOCK) for n in range(1, 50)}
    assert runs == again
