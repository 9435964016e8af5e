"""How each case is built: the documents it files and the parcel that carries its labels."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal

from contracts.reasons import Reason
from inspection.model import Declaration, DocKind
from simulators.scenario.catalogue import CBEC_GOODS, Good, clean_goods
from simulators.scenario.context import EXCLUDED_FROM_LEDGER, Context
from simulators.scenario.documents import cbec, export, postal
from simulators.scenario.model import Case
from simulators.scenario.parcel import Built, parcel
from simulators.scenario.withdrawals import cancelled, consumer_return
from simulators.xray.contents import ContentItem, ItemKind

#: A case's builder: yields the parcel(s) of one unit of the case, built lazily in order.
Builder = Callable[[Context], Iterator[Built]]


def _released(ctx: Context) -> Iterator[Built]:
    f = cbec(ctx, status=ctx.release_status)
    yield parcel(ctx, Case.RELEASED, f.route.value, f, [f.code])


def _random_selection(ctx: Context) -> Iterator[Built]:
    f = cbec(ctx, status=ctx.release_status, want_selected=True)
    yield parcel(ctx, Case.RANDOM_SELECTION, "", f, [f.code])


def _undeclared(ctx: Context) -> Iterator[Built]:
    if ctx.rng.random() < 0.5:
        code, variant = f"YT{ctx.next_doc():09d}000", "waybill"
    else:
        code, variant = ctx.s10()[0], "s10"
    yield parcel(ctx, Case.UNDECLARED, variant, None, [code], base=(Reason.NOT_DECLARED,))


_STATUS_CASES: dict[Case, tuple[tuple[int | None, ...], Reason]] = {
    Case.CUSTOMS_INSPECT: ((500,), Reason.CUSTOMS_INSPECT),
    Case.CUSTOMS_DETAINED: ((501, 599), Reason.CUSTOMS_DETAINED),
    Case.CUSTOMS_RETURNED: ((700,), Reason.CUSTOMS_RETURN),
    Case.CUSTOMS_SUSPENDED: ((600,), Reason.CUSTOMS_SUSPENDED),
    Case.CUSTOMS_REJECTED: ((100,), Reason.CUSTOMS_REJECTED),
    Case.CUSTOMS_PENDING: ((399, None), Reason.CUSTOMS_PENDING),
}


def _status_case(case: Case) -> Builder:
    statuses, reason = _STATUS_CASES[case]

    def build(ctx: Context) -> Iterator[Built]:
        status = ctx.rng.choice(statuses)
        f = cbec(ctx, status=status)
        variant = "no_receipt" if status is None else str(status)
        yield parcel(ctx, case, variant, f, [f.code], base=(reason,))

    return build


def _weight_deviation(ctx: Context) -> Iterator[Built]:
    f = cbec(ctx, status=ctx.release_status)
    weight = ctx.true_weight(f.declared_kg, f.chapters, inside=False)
    variant = "heavy" if weight > f.declared_kg else "light"
    yield parcel(
        ctx,
        Case.WEIGHT_DEVIATION,
        variant,
        f,
        [f.code],
        base=(Reason.WEIGHT_DEVIATION,),
        weight_kg=weight,
    )


def _prohibited(case: Case) -> Builder:
    def build(ctx: Context) -> Iterator[Built]:
        safe_hs = clean_goods(ctx, CBEC_GOODS)[0].hs
        if case is Case.PROHIBITED_HS:
            prefix = ctx.rng.choice(ctx.rules.prohibited_prefixes)
            good = Good(
                prefix.ljust(10, "0"),
                "工艺品摆件",
                "金属|样品",
                Decimal("0.50"),
                ItemKind.METAL_TOOL,
                (50, 300),
            )
            variant = f"hs {prefix}"
        else:
            word = ctx.rng.choice(ctx.keywords(ascii_only=case is Case.PROHIBITED_KEYWORD_EN))
            name = f"Vintage {word} replica" if word.isascii() else f"{word}收藏品"
            good = Good(safe_hs, name, "样品", Decimal("0.40"), ItemKind.PLASTICS, (30, 200))
            variant = f"keyword {word}"
        f = cbec(ctx, status=ctx.release_status, extra_good=good)
        yield parcel(ctx, case, variant, f, [f.code], base=(Reason.PROHIBITED_GOODS,))

    return build


def _value_limit(ctx: Context) -> Iterator[Built]:
    if ctx.rng.random() < 0.7:
        share = Decimal(str(round(ctx.rng.uniform(1.1, 1.6), 3)))
        f = cbec(ctx, status=ctx.release_status, target_cny=ctx.per_tx_cny * share, divisible=True)
        variant = "cbec"
    else:
        f, variant = postal(ctx, status=ctx.postal_release_status, over_limit=True), "postal"
    yield parcel(ctx, Case.VALUE_LIMIT, variant, f, [f.code], base=(Reason.VALUE_LIMIT,))


def _annual_limit(ctx: Context) -> Iterator[Built]:
    """One buyer's orders in time order; the running total crosses the annual limit.

    One order (not among the last two) is sometimes rejected (100) or returned (700) and so
    leaves the running total.
    """
    size, buyer = ctx.annual_group_size, ctx.group_buyer()
    excluded_at = ctx.rng.randrange(size - 2) if ctx.rng.random() < 0.5 else -1
    running = Decimal(0)
    for i in range(size):
        status = ctx.release_status
        base: set[Reason] = set()
        variant = f"order {i + 1}/{size}"
        if i == excluded_at:
            status = ctx.rng.choice(EXCLUDED_FROM_LEDGER)
            base.add(Reason.CUSTOMS_RETURN if status == 700 else Reason.CUSTOMS_REJECTED)
            variant += f" excluded-{status}"
        share = Decimal(str(round(ctx.rng.uniform(0.88, 0.97), 3)))
        f = cbec(ctx, status=status, buyer=buyer, target_cny=ctx.per_tx_cny * share)
        if status not in EXCLUDED_FROM_LEDGER and f.value_cny is not None:
            running += f.value_cny
            total = running
        else:
            total = Decimal(0)  # what it adds itself; see docs/scenarios.md on excluded orders
        yield parcel(ctx, Case.ANNUAL_LIMIT, variant, f, [f.code], base=base, annual_total=total)


def _three_doc(case: Case) -> Builder:
    def build(ctx: Context) -> Iterator[Built]:
        f = cbec(ctx, status=ctx.release_status)
        docs = {d.kind: d for d in f.declarations}
        payment, waybill = docs[DocKind.PAYMENT], docs[DocKind.WAYBILL]
        if case is Case.THREE_DOC_MISSING_PAYMENT:
            f.declarations = [d for d in f.declarations if d.kind is not DocKind.PAYMENT]
        elif case is Case.THREE_DOC_AMOUNT:
            off = ctx.amount_tolerance + Decimal(str(round(ctx.rng.uniform(1, 50), 2)))
            amount = (payment.amount_paid or Decimal(0)) + off
            f.declarations = _swap(f.declarations, replace(payment, amount_paid=amount))
        elif case is Case.THREE_DOC_PAYER:
            other_id, other_name = ctx.group_buyer()
            changed = replace(payment, payer_id_number=other_id, payer_name=other_name)
            f.declarations = _swap(f.declarations, changed)
        else:
            changed = replace(waybill, consignee=f"菜鸟驿站代收{ctx.rng.randint(1, 99)}号")
            f.declarations = _swap(f.declarations, changed)
        yield parcel(ctx, case, "", f, [f.code], base=(Reason.THREE_DOC_MISMATCH,))

    return build


def _swap(docs: list[Declaration], new: Declaration) -> list[Declaration]:
    return [new if d.kind is new.kind else d for d in docs]


_THREATS: dict[Case, Callable[[Context], ContentItem]] = {
    Case.XRAY_BLADE: lambda _ctx: ContentItem(kind=ItemKind.BLADE),
    Case.XRAY_GUN: lambda _ctx: ContentItem(kind=ItemKind.GUN),
    Case.XRAY_DENSE_BLOCK: lambda _ctx: ContentItem(kind=ItemKind.DENSE_BLOCK),
    Case.XRAY_BATTERY: lambda ctx: ContentItem(
        kind=ItemKind.ELECTRONICS, cells=ctx.rng.randint(5, 8)
    ),
}


def _xray(case: Case) -> Builder:
    def build(ctx: Context) -> Iterator[Built]:
        f = cbec(ctx, status=ctx.release_status)
        threat = _THREATS[case](ctx)
        yield parcel(
            ctx, case, threat.kind.value, f, [f.code], base=(Reason.XRAY_SUSPECT,), threat=threat
        )

    return build


def _no_read(ctx: Context) -> Iterator[Built]:
    f = cbec(ctx, status=ctx.release_status)
    yield parcel(ctx, Case.NO_READ, "", f, [], base=(Reason.NO_READ,), matched=False)


def _invalid_code(ctx: Context) -> Iterator[Built]:
    f = postal(ctx, status=ctx.postal_release_status)
    label = ctx.damaged(f.code)
    yield parcel(ctx, Case.INVALID_CODE, "", f, [label], base=(Reason.INVALID_CODE,), matched=False)


def _multi_read(ctx: Context) -> Iterator[Built]:
    own = cbec(ctx, status=ctx.release_status)
    other = cbec(ctx, status=ctx.release_status)
    labels = [own.code, other.code]
    ctx.rng.shuffle(labels)
    own.declarations = own.declarations + other.declarations
    own.receipts = own.receipts + other.receipts
    yield parcel(
        ctx,
        Case.MULTI_READ_CONFLICT,
        "",
        own,
        labels,
        base=(Reason.MULTI_READ_CONFLICT,),
        matched=False,
    )


def _duplicate(ctx: Context) -> Iterator[Built]:
    """Two parcels with the same label: the first is a clean release, the second a duplicate."""
    f = cbec(ctx, status=ctx.release_status)
    first = parcel(ctx, Case.DUPLICATE, "original", f, [f.code])
    yield first
    yield parcel(
        ctx,
        Case.DUPLICATE,
        "copy",
        f,
        [f.code],
        base=(Reason.DUPLICATE_PARCEL,),
        file_docs=False,
        duplicate_of=first.truth.seq,
    )


def _postal_released(ctx: Context) -> Iterator[Built]:
    f = postal(ctx, status=ctx.postal_release_status)
    form = "CN23" if f.declarations[0].message_type == "CN23" else "CN22"
    yield parcel(ctx, Case.POSTAL_RELEASED, form, f, [f.code])


def _postal_held(ctx: Context) -> Iterator[Built]:
    status = ctx.rng.choice((None, 501))
    f = postal(ctx, status=status)
    reason = Reason.CUSTOMS_PENDING if status is None else Reason.CUSTOMS_DETAINED
    variant = "no_receipt" if status is None else str(status)
    yield parcel(ctx, Case.POSTAL_HELD, variant, f, [f.code], base=(reason,))


def _export_released(ctx: Context) -> Iterator[Built]:
    f = export(ctx, status=ctx.release_status)
    yield parcel(ctx, Case.EXPORT_RELEASED, "9610", f, [f.code])


def _declaration_conflict(ctx: Context) -> Iterator[Built]:
    """A second live list on the same waybill (another copNo, same logisticsNo): held,
    whichever of the two is filed first."""
    f = cbec(ctx, status=ctx.release_status)
    first = next(d for d in f.declarations if d.kind is DocKind.INVENTORY)
    agent, cop = first.business_key.split(":", 1)
    second = replace(
        first, business_key=f"{agent}:{cop}B", cop_no=f"{cop}B", invt_no=f"{first.invt_no}B"
    )
    receipts = [replace(r, business_key=second.business_key) for r in f.receipts]
    if ctx.rng.random() < 0.5:
        f.declarations = [second, *f.declarations]
        f.receipts = [*receipts, *f.receipts]
        variant = "second filed first"
    else:
        f.declarations = [*f.declarations, second]
        f.receipts = [*f.receipts, *receipts]
        variant = "second filed last"
    yield parcel(
        ctx, Case.DECLARATION_CONFLICT, variant, f, [f.code], base=(Reason.DECLARATION_CONFLICT,)
    )


def _tax_mismatch(ctx: Context) -> Iterator[Built]:
    """The order's taxTotal is off the rules' tax (and paid as filed): inspected."""
    off = ctx.tax_tolerance + Decimal(str(round(ctx.rng.uniform(1, 30), 2)))
    off = off if ctx.rng.random() < 0.5 else -off
    f = cbec(ctx, status=ctx.release_status, tax_off=off)
    yield parcel(ctx, Case.TAX_MISMATCH, "over" if off > 0 else "under", f, [f.code],
                 base=(Reason.TAX_MISMATCH,))  # fmt: skip


def _single_item(ctx: Context) -> Iterator[Built]:
    """One indivisible item above the per-transaction limit that customs released: released."""
    share = Decimal(str(round(ctx.rng.uniform(1.05, 1.3), 3)))
    f = cbec(ctx, status=ctx.release_status, target_cny=ctx.per_tx_cny * share, divisible=False)
    yield parcel(ctx, Case.SINGLE_ITEM, "released", f, [f.code])


def _postal_hk_limit(ctx: Context) -> Iterator[Built]:
    """A postal item from Hong Kong between the HK/MO/TW limit and the general one."""
    f = postal(ctx, status=ctx.postal_release_status, country="HK", over_limit=True)
    yield parcel(ctx, Case.POSTAL_HK_LIMIT, "HK", f, [f.code], base=(Reason.VALUE_LIMIT,))


#: The builder of every case.
BUILDERS: dict[Case, Builder] = {
    Case.RELEASED: _released,
    Case.RANDOM_SELECTION: _random_selection,
    Case.UNDECLARED: _undeclared,
    **{case: _status_case(case) for case in _STATUS_CASES},
    Case.WEIGHT_DEVIATION: _weight_deviation,
    **{
        c: _prohibited(c)
        for c in (Case.PROHIBITED_HS, Case.PROHIBITED_KEYWORD_ZH, Case.PROHIBITED_KEYWORD_EN)
    },
    Case.VALUE_LIMIT: _value_limit,
    Case.ANNUAL_LIMIT: _annual_limit,
    **{
        c: _three_doc(c)
        for c in (
            Case.THREE_DOC_MISSING_PAYMENT,
            Case.THREE_DOC_AMOUNT,
            Case.THREE_DOC_PAYER,
            Case.THREE_DOC_CONSIGNEE,
        )
    },
    **{case: _xray(case) for case in _THREATS},
    Case.NO_READ: _no_read,
    Case.INVALID_CODE: _invalid_code,
    Case.MULTI_READ_CONFLICT: _multi_read,
    Case.DUPLICATE: _duplicate,
    Case.POSTAL_RELEASED: _postal_released,
    Case.POSTAL_HELD: _postal_held,
    Case.EXPORT_RELEASED: _export_released,
    Case.DECLARATION_CONFLICT: _declaration_conflict,
    Case.TAX_MISMATCH: _tax_mismatch,
    Case.SINGLE_ITEM: _single_item,
    Case.POSTAL_HK_LIMIT: _postal_hk_limit,
    Case.CANCELLED: cancelled,
    Case.CONSUMER_RETURN: consumer_return,
}
