"""The documents of one parcel: CBEC import sets, CEB603 export inventories, postal items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from inspection.model import Declaration, DocKind, GoodsLine, Notice, Receipt
from simulators.sample_declarations import bonded_extra, cbec_tax, parcel_set
from simulators.scenario.catalogue import (
    CBEC_GOODS,
    POSTAL_CURRENCIES,
    POSTAL_DOCUMENTS,
    POSTAL_GOODS,
    SENDERS,
    Good,
    clean_goods,
    content_items,
)
from simulators.scenario.context import Context
from simulators.scenario.model import Route
from simulators.xray.contents import ContentItem

_CENT = Decimal("0.01")
_CARTON_KG = Decimal("0.15")


@dataclass(slots=True)
class Filed:
    """What was filed for one parcel and what the scenario knows from constructing it."""

    code: str  # the parcel's own code: logisticsNo or S10 id
    route: Route
    declared_kg: Decimal
    chapters: tuple[str, ...]
    items: list[ContentItem]
    value_cny: Decimal | None  # transaction value the limits look at; None when exempt
    selected: bool  # random selection picks this parcel
    declarations: list[Declaration] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    single_item: bool = False  # one goods line of quantity one (an indivisible item)
    country: str = ""  # postal items: the sending country (HK, MO, TW have a lower limit)
    notices: list[Notice] = field(default_factory=list)  # CEB623-626 filed after the list


def _round(x: Decimal, unit: Decimal = _CENT) -> Decimal:
    return x.quantize(unit, rounding=ROUND_HALF_UP)


def _priced(
    ctx: Context, picks: Sequence[tuple[Good, int]], extra_cny: Decimal, target_cny: Decimal | None
) -> list[Decimal]:
    """Unit prices (CNY, 2 decimals); scaled so the dutiable value (goods + freight) lands
    near ``target_cny``."""
    prices = [Decimal(str(round(ctx.rng.uniform(*g.price), 2))) for g, _ in picks]
    goods = sum((p * q for p, (_, q) in zip(prices, picks, strict=True)), Decimal(0))
    if target_cny is None:
        cap = ctx.per_tx_cny * Decimal("0.9")
        if goods + extra_cny <= cap:
            return prices
        target_cny = cap * Decimal(str(round(ctx.rng.uniform(0.4, 0.95), 3)))
    factor = max(target_cny - extra_cny, Decimal(1)) / goods
    return [max(_CENT, _round(p * factor)) for p in prices]


def cbec(
    ctx: Context,
    *,
    status: int | None,
    route: Route | None = None,
    want_selected: bool = False,
    buyer: tuple[str, str] | None = None,
    target_cny: Decimal | None = None,
    extra_good: Good | None = None,
    divisible: bool | None = None,
    tax_off: Decimal = Decimal(0),
) -> Filed:
    """File a consistent CBEC import set (order, payment, waybill, inventory) and its receipts.

    ``status`` None files no receipt; ``target_cny`` aims the dutiable value (else it stays
    under the per-transaction limit); ``extra_good`` adds a line of that article;
    ``divisible`` False files one single item, True at least two pieces (None: as drawn);
    ``tax_off`` is
    added to the tax the rules give (a filer's wrong taxTotal, paid as filed).
    """
    rng, n = ctx.rng, ctx.next_doc()
    ps = parcel_set(n, rng, ctx.release_status)
    route = route or rng.choice((Route.IMPORT_9610, Route.IMPORT_1210))
    goods = clean_goods(ctx, CBEC_GOODS)
    picks = [(rng.choice(goods), rng.randint(1, 3)) for _ in range(rng.choice((1, 1, 1, 2)))]
    if extra_good is not None:
        picks.append((extra_good, 1))
    if divisible is False:
        picks = picks[:1]
        picks[0] = (picks[0][0], 1)
    elif divisible and sum(q for _, q in picks) < 2:
        picks[0] = (picks[0][0], 2)
    freight = ps.order.freight or Decimal(0)
    discount = Decimal(rng.choice((0, 0, 0, 5, 10)))
    prices = _priced(ctx, picks, freight * ctx.cny_rate, target_cny)
    prices = [p / ctx.cny_rate for p in prices] if ctx.cny_rate != 1 else prices
    lines = tuple(
        GoodsLine(
            gnum=i,
            hs_code=g.hs,
            name=g.name,
            model=g.model,
            qty=Decimal(q),
            unit="007",
            price=p,
            total_price=p * q,
            currency="142",
            origin="502",
        )
        for i, ((g, q), p) in enumerate(zip(picks, prices, strict=True), 1)
    )
    goods_value = sum((line.total_price or Decimal(0) for line in lines), Decimal(0))
    tax = max(Decimal(0), cbec_tax(lines, freight, ctx.rules.source.tax) + tax_off)
    discount = min(discount, goods_value + freight + tax)
    paid = goods_value + freight + tax - discount
    weight = _CARTON_KG + sum((g.unit_kg * q for g, q in picks), Decimal(0))
    ebc = ctx.enterprise_for(want_selected)
    agent = ps.inventory.agent_code

    def make(salt: int) -> str:
        return f"YT{n:09d}{salt:03d}"

    code, selected = ctx.pick_code(make, ebc, agent, want_selected)
    buyer_id, buyer_name = buyer or (ps.order.buyer_id_number, ps.order.buyer_name)
    order = replace(
        ps.order,
        ebc_code=ebc,
        goods_value=goods_value,
        freight=freight,
        discount=discount,
        tax_total=tax,
        actural_paid=paid,
        consignee=buyer_name,
        lines=lines,
        buyer_id_number=buyer_id,
        buyer_name=buyer_name,
    )
    payment = replace(ps.payment, amount_paid=paid, payer_id_number=buyer_id, payer_name=buyer_name)
    waybill = replace(
        ps.waybill,
        logistics_no=code,
        business_key=f"LOG001:{code}",
        gross_weight_kg=weight,
        consignee=buyer_name,
        extra={"goodsInfo": "、".join(g.name for g, _ in picks)},
    )
    mode = "1210" if route is Route.IMPORT_1210 else "9610"
    inventory = replace(
        ps.inventory,
        ebc_code=ebc,
        logistics_no=code,
        lines=lines,
        freight=freight,
        country="142" if mode == "1210" else "502",
        extra=bonded_extra(mode, n),
        trade_mode=mode,
        gross_weight_kg=weight,
        net_weight_kg=weight - _CARTON_KG,
        buyer_id_number=buyer_id,
        buyer_name=buyer_name,
    )
    filed = Filed(
        code,
        route,
        weight,
        _chapters(lines),
        content_items(picks),
        ctx.cny(goods_value + freight, "142"),
        selected,
        [order, payment, waybill, inventory],
    )
    filed.single_item = len(lines) == 1 and lines[0].qty == 1
    if status is not None:
        filed.receipts = _receipts(ctx, replace(ps.receipt, return_status=status), status)
    return filed


def export(ctx: Context, *, status: int | None) -> Filed:
    """File a 9610 retail export inventory (CEB603) with its CEB604 receipt."""
    rng, n = ctx.rng, ctx.next_doc()
    ps = parcel_set(n, rng, ctx.release_status)
    goods = clean_goods(ctx, CBEC_GOODS)
    picks = [(rng.choice(goods), rng.randint(1, 3)) for _ in range(rng.choice((1, 1, 2)))]
    prices = [Decimal(str(round(rng.uniform(*g.price), 2))) for g, _ in picks]
    lines = tuple(
        GoodsLine(
            gnum=i,
            hs_code=g.hs,
            name=g.name,
            model=g.model,
            qty=Decimal(q),
            unit="007",
            price=p,
            total_price=p * q,
            currency="142",
            origin="142",
        )
        for i, ((g, q), p) in enumerate(zip(picks, prices, strict=True), 1)
    )
    weight = _CARTON_KG + sum((g.unit_kg * q for g, q in picks), Decimal(0))
    inv = ps.inventory
    code, selected = ctx.pick_code(
        lambda s: f"SF{n:09d}{s:03d}", inv.ebc_code, inv.agent_code, False
    )
    decl = Declaration(
        kind=DocKind.EXPORT_INVENTORY,
        message_type="CEB603",
        business_key=inv.business_key,
        order_no=inv.order_no,
        logistics_no=code,
        cop_no=inv.cop_no,
        invt_no=inv.invt_no,
        ebp_code=inv.ebp_code,
        ebc_code=inv.ebc_code,
        logistics_code=inv.logistics_code,
        agent_code=inv.agent_code,
        trade_mode="9610",
        ie_flag="E",
        decl_time=inv.decl_time,
        currency="142",
        gross_weight_kg=weight,
        net_weight_kg=weight - _CARTON_KG,
        country=rng.choice(("502", "303", "116", "133")),
        lines=lines,
    )
    filed = Filed(
        code,
        Route.EXPORT_9610,
        weight,
        _chapters(lines),
        content_items(picks),
        None,
        selected,
        [decl],
    )
    if status is not None:
        receipt = replace(ps.receipt, message_type="CEB604", kind=DocKind.EXPORT_INVENTORY)
        filed.receipts = _receipts(ctx, receipt, status)
    return filed


def postal(
    ctx: Context, *, status: int | None, over_limit: bool = False, country: str | None = None
) -> Filed:
    """File one postal item (CN22/CN23 data, S10 id) and its postal receipt.

    ``over_limit`` puts its value above the rules' postal limit for its country (and never
    files documents); ``country`` picks the sender's country (else drawn).
    """
    rng, n = ctx.rng, ctx.next_doc()
    ps = parcel_set(n, rng, ctx.postal_release_status)
    category = rng.choice(("gift", "sale_of_goods", "commercial_sample", "documents"))
    if over_limit and category == "documents":
        category = "gift"
    goods = clean_goods(ctx, (POSTAL_DOCUMENTS,) if category == "documents" else POSTAL_GOODS)
    picks = [(rng.choice(goods), rng.randint(1, 3)) for _ in range(rng.randint(1, 3))]
    if over_limit and sum(q for _, q in picks) < 2:
        picks[0] = (picks[0][0], 2)  # not a single indivisible item
    currencies = [c for c in POSTAL_CURRENCIES if ctx.rules.to_cny(Decimal(1), c)]
    currency = rng.choice(currencies) if currencies else "CNY"
    share = rng.uniform(1.2, 3.0) if over_limit else rng.uniform(0.1, 0.8)
    limit = ctx.postal_limit_for(country) if country else ctx.postal_limit_cny
    if over_limit and country:  # above its own limit, below the general one where it is lower
        share = rng.uniform(1.02, float(max(ctx.postal_limit_cny / limit, Decimal("1.05"))))
    total_cny = _round(limit * Decimal(str(round(share, 3))))
    total = max(_CENT, _round(total_cny / ctx.cny(Decimal(1), currency)))
    weights = [rng.uniform(1, 3) * q for _, q in picks]
    values = [_round(total * Decimal(str(w / sum(weights)))) for w in weights]
    values[-1] = total - sum(values[:-1], Decimal(0))
    if values[-1] < 0:
        values = [total] + [Decimal(0)] * (len(values) - 1)
    lines = tuple(
        GoodsLine(
            gnum=i,
            hs_code=g.hs,
            name=g.name,
            qty=Decimal(q),
            total_price=v,
            currency=currency,
            origin=rng.choice(("CN", "US", "VN", "DE")),
            net_weight_kg=g.unit_kg * q,
        )
        for i, ((g, q), v) in enumerate(zip(picks, values, strict=True), 1)
    )
    gross = Decimal("0.08") + sum((g.unit_kg * q for g, q in picks), Decimal(0))
    country = country or rng.choice(sorted(SENDERS))
    sender, address, operator = SENDERS[country]
    item_id, selected = ctx.s10(country, want=False)
    decl = Declaration(
        kind=DocKind.POSTAL,
        message_type="CN23" if total > 300 or gross > 2 else "CN22",
        business_key=item_id,
        logistics_no=item_id,
        decl_time=ps.order.decl_time,
        gross_weight_kg=gross,
        goods_value=total,
        currency=currency,
        category=category,
        sender=sender,
        addressee=ps.order.buyer_name,
        consignee_address=ps.order.consignee_address,
        consignee_telephone=ps.order.buyer_telephone,
        buyer_id_number=ps.order.buyer_id_number,
        country=item_id[-2:],
        lines=lines,
        extra={
            "sender.address": address,
            "addressee.country": "CN",
            "operator": operator,
        },
    )
    value = None if category == "documents" else ctx.cny(total, currency)
    filed = Filed(
        item_id,
        Route.POSTAL,
        gross,
        _chapters(lines),
        content_items(picks),
        value,
        selected,
        [decl],
    )
    filed.single_item = len(lines) == 1 and lines[0].qty == 1
    filed.country = decl.country
    if status is not None:
        when = ps.receipt.return_time
        filed.receipts = [
            Receipt(
                message_type="POSTAL",
                kind=DocKind.POSTAL,
                business_key=item_id,
                logistics_no=item_id,
                return_status=status,
                return_time=None if when is None else when + timedelta(minutes=25),
                return_info="放行" if status == ctx.postal_release_status else "查验/暂存",
            )
        ]
    return filed


def _chapters(lines: Sequence[GoodsLine]) -> tuple[str, ...]:
    return tuple(sorted({line.hs_code[:2] for line in lines if line.hs_code}))


def _receipts(ctx: Context, final: Receipt, status: int) -> list[Receipt]:
    """The final receipt, sometimes after an earlier 'accepted, not yet decided' (120) one."""
    info = "放行" if status == ctx.release_status else f"海关状态{status}"
    final = replace(final, return_status=status, return_info=info)
    if ctx.rng.random() < 0.1 and final.return_time is not None:
        early = replace(
            final,
            return_status=120,
            return_info="逻辑校验通过",
            return_time=final.return_time - timedelta(minutes=3),
        )
        return [early, final]
    return [final]
