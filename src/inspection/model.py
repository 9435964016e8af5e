"""Declarations, goods lines and customs receipts as parsed from any supported format."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class DocKind(StrEnum):
    """Kind of filed document; with the business key it identifies a declaration."""

    ORDER = "order"  # CEB311
    PAYMENT = "payment"  # CEB411
    WAYBILL = "waybill"  # CEB511
    INVENTORY = "inventory"  # CEB621 import inventory list (the parcel-level declaration)
    EXPORT_INVENTORY = "export_inventory"  # CEB603
    POSTAL = "postal"  # CN22/CN23 item data
    GENERIC = "generic"  # generic CSV


#: Kinds that are a parcel's own declaration (what a scanned parcel is matched against).
PARCEL_KINDS = frozenset(
    {DocKind.INVENTORY, DocKind.EXPORT_INVENTORY, DocKind.POSTAL, DocKind.GENERIC}
)
#: Kinds whose messages have no goods list: the payment (CEB411: a ``PaymentHead`` only) and
#: the waybill (CEB511: a ``LogisticsHead`` only); the hub refuses such a record with lines.
LINELESS_KINDS = frozenset({DocKind.PAYMENT, DocKind.WAYBILL})


@dataclass(frozen=True, slots=True)
class GoodsLine:
    """One goods line of a declaration; weights in kg, amounts in the line's currency."""

    gnum: int
    hs_code: str = ""
    name: str = ""
    model: str = ""
    qty: Decimal | None = None
    unit: str = ""
    price: Decimal | None = None
    total_price: Decimal | None = None
    currency: str = ""
    origin: str = ""
    net_weight_kg: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Declaration:
    """One filed document (order, payment, waybill, inventory, postal item, generic row).

    Amounts are in ``currency`` (CEB code 142 = CNY); weights are in kg. Fields a format
    does not carry stay empty (``""`` or ``None``); ``extra`` keeps every other source field.
    """

    kind: DocKind
    message_type: str  # "CEB621", "CEB311", "CN23", "GENERIC", ...
    business_key: str  # unique per kind, see docs/formats.md
    order_no: str = ""
    logistics_no: str = ""
    invt_no: str = ""
    cop_no: str = ""
    pre_no: str = ""
    ebp_code: str = ""
    ebc_code: str = ""
    ebc_name: str = ""
    logistics_code: str = ""
    agent_code: str = ""
    pay_code: str = ""
    pay_transaction_id: str = ""
    trade_mode: str = ""  # 9610 | 1210 | 9710 | 9810
    ie_flag: str = ""  # I | E
    decl_time: datetime | None = None
    buyer_id_type: str = ""
    buyer_id_number: str = ""
    buyer_name: str = ""
    buyer_telephone: str = ""
    payer_id_type: str = ""
    payer_id_number: str = ""
    payer_name: str = ""
    consignee: str = ""
    consignee_telephone: str = ""
    consignee_address: str = ""
    goods_value: Decimal | None = None
    freight: Decimal | None = None
    discount: Decimal | None = None
    tax_total: Decimal | None = None
    actural_paid: Decimal | None = None
    amount_paid: Decimal | None = None
    currency: str = ""
    gross_weight_kg: Decimal | None = None
    net_weight_kg: Decimal | None = None
    country: str = ""
    category: str = (
        ""  # postal: gift, documents, commercial_sample, returned_goods, sale_of_goods, other
    )
    sender: str = ""
    addressee: str = ""
    lines: tuple[GoodsLine, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Receipt:
    """A customs receipt: the status customs gave one declaration at one time."""

    message_type: str  # "CEB622", "CEB312", "POSTAL", ...
    kind: DocKind  # kind of the declaration it answers
    business_key: str  # business key of that declaration
    return_status: int
    return_time: datetime | None = None
    return_info: str = ""
    invt_no: str = ""
    order_no: str = ""
    logistics_no: str = ""
    guid: str = ""


@dataclass(frozen=True, slots=True)
class Notice:
    """A message that is read and kept but sets no declaration's customs status by itself.

    Logistics status (CEB513), list cancellation and consumer return requests (CEB623,
    CEB625), customs' answers to them (CEB624, CEB626) and a message refused by schema
    (CEB900, which names that message by its ``guid`` in ``fields``; ``business_key`` empty).
    ``business_key`` is the list's ``agentCode:copNo`` (the waybill's
    ``logisticsCode:logisticsNo`` for CEB513);
    ``status`` is the logistics status or the receipt's ``returnStatus`` text.
    """

    message_type: str
    business_key: str
    invt_no: str = ""
    order_no: str = ""
    logistics_no: str = ""
    status: str = ""
    time: datetime | None = None
    info: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def refusal(self) -> str:
        """For a CEB900 (a message refused by schema): the alarm naming that message, else ""."""
        if self.message_type != "CEB900":
            return ""
        named = self.fields.get("guid", "")
        kind = self.fields.get("oriMessageType", "")
        what = f"{kind} message {named}" if kind else f"message {named}"
        return f"customs refused {what} by schema (status {self.status}): {self.info}".strip()

    @property
    def accepted(self) -> bool:
        """True for a receipt (CEB624/626) whose returnStatus is 800: the request stands."""
        return self.message_type in ("CEB624", "CEB626") and self.status == "800"


@dataclass(frozen=True, slots=True)
class RecordError:
    """Why one record of a file was rejected: 1-based record index, field and reason."""

    index: int
    field: str
    reason: str


class Prebuilt:
    """Base of a record a caller's own builder made straight from a file (database rows, say).

    Readers yield these only when handed such a builder; see
    :class:`~inspection.formats.ceb_build.DeclarationBuilder`.
    """

    __slots__ = ()


class Passed(Prebuilt):
    """A record a reader was asked to pass over: counted, its content not read."""

    __slots__ = ()


#: The one :class:`Passed` readers yield.
PASSED = Passed()


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    """One record read from a file: a declaration, a receipt, or the error that rejected it."""

    index: int  # 1-based position of the record in its file
    item: Declaration | Receipt | Notice | RecordError | Prebuilt


class FormatError(ValueError):
    """A file is not the format it claims (or none we read); it is rejected whole."""
