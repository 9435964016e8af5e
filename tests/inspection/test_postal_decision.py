"""Postal items in the decision: the declared postal-article tax and the CN22 ceiling in SDR.

Expected figures are worked by hand from the packaged rules (postal rates 50 % for perfume,
20 % for clothing, exempt at or below CNY 50; 9.6 CNY per SDR; CN22 up to 300 SDR).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from io import BytesIO

import pytest

from contracts.clock import ManualClock
from contracts.reasons import Reason
from inspection.checks import Dossier
from inspection.decision import decide
from inspection.formats.postal import read_postal_json
from inspection.model import Declaration, RecordError
from inspection.rules import RuleSet
from inspection.tax import postal_tax
from tests.inspection.builders import good_facts

CLOCK = ManualClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))


def _item(value: str, hs: str, qty: int = 1, **extra: str) -> Declaration | RecordError:
    members = "".join(f', "{k}": "{v}"' for k, v in extra.items())
    text = (
        '{"item_id": "RR123456785CN", "category": "gift", "addressee": {"name": "Li Lei"},'
        f' "total_gross_weight_kg": 1.2, "total_value": {value}, "currency": "CNY",'
        f' "contents": [{{"description": "x", "quantity": {qty}, "value": {value},'
        f' "hs_code": "{hs}"}}]{members}}}'
    )
    (rec,) = list(read_postal_json(BytesIO(text.encode()), source="t.json"))
    assert isinstance(rec.item, (Declaration, RecordError))
    return rec.item


def _reasons(
    decl: Declaration | RecordError, rules: RuleSet
) -> tuple[set[Reason], tuple[str, ...]]:
    assert isinstance(decl, Declaration)
    d = decide(good_facts(), Dossier(decl), 800, rules, CLOCK)
    return set(d.reasons), d.notes


@pytest.mark.parametrize(
    ("value", "hs", "tax"),
    [("400", "330300", "200.00"),   # perfume: 400 x 50 %
     ("200", "610910", "0.00"),     # clothing: 200 x 20 % = 40, at most 50: exempt
     ("300", "610910", "60.00")],   # clothing: 300 x 20 % = 60, above the exemption
)  # fmt: skip
def test_declared_postal_tax_is_compared(
    value: str, hs: str, tax: str, default_rules: RuleSet
) -> None:
    right = _item(value, hs, tax=tax)
    assert isinstance(right, Declaration) and str(right.tax_total) == tax
    assert postal_tax(right, default_rules) == Decimal(tax)
    assert Reason.TAX_MISMATCH not in _reasons(right, default_rules)[0]
    wrong = _item(value, hs, tax="1.00")
    found, notes = _reasons(wrong, default_rules)
    assert Reason.TAX_MISMATCH in found
    assert any(f"computed CNY {postal_tax(wrong, default_rules)}" in n for n in notes), notes


def test_no_declared_tax_is_not_a_mismatch(default_rules: RuleSet) -> None:
    assert Reason.TAX_MISMATCH not in _reasons(_item("400", "330300"), default_rules)[0]


def test_cn22_above_300_sdr_needs_a_cn23(default_rules: RuleSet) -> None:
    # one indivisible item of CNY 3,000 = 312.50 SDR: within the postal value rule, not a CN22
    found, notes = _reasons(_item("3000", "851712", form="CN22"), default_rules)
    assert Reason.VALUE_LIMIT in found
    assert any("312.50 SDR > 300" in n for n in notes), notes
    cn23 = _item("3000", "851712", form="CN23")
    assert isinstance(cn23, Declaration) and cn23.message_type == "CN23"
    assert Reason.VALUE_LIMIT not in _reasons(cn23, default_rules)[0]
    # CNY 2,880 = 300.00 SDR exactly: a CN22 is right
    assert (
        Reason.VALUE_LIMIT not in _reasons(_item("2880", "851712", form="cn22"), default_rules)[0]
    )


def test_an_unknown_form_is_rejected() -> None:
    rejected = _item("100", "610910", form="CN99")
    assert isinstance(rejected, RecordError) and rejected.field == "form"
