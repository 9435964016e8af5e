"""The CBEC comprehensive tax and the postal-article tax, computed from the rules' rates."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from inspection.checks import Dossier, dutiable_value_cny, extra_amount, lines_total
from inspection.model import Declaration
from inspection.rules import RuleSet
from inspection.rules_model import TaxRate

_FEN = Decimal("0.01")
_ZERO = Decimal(0)
_ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class LineTax:
    """One goods line's share of the dutiable value and the tax on it (CNY, unrounded)."""

    gnum: int
    value: Decimal
    consumption: Decimal
    vat: Decimal
    tax: Decimal  # (consumption + vat) x the CBEC share


def rate_for(hs_code: str, rules: RuleSet) -> TaxRate:
    """The rates of the longest HS prefix listed in the rules, else the default VAT only."""
    table = rules.source.tax.by_hs_prefix
    for n in range(len(hs_code), 1, -1):
        found = table.get(hs_code[:n])
        if found is not None:
            return found
    return TaxRate(vat=rules.source.tax.default_vat, consumption=_ZERO)


def cbec_tax_lines(decl: Declaration, rules: RuleSet) -> list[LineTax] | None:
    """Per-line CBEC tax: freight and insurance shared out by goods value; None if unknown.

    Duty is 0 within the limits; consumption tax = value / (1 − c) × c; VAT = (value +
    consumption tax) × v; the tax due is their sum times ``tax.cbec_share`` (70 %).
    """
    goods = lines_total(decl)
    rate = rules.to_cny(_ONE, decl.currency)
    if goods is None or rate is None:
        return None
    extra = (decl.freight or _ZERO) + (extra_amount(decl, "insuredFee") or _ZERO)
    share = rules.source.tax.cbec_share
    out = []
    for line in decl.lines:
        own = line.total_price or _ZERO
        value = (own + (extra * own / goods if goods else _ZERO)) * rate
        r = rate_for(line.hs_code, rules)
        consumption = value / (_ONE - r.consumption) * r.consumption
        vat = (value + consumption) * r.vat
        out.append(LineTax(line.gnum, value, consumption, vat, (consumption + vat) * share))
    return out


def cbec_tax(decl: Declaration, rules: RuleSet) -> Decimal | None:
    """The CBEC comprehensive tax of a list in CNY, rounded half-up to the fen."""
    lines = cbec_tax_lines(decl, rules)
    if lines is None:
        return None
    return sum((t.tax for t in lines), _ZERO).quantize(_FEN, ROUND_HALF_UP)


def tax_problem(d: Dossier, rules: RuleSet) -> str | None:
    """Why the declared ``taxTotal`` (the order's, else the list's) fails, or None when it
    agrees with the computed tax within ``tax.tolerance_cny``; a tax that cannot be
    computed or compared is a problem too. Without an order the three-document check
    already holds the parcel, so the tax is compared only with a declared total."""
    decl = d.declaration
    declared = d.order.tax_total if d.order is not None else decl.tax_total
    currency = d.order.currency if d.order is not None else decl.currency
    if d.order is None and declared is None:
        return None
    computed = cbec_tax(decl, rules)
    if computed is None:
        return "tax cannot be computed (goods lines without totals or unknown currency)"
    if declared is None:
        return f"taxTotal missing; computed CNY {computed}"
    declared_cny = rules.to_cny(declared, currency)
    if declared_cny is None:
        return f"taxTotal in unknown currency {currency!r}"
    if abs(declared_cny - computed) > rules.source.tax.tolerance_cny:
        return f"taxTotal CNY {declared_cny} != computed CNY {computed}"
    return None


def postal_tax(decl: Declaration, rules: RuleSet) -> Decimal | None:
    """Postal-article tax of an item in CNY (0 when at most the exemption); None if unknown."""
    postal = rules.source.tax.postal
    total = _ZERO
    rate = rules.to_cny(_ONE, decl.currency)
    if rate is None:
        return None
    if not decl.lines or any(line.total_price is None for line in decl.lines):
        value = dutiable_value_cny(decl, rules)
        if value is None:
            return None
        total = value * postal.default_rate
    else:
        for line in decl.lines:
            r = postal.default_rate
            for n in range(len(line.hs_code), 1, -1):
                if line.hs_code[:n] in postal.by_hs_prefix:
                    r = postal.by_hs_prefix[line.hs_code[:n]]
                    break
            total += (line.total_price or _ZERO) * rate * r
    tax = total.quantize(_FEN, ROUND_HALF_UP)
    return _ZERO if tax <= postal.exempt_up_to_cny else tax


def postal_form(decl: Declaration, rules: RuleSet) -> str | None:
    """The UPU form a postal item needs: CN22 up to ``limits.cn22_max_sdr``, else CN23.

    None when the value is unknown (no value or no exchange rate).
    """
    value = dutiable_value_cny(decl, rules)
    if value is None:
        return None
    sdr = value / rules.source.sdr_to_cny
    return "CN22" if sdr <= rules.source.limits.cn22_max_sdr else "CN23"


def postal_problems(decl: Declaration, rules: RuleSet) -> list[tuple[str, str]]:
    """What is wrong with a postal item's declared form and declared tax, as (kind, note).

    ``form``: the item was declared on a CN22 (``form`` in the file) while its value is
    above ``limits.cn22_max_sdr`` SDR, so it needs a CN23. ``tax``: a declared postal tax
    (``tax`` in the file, CNY) differs from :func:`postal_tax` by more than
    ``tax.tolerance_cny``, or cannot be compared.
    """
    out: list[tuple[str, str]] = []
    declared_form = decl.extra.get("form", "").strip().upper()
    if declared_form == "CN22":
        value = dutiable_value_cny(decl, rules)
        limit = rules.source.limits.cn22_max_sdr
        if value is None:
            out.append(("form", "declared on a CN22 but its value is unknown"))
        elif value / rules.source.sdr_to_cny > limit:
            sdr = (value / rules.source.sdr_to_cny).quantize(_FEN, ROUND_HALF_UP)
            out.append(("form", f"declared on a CN22 but worth {sdr} SDR > {limit}: needs a CN23"))
    if decl.tax_total is not None:
        computed = postal_tax(decl, rules)
        if computed is None:
            out.append(("tax", "postal tax cannot be computed (unknown value or currency)"))
        elif abs(decl.tax_total - computed) > rules.source.tax.tolerance_cny:
            note = f"declared postal tax CNY {decl.tax_total} != computed CNY {computed}"
            out.append(("tax", note))
    return out
