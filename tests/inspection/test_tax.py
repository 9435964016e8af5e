"""The CBEC comprehensive tax and the postal-article tax under the packaged default rules."""

from __future__ import annotations

from decimal import Decimal

from contracts.reasons import Reason
from inspection.checks import Dossier, value_reasons
from inspection.model import Declaration, DocKind, GoodsLine
from inspection.rules import RuleSet
from inspection.tax import cbec_tax, cbec_tax_lines, postal_form, postal_tax, rate_for
from tests.inspection.builders import inventory

SAMPLE = inventory(
    1,
    freight=Decimal(0),
    lines=(
        GoodsLine(1, "3304990099", "保湿面霜", qty=Decimal(2), total_price=Decimal("200.00")),
        GoodsLine(2, "2204210000", "红葡萄酒", qty=Decimal(1), total_price=Decimal("300.00")),
        GoodsLine(3, "6109100021", "棉制T恤衫", qty=Decimal(2), total_price=Decimal("100.00")),
    ),
)


def test_rates_come_from_the_longest_listed_prefix(default_rules: RuleSet) -> None:
    assert rate_for("3304990099", default_rules).consumption == Decimal("0.15")
    assert rate_for("2204210000", default_rules).consumption == Decimal("0.10")
    assert rate_for("9506310000", default_rules).consumption == Decimal("0.10")  # golf clubs
    plain = rate_for("6109100021", default_rules)
    assert (plain.vat, plain.consumption) == (Decimal("0.13"), Decimal(0))


def test_cosmetics_wine_and_clothing_to_the_fen(default_rules: RuleSet) -> None:
    """The worked example of docs/decision.md."""
    lines = cbec_tax_lines(SAMPLE, default_rules)
    assert lines is not None
    rounded = [t.tax.quantize(Decimal("0.01")) for t in lines]
    assert rounded == [Decimal("46.12"), Decimal("53.67"), Decimal("9.10")]
    # cosmetics: 200 / 0.85 x 0.15 = 35.294118; VAT (200 + 35.294118) x 0.13 = 30.588235
    assert lines[0].consumption.quantize(Decimal("0.000001")) == Decimal("35.294118")
    assert lines[0].vat.quantize(Decimal("0.000001")) == Decimal("30.588235")
    assert cbec_tax(SAMPLE, default_rules) == Decimal("108.88")


def test_freight_and_insurance_are_shared_out_by_value(default_rules: RuleSet) -> None:
    with_freight = inventory(
        1,
        freight=Decimal("10"),
        extra={"insuredFee": "2"},
        lines=(GoodsLine(1, "6109100021", "T", qty=Decimal(1), total_price=Decimal("100")),),
    )
    # (100 + 10 + 2) x 13 % x 70 % = 10.192
    assert cbec_tax(with_freight, default_rules) == Decimal("10.19")


def _postal(value: str, country: str = "US", qty: int = 2, hs: str = "6109100021") -> Declaration:
    return Declaration(
        kind=DocKind.POSTAL,
        message_type="CN23",
        business_key="RR123456785CN",
        logistics_no="RR123456785CN",
        category="gift",
        currency="CNY",
        country=country,
        lines=(GoodsLine(1, hs, "x", qty=Decimal(qty), total_price=Decimal(value)),),
    )


def test_postal_article_tax_with_its_exemption(default_rules: RuleSet) -> None:
    assert postal_tax(_postal("600"), default_rules) == Decimal("120.00")  # 20 %
    assert postal_tax(_postal("250"), default_rules) == Decimal(0)  # 50.00: exempt
    assert postal_tax(_postal("260"), default_rules) == Decimal("52.00")
    assert postal_tax(_postal("200", hs="3304990099"), default_rules) == Decimal("100.00")


def test_postal_limits_by_origin_and_single_item(default_rules: RuleSet) -> None:
    def reasons(decl: Declaration) -> set[Reason]:
        return value_reasons(Dossier(decl), default_rules)[0]

    assert reasons(_postal("900")) == set()
    assert reasons(_postal("900", country="HK")) == {Reason.VALUE_LIMIT}
    assert reasons(_postal("900", country="110")) == {Reason.VALUE_LIMIT}  # CEB code of HK
    assert reasons(_postal("1000.01")) == {Reason.VALUE_LIMIT}
    assert reasons(_postal("1500", qty=1)) == set()  # a single indivisible item


def test_cn22_up_to_300_sdr(default_rules: RuleSet) -> None:
    rate = default_rules.source.sdr_to_cny
    assert postal_form(_postal(str(300 * rate)), default_rules) == "CN22"
    assert postal_form(_postal(str(300 * rate + Decimal("0.01"))), default_rules) == "CN23"
