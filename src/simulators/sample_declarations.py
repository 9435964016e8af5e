"""Seeded generation of consistent CBEC declaration sets (order, payment, waybill, inventory)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from inspection.model import Declaration, DocKind, GoodsLine, Receipt
from inspection.rules import load_rules
from inspection.rules_model import Tax

_GOODS = (
    ("6109100021", "棉制针织T恤衫", "100%棉|男式|L码", Decimal("0.25")),
    ("3304990099", "保湿面霜", "50ml|护肤", Decimal("0.12")),
    ("1901101000", "婴幼儿配方奶粉", "800g|1段", Decimal("0.95")),
    ("6403990090", "运动鞋", "皮革面|42码", Decimal("0.90")),
    ("8517130000", "智能手机", "128GB|含锂电池", Decimal("0.35")),
    ("4202210090", "女式手提包", "牛皮", Decimal("0.70")),
    ("2106909090", "维生素软糖", "60粒/瓶", Decimal("0.20")),
    ("9503008900", "积木玩具", "塑料|8岁以上", Decimal("0.60")),
)
_SURNAMES = "王李张刘陈杨黄赵吴周"
_GIVEN = ("伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "杰")
_CITIES = ("浙江省杭州市西湖区文三路", "广东省广州市天河区体育西路", "上海市浦东新区张江路")
_T0 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ParcelSet:
    """The four documents of one CBEC import parcel and the receipt customs gave it."""

    n: int
    order: Declaration
    payment: Declaration
    waybill: Declaration
    inventory: Declaration
    receipt: Receipt

    def declarations(self) -> tuple[Declaration, ...]:
        """Return the four documents in filing order."""
        return (self.order, self.payment, self.waybill, self.inventory)


@cache
def _default_tax() -> Tax:
    return load_rules().source.tax


def cbec_tax(lines: tuple[GoodsLine, ...], extra: Decimal, table: Tax | None = None) -> Decimal:
    """The CBEC comprehensive tax a filer owes (CNY, to the fen), from a rules tax table.

    ``extra`` (freight + insured fee) is shared out over the lines by value. For each line:
    consumption tax c/(1−c) of the value, VAT v of value plus consumption tax, and
    ``cbec_share`` of the two. The table's rates are data; this is the filer's own sum.
    """
    tax = table or _default_tax()
    goods = sum((line.total_price or Decimal(0) for line in lines), Decimal(0))
    due = Decimal(0)
    for line in lines:
        own = line.total_price or Decimal(0)
        value = own + (extra * own / goods if goods else Decimal(0))
        v, c = tax.default_vat, Decimal(0)
        for n in range(len(line.hs_code), 1, -1):
            rate = tax.by_hs_prefix.get(line.hs_code[:n])
            if rate is not None:
                v, c = rate.vat, rate.consumption
                break
        consumption = value * c / (1 - c)
        due += (consumption + (value + consumption) * v) * tax.cbec_share
    return due.quantize(Decimal("0.01"), ROUND_HALF_UP)


def _id_number(rng: random.Random) -> str:
    return f"{rng.randint(110000, 659999)}19{rng.randint(60, 99)}{rng.randint(1, 12):02d}" + (
        f"{rng.randint(1, 28):02d}{rng.randint(0, 9999):04d}"
    )


def _money(x: float) -> Decimal:
    return Decimal(f"{x:.5f}")


def parcel_set(n: int, rng: random.Random, status: int = 800) -> ParcelSet:
    """Return a consistent document set for parcel ``n`` (amounts with 5 decimals)."""
    lines = []
    weight = Decimal("0.15")  # carton
    for g in range(1, rng.choice((1, 1, 1, 2)) + 1):
        hs, name, model, unit_kg = rng.choice(_GOODS)
        qty = rng.randint(1, 3)
        price = _money(rng.uniform(20, 900))
        lines.append(
            GoodsLine(
                gnum=g,
                hs_code=hs,
                name=name,
                model=model,
                qty=Decimal(qty),
                unit="007",
                price=price,
                total_price=price * qty,
                currency="142",
                origin="502",
            )
        )
        weight += unit_kg * qty
    goods = sum((line.total_price or Decimal(0) for line in lines), Decimal(0))
    freight = _money(rng.choice((0, 8, 10, 15)))
    tax = cbec_tax(tuple(lines), freight)
    paid = goods + freight + tax
    buyer = _SURNAMES[rng.randrange(10)] + rng.choice(_GIVEN)
    buyer_id = _id_number(rng)
    phone = f"1{rng.randint(3, 9)}{rng.randint(0, 999_999_999):09d}"
    order_no, logistics_no, cop_no = f"SO{n:012d}", f"YT{n:012d}", f"C{n:015d}"
    when = _T0 + timedelta(seconds=n)
    common = {"currency": "142", "decl_time": when}
    order = Declaration(
        kind=DocKind.ORDER,
        message_type="CEB311",
        business_key=f"3301960ABC:{order_no}",
        order_no=order_no,
        ebp_code="3301960ABC",
        ebc_code="3301960002",
        goods_value=goods,
        freight=freight,
        discount=Decimal(0),
        tax_total=tax,
        actural_paid=paid,
        buyer_id_type="1",
        buyer_id_number=buyer_id,
        buyer_name=buyer,
        buyer_telephone=phone,
        consignee=buyer,
        consignee_telephone=phone,
        consignee_address=rng.choice(_CITIES),
        lines=tuple(lines),
        **common,  # type: ignore[arg-type]
    )
    payment = Declaration(
        kind=DocKind.PAYMENT,
        message_type="CEB411",
        business_key=f"PAY001:TX{n:012d}",
        order_no=order_no,
        ebp_code="3301960ABC",
        pay_code="PAY001",
        pay_transaction_id=f"TX{n:012d}",
        payer_id_type="1",
        payer_id_number=buyer_id,
        payer_name=buyer,
        amount_paid=paid,
        **common,  # type: ignore[arg-type]
    )
    waybill = Declaration(
        kind=DocKind.WAYBILL,
        message_type="CEB511",
        business_key=f"LOG001:{logistics_no}",
        order_no=order_no,
        logistics_no=logistics_no,
        logistics_code="LOG001",
        freight=freight,
        gross_weight_kg=weight,
        consignee=buyer,
        consignee_telephone=phone,
        consignee_address=order.consignee_address,
        **common,  # type: ignore[arg-type]
    )
    mode = rng.choice(("9610", "1210"))
    inventory = Declaration(
        kind=DocKind.INVENTORY,
        message_type="CEB621",
        business_key=f"AGT001:{cop_no}",
        order_no=order_no,
        logistics_no=logistics_no,
        cop_no=cop_no,
        invt_no=f"I{n:017d}",
        ebp_code="3301960ABC",
        ebc_code="3301960002",
        logistics_code="LOG001",
        agent_code="AGT001",
        trade_mode=mode,
        ie_flag="I",
        buyer_id_type="1",
        buyer_id_number=buyer_id,
        buyer_name=buyer,
        buyer_telephone=phone,
        consignee_address=order.consignee_address,
        freight=freight,
        gross_weight_kg=weight,
        net_weight_kg=weight - Decimal("0.15"),
        country="142" if mode == "1210" else "502",
        lines=tuple(lines),
        extra=bonded_extra(mode, n),
        **common,  # type: ignore[arg-type]
    )
    receipt = Receipt(
        message_type="CEB622",
        kind=DocKind.INVENTORY,
        business_key=inventory.business_key,
        return_status=status,
        return_time=when + timedelta(minutes=5),
        return_info="放行" if status == 800 else "状态更新",
        invt_no=inventory.invt_no,
    )
    return ParcelSet(n, order, payment, waybill, inventory, receipt)


def bonded_extra(mode: str, n: int) -> dict[str, str]:
    """The account book and warehouse enterprise a bonded (1210/1239) list must carry."""
    if mode not in ("1210", "1239"):
        return {}
    return {"emsNo": f"T2921W{n % 1000:06d}", "areaCode": "3301960004", "areaName": "保税仓储"}


def parcel_sets(count: int, seed: int = 1, start: int = 1) -> Iterator[ParcelSet]:
    """Yield ``count`` consistent, released document sets, reproducible from ``seed``."""
    rng = random.Random(seed)
    for n in range(start, start + count):
        yield parcel_set(n, rng)


def with_status(ps: ParcelSet, status: int, info: str = "") -> ParcelSet:
    """Return the set with another customs status on its inventory."""
    return replace(ps, receipt=replace(ps.receipt, return_status=status, return_info=info))
