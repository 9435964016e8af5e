"""The individual checks a decision runs; each is pure and returns what it found."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from contracts.reasons import Reason
from inspection.model import Declaration, DocKind
from inspection.rules import RuleSet

CBEC_RETAIL_MODES = frozenset({"9610", "1210", "1239"})
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Dossier:
    """A parcel's declaration with the documents linked to it, as the decision needs them.

    ``annual_total_cny`` is the buyer's calendar-year total including this transaction; it is
    None when the check does not apply, and ``annual_known`` False when it applies but could
    not be computed (no buyer id). ``conflicts`` names the other live parcel declarations
    that the parcel's codes also resolve to.
    """

    declaration: Declaration
    order: Declaration | None = None
    payment: Declaration | None = None
    waybill: Declaration | None = None
    annual_total_cny: Decimal | None = None
    annual_known: bool = True
    conflicts: tuple[str, ...] = ()


def is_cbec_retail_import(decl: Declaration) -> bool:
    """Return True for a CBEC retail import declaration (9610 / 1210 / 1239, ie_flag I)."""
    if decl.kind is DocKind.INVENTORY:
        return decl.trade_mode in CBEC_RETAIL_MODES and decl.ie_flag in ("I", "")
    if decl.kind is DocKind.GENERIC:
        return decl.trade_mode in CBEC_RETAIL_MODES and decl.ie_flag != "E"
    return False


def _same_text(a: str, b: str) -> bool:
    return "".join(a.split()).casefold() == "".join(b.split()).casefold()


def extra_amount(decl: Declaration, name: str) -> Decimal | None:
    """An amount kept in ``extra`` (e.g. ``insuredFee``), or None when absent or not a number."""
    text = decl.extra.get(name, "").strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except ArithmeticError:
        return None
    return value if value.is_finite() else None


def _agree(problems: list[str], what: str, values: list[tuple[str, str]]) -> None:
    """Note ``what`` when the given (document, value) pairs do not all agree.

    Missing on every document is taken as not carried (the edge's copy keeps no names or
    phones); missing on some but not all is a disagreement.
    """
    present = [(doc, v) for doc, v in values if v.strip()]
    if not present:
        return
    if len(present) < len(values):
        missing = [doc for doc, v in values if not v.strip()]
        problems.append(f"{what} missing on {', '.join(missing)}")
        return
    first = values[0][1]
    for doc, v in values[1:]:
        if not _same_text(first, v):
            problems.append(f"{what} on {values[0][0]} differs from {doc}")


def _amounts(order: Declaration, payment: Declaration, tol: Decimal, problems: list[str]) -> None:
    if order.goods_value is None or order.actural_paid is None:
        problems.append("order amounts missing")
        return
    expected = (
        order.goods_value + (order.freight or _ZERO) + (order.tax_total or _ZERO)
        - (order.discount or _ZERO)
    )  # fmt: skip
    if abs(expected - order.actural_paid) > tol:
        problems.append(f"acturalPaid {order.actural_paid} != computed {expected}")
    if payment.amount_paid is None or abs(payment.amount_paid - order.actural_paid) > tol:
        problems.append(f"amountPaid {payment.amount_paid} != acturalPaid {order.actural_paid}")


def _goods(decl: Declaration, order: Declaration, tol: Decimal, problems: list[str]) -> None:
    """The list's goods lines and amounts against the order's."""
    listed = lines_total(decl)
    if listed is None:
        problems.append("list goods lines carry no total price")
    elif order.goods_value is None or abs(listed - order.goods_value) > tol:
        problems.append(f"list goods total {listed} != order goodsValue {order.goods_value}")
    for what, mine, theirs in (
        ("freight", decl.freight, order.freight),
        ("taxTotal", decl.tax_total, order.tax_total),
    ):
        if mine is not None and theirs is not None and abs(mine - theirs) > tol:
            problems.append(f"list {what} {mine} != order {what} {theirs}")
    ordered = {line.gnum: line for line in order.lines}
    for line in decl.lines:
        other = ordered.get(line.gnum)
        if other is None:
            if order.lines:
                problems.append(f"list line {line.gnum} is not on the order")
            continue
        if line.qty is not None and other.qty is not None and line.qty != other.qty:
            problems.append(f"line {line.gnum} quantity {line.qty} != order {other.qty}")
        if (
            line.total_price is not None
            and other.total_price is not None
            and abs(line.total_price - other.total_price) > tol
        ):
            problems.append(
                f"line {line.gnum} total {line.total_price} != order {other.total_price}"
            )


def _weights(decl: Declaration, waybill: Declaration, rules: RuleSet, problems: list[str]) -> None:
    gross, net = decl.gross_weight_kg, decl.net_weight_kg
    if gross is not None and net is not None and net > gross:
        problems.append(f"net weight {net} kg > gross weight {gross} kg")
    carried = waybill.gross_weight_kg
    if gross is None or carried is None:
        problems.append("waybill weight or list gross weight missing")
        return
    chapters = tuple({line.hs_code[:2] for line in decl.lines if line.hs_code})
    allowed_g = rules.tolerance_g(float(gross), chapters)
    if abs(float(carried) - float(gross)) * 1000.0 > allowed_g:
        problems.append(f"waybill weight {carried} kg vs list gross {gross} kg")


def three_doc_problems(d: Dossier, rules: RuleSet) -> list[str]:
    """Return what fails the three-document check (empty when it positively passes)."""
    decl, order, payment, waybill = d.declaration, d.order, d.payment, d.waybill
    problems = [
        f"{name} missing"
        for name, doc in (("order", order), ("payment", payment), ("waybill", waybill))
        if doc is None
    ]
    if order is None or payment is None or waybill is None:
        return problems
    tol = rules.source.three_doc.amount_tolerance_cny
    _amounts(order, payment, tol, problems)
    _goods(decl, order, tol, problems)
    _agree(
        problems,
        "buyer id",
        [("order", order.buyer_id_number), ("payment", payment.payer_id_number)],
    )
    if decl.buyer_id_number and not _same_text(decl.buyer_id_number, order.buyer_id_number):
        problems.append("buyer id on list differs from order")
    _agree(problems, "buyer name", [("order", order.buyer_name), ("payment", payment.payer_name)])
    if decl.buyer_name and not _same_text(decl.buyer_name, order.buyer_name):
        problems.append("buyer name on list differs from order")
    if not decl.ebp_code:
        problems.append("platform code missing on list")
    _agree(problems, "platform code", [("list", decl.ebp_code), ("order", order.ebp_code)])
    if payment.ebp_code and not _same_text(payment.ebp_code, order.ebp_code):
        problems.append("platform code on payment differs from order")
    if decl.ebc_code and order.ebc_code and not _same_text(decl.ebc_code, order.ebc_code):
        problems.append("e-commerce enterprise code on list differs from order")
    if not order.consignee:
        problems.append("consignee missing on order")
    _agree(problems, "consignee", [("order", order.consignee), ("waybill", waybill.consignee)])
    for what, a, b in (
        ("consignee phone", order.consignee_telephone, waybill.consignee_telephone),
        ("consignee address", order.consignee_address, waybill.consignee_address),
    ):
        if a and b and not _same_text(a, b):
            problems.append(f"{what} on order differs from waybill")
    _weights(decl, waybill, rules, problems)
    return problems


def lines_total(decl: Declaration) -> Decimal | None:
    """Sum of the goods lines' total prices, or None when a line has none (or no lines)."""
    if not decl.lines or any(line.total_price is None for line in decl.lines):
        return None
    return sum((line.total_price or _ZERO for line in decl.lines), _ZERO)


def dutiable_value_cny(decl: Declaration, rules: RuleSet) -> Decimal | None:
    """The declaration's dutiable value in CNY: goods + freight + insured fee (no taxes).

    Goods are the list's own lines (a postal or generic record's ``goodsValue`` when it
    has no priced lines). None when it cannot be computed (no value, unknown currency).
    """
    goods = lines_total(decl)
    if goods is None and decl.kind in (DocKind.POSTAL, DocKind.GENERIC):
        goods = decl.goods_value
    if goods is None:
        return None
    value = goods + (decl.freight or _ZERO) + (extra_amount(decl, "insuredFee") or _ZERO)
    return rules.to_cny(value, decl.currency)


def transaction_value_cny(d: Dossier, rules: RuleSet) -> Decimal | None:
    """Return the transaction's dutiable value in CNY, from the declaration itself."""
    return dutiable_value_cny(d.declaration, rules)


def single_indivisible_item(decl: Declaration) -> bool:
    """True when the declaration is one goods line of quantity one."""
    return len(decl.lines) == 1 and decl.lines[0].qty == 1


def value_reasons(
    d: Dossier, rules: RuleSet, released: bool = False
) -> tuple[set[Reason], list[str]]:
    """Return VALUE_LIMIT / ANNUAL_LIMIT with notes, for the declarations they apply to.

    ``released``: customs released the declaration, which lets a single indivisible item
    above the per-transaction limit through (it is taxed as general trade).
    """
    decl, limits = d.declaration, rules.source.limits
    reasons: set[Reason] = set()
    notes: list[str] = []
    if is_cbec_retail_import(decl):
        value = transaction_value_cny(d, rules)
        if value is None:
            reasons.add(Reason.VALUE_LIMIT)
            notes.append("transaction value unknown")
        elif value > limits.per_transaction_cny:
            if released and single_indivisible_item(decl):
                notes.append(f"single indivisible item CNY {value:.2f} released by customs")
            else:
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
        found, more = postal_value_reasons(decl, rules)
        reasons |= found
        notes.extend(more)
    return reasons, notes


def postal_value_reasons(decl: Declaration, rules: RuleSet) -> tuple[set[Reason], list[str]]:
    """The personal-article value limit of a postal item (lower from HK, Macao, Taiwan)."""
    value = dutiable_value_cny(decl, rules)
    limit = rules.postal_limit_cny(decl.country)
    if value is None:
        return {Reason.VALUE_LIMIT}, ["postal value unknown"]
    if value > limit and not single_indivisible_item(decl):
        return {Reason.VALUE_LIMIT}, [f"postal value CNY {value:.2f} > {limit}"]
    return set(), []


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
