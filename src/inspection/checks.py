"""The individual checks a decision runs; each is pure and returns what it found."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from contracts.reasons import Reason
from inspection.model import Declaration, DocKind
from inspection.rules import RuleSet

CBEC_RETAIL_MODES = frozenset({"9610", "1210"})


@dataclass(frozen=True, slots=True)
class Dossier:
    """A parcel's declaration with the documents linked to it, as the decision needs them.

    ``annual_total_cny`` is the buyer's calendar-year total including this transaction; it is
    None when the check does not apply, and ``annual_known`` False when it applies but could
    not be computed (no buyer id).
    """

    declaration: Declaration
    order: Declaration | None = None
    payment: Declaration | None = None
    waybill: Declaration | None = None
    annual_total_cny: Decimal | None = None
    annual_known: bool = True


def is_cbec_retail_import(decl: Declaration) -> bool:
    """Return True for a CBEC retail import declaration (9610 / 1210, ie_flag I)."""
    if decl.kind is DocKind.INVENTORY:
        return decl.trade_mode in CBEC_RETAIL_MODES and decl.ie_flag in ("I", "")
    if decl.kind is DocKind.GENERIC:
        return decl.trade_mode in CBEC_RETAIL_MODES and decl.ie_flag != "E"
    return False


def _same_text(a: str, b: str) -> bool:
    return "".join(a.split()).casefold() == "".join(b.split()).casefold()


def three_doc_problems(d: Dossier, rules: RuleSet) -> list[str]:
    """Return what fails the three-document check (empty when it positively passes)."""
    order, payment, waybill = d.order, d.payment, d.waybill
    problems = [
        f"{name} missing"
        for name, doc in (("order", order), ("payment", payment), ("waybill", waybill))
        if doc is None
    ]
    if order is None or payment is None or waybill is None:
        return problems
    tol = rules.source.three_doc.amount_tolerance_cny
    parts = (order.goods_value, order.freight, order.tax_total, order.discount, order.actural_paid)
    if order.goods_value is None or order.actural_paid is None:
        problems.append("order amounts missing")
    else:
        zero = Decimal(0)
        expected = order.goods_value + (parts[1] or zero) + (parts[2] or zero) - (parts[3] or zero)
        if abs(expected - order.actural_paid) > tol:
            problems.append(f"acturalPaid {order.actural_paid} != computed {expected}")
        if payment.amount_paid is None or abs(payment.amount_paid - order.actural_paid) > tol:
            problems.append(f"amountPaid {payment.amount_paid} != acturalPaid {order.actural_paid}")
    if not order.buyer_id_number or not _same_text(order.buyer_id_number, payment.payer_id_number):
        problems.append("buyer id on order differs from payer id")
    if not order.consignee or not _same_text(order.consignee, waybill.consignee):
        problems.append("consignee on order differs from waybill")
    return problems


def transaction_value_cny(d: Dossier, rules: RuleSet) -> Decimal | None:
    """Return the transaction's value in CNY (order's acturalPaid, else lines + freight)."""
    decl = d.declaration
    if d.order is not None and d.order.actural_paid is not None:
        return rules.to_cny(d.order.actural_paid, d.order.currency)
    if decl.goods_value is not None and decl.kind in (DocKind.POSTAL, DocKind.GENERIC):
        return rules.to_cny(decl.goods_value + (decl.freight or 0), decl.currency)
    if not decl.lines or any(line.total_price is None for line in decl.lines):
        return None
    total = sum((line.total_price or Decimal(0) for line in decl.lines), Decimal(0))
    return rules.to_cny(total + (decl.freight or 0), decl.currency)


def value_reasons(d: Dossier, rules: RuleSet) -> tuple[set[Reason], list[str]]:
    """Return VALUE_LIMIT / ANNUAL_LIMIT with notes, for the declarations they apply to."""
    decl, limits = d.declaration, rules.source.limits
    reasons: set[Reason] = set()
    notes: list[str] = []
    if is_cbec_retail_import(decl):
        value = transaction_value_cny(d, rules)
        if value is None:
            reasons.add(Reason.VALUE_LIMIT)
            notes.append("transaction value unknown")
        elif value > limits.per_transaction_cny:
            reasons.add(Reason.VALUE_LIMIT)
            notes.append(f"value CNY {value:.2f} > {limits.per_transaction_cny}")
        if not d.annual_known:
            reasons.add(Reason.ANNUAL_LIMIT)
            notes.append("buyer's annual total unknown")
        elif d.annual_total_cny is not None and d.annual_total_cny > limits.annual_per_buyer_cny:
            reasons.add(Reason.ANNUAL_LIMIT)
            notes.append(
                f"buyer's year total CNY {d.annual_total_cny:.2f} > {limits.annual_per_buyer_cny}"
            )
    elif decl.kind is DocKind.POSTAL and decl.category != "documents":
        value = transaction_value_cny(d, rules)
        if value is None or value > limits.postal_per_item_cny:
            reasons.add(Reason.VALUE_LIMIT)
            notes.append(
                "postal value unknown" if value is None else f"postal value CNY {value:.2f}"
            )
    return reasons, notes


def prohibited_hit(
    decl: Declaration, rules: RuleSet, waybill: Declaration | None = None
) -> str | None:
    """Return what flags the goods as prohibited or restricted, or None (waybill goodsInfo too)."""
    pattern = rules.goods_pattern
    for line in decl.lines:
        if rules.prohibited_prefixes and line.hs_code.startswith(rules.prohibited_prefixes):
            return f"HS {line.hs_code} (line {line.gnum})"
        if pattern is not None:
            m = pattern.search(f"{line.name} {line.model}".lower())
            if m:
                return f"keyword {m.group(0)!r} (line {line.gnum})"
    if pattern is not None:
        for doc in (decl, waybill):
            info = doc.extra.get("goodsInfo") if doc is not None else None
            m = pattern.search(info.lower()) if info else None
            if m:
                return f"keyword {m.group(0)!r} (goodsInfo)"
    return None


def random_draw(seed: bytes, code: str) -> float:
    """Return the parcel's deterministic draw in [0, 1) from (rule-set seed, parcel code)."""
    h = hashlib.blake2b(seed + b"\x00" + code.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2.0**64


def randomly_selected(d: Dossier, rules: RuleSet, code: str) -> bool:
    """Return True when random selection picks the parcel at its enterprise's grade rate."""
    decl = d.declaration
    grade = rules.grade_of(decl.ebc_code, decl.agent_code)
    return random_draw(rules.seed, code) < rules.rates.get(grade, 0.0)
