"""Builders of consistent declaration sets for decision tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from contracts.facts import ParcelFacts
from contracts.statuses import XrayState
from inspection.checks import Dossier
from inspection.model import Declaration, DocKind, GoodsLine

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
BUYER_ID = "110101199003071234"


def inventory(n: int = 1, **kw: object) -> Declaration:
    """Return a CEB621 import inventory for parcel ``n`` (1.2 kg, CNY 200 of T-shirts)."""
    base = Declaration(
        kind=DocKind.INVENTORY,
        message_type="CEB621",
        business_key=f"AG001:COP{n:08d}",
        order_no=f"ORD{n:08d}",
        logistics_no=f"YT{n:010d}",
        invt_no=f"INV{n:08d}",
        cop_no=f"COP{n:08d}",
        ebp_code="EBP0001",
        ebc_code="3301960002",
        agent_code="AG001",
        logistics_code="LOG01",
        trade_mode="9610",
        ie_flag="I",
        decl_time=T0,
        buyer_id_number=BUYER_ID,
        buyer_name="张三",
        currency="142",
        freight=Decimal("10.00000"),
        gross_weight_kg=Decimal("1.200"),
        net_weight_kg=Decimal("1.000"),
        lines=(
            GoodsLine(
                gnum=1,
                hs_code="6109100021",
                name="棉制针织T恤衫",
                qty=Decimal(2),
                unit="011",
                price=Decimal("95.00000"),
                total_price=Decimal("190.00000"),
                currency="142",
            ),
        ),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def order(n: int = 1, **kw: object) -> Declaration:
    """Return the CEB311 order matching ``inventory(n)``: paid 218.20 = 190 + 10 freight +
    18.20 tax (9.1 % of 200: VAT 13 % at 70 %)."""
    base = Declaration(
        kind=DocKind.ORDER,
        message_type="CEB311",
        business_key=f"EBP0001:ORD{n:08d}",
        order_no=f"ORD{n:08d}",
        ebp_code="EBP0001",
        ebc_code="3301960002",
        goods_value=Decimal("190.00000"),
        freight=Decimal("10.00000"),
        discount=Decimal(0),
        tax_total=Decimal("18.20"),
        actural_paid=Decimal("218.20000"),
        currency="142",
        buyer_id_number=BUYER_ID,
        buyer_name="张三",
        consignee="张三",
        decl_time=T0,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def payment(n: int = 1, **kw: object) -> Declaration:
    """Return the CEB411 payment matching ``order(n)``."""
    base = Declaration(
        kind=DocKind.PAYMENT,
        message_type="CEB411",
        business_key=f"PAY01:TX{n:08d}",
        order_no=f"ORD{n:08d}",
        pay_code="PAY01",
        pay_transaction_id=f"TX{n:08d}",
        ebp_code="EBP0001",
        payer_id_number=BUYER_ID,
        payer_name="张三",
        amount_paid=Decimal("218.20000"),
        currency="142",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def waybill(n: int = 1, **kw: object) -> Declaration:
    """Return the CEB511 waybill matching ``inventory(n)``."""
    base = Declaration(
        kind=DocKind.WAYBILL,
        message_type="CEB511",
        business_key=f"LOG01:YT{n:010d}",
        order_no=f"ORD{n:08d}",
        logistics_no=f"YT{n:010d}",
        logistics_code="LOG01",
        consignee="张三",
        gross_weight_kg=Decimal("1.200"),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def dossier(n: int = 1, **parts: Declaration | None) -> Dossier:
    """Return a complete, consistent dossier; pass order=/payment=/waybill=/declaration= to vary."""
    return Dossier(
        declaration=parts.get("declaration") or inventory(n),
        order=parts["order"] if "order" in parts else order(n),
        payment=parts["payment"] if "payment" in parts else payment(n),
        waybill=parts["waybill"] if "waybill" in parts else waybill(n),
        annual_total_cny=Decimal("200"),
    )


def good_facts(**kw: object) -> ParcelFacts:
    """Return facts of a parcel that measured well: 1.2 kg stable, X-ray cleared."""
    base = ParcelFacts(weight_kg=1.2, weight_stable=True, xray=XrayState.CLEARED)
    return replace(base, **kw)  # type: ignore[arg-type]


def purchase(n: int, goods: Decimal, qty: int = 2, **inv: object) -> list[Declaration]:
    """A consistent order, payment, waybill and list for ``goods`` CNY of T-shirts + 10 freight.

    Tax at the default VAT only: (goods + 10) x 13 % x 70 %, rounded half-up to the fen.
    """
    tax = ((goods + 10) * Decimal("0.13") * Decimal("0.7")).quantize(
        Decimal("0.01"), "ROUND_HALF_UP"
    )
    paid = goods + 10 + tax
    line = GoodsLine(1, "6109100021", "棉制针织T恤衫", qty=Decimal(qty), total_price=goods)
    return [
        order(n, goods_value=goods, tax_total=tax, actural_paid=paid),
        payment(n, amount_paid=paid),
        waybill(n),
        inventory(n, lines=(line,), **inv),
    ]
