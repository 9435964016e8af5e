"""Request and response bodies for declarations, receipts and import reports."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from inspection.model import Declaration, DocKind, GoodsLine, Receipt

_TEXT = 512


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GoodsLineCreate(_In):
    """One goods line as filed; weights in kg, amounts in the line's currency."""

    gnum: int = Field(ge=1, le=999_999, description="Line number, 1-based.")
    hs_code: str = Field("", max_length=16, description="HS code (digits).")
    name: str = Field("", max_length=_TEXT)
    model: str = Field("", max_length=_TEXT)
    qty: Decimal | None = None
    unit: str = Field("", max_length=16)
    price: Decimal | None = None
    total_price: Decimal | None = None
    currency: str = Field("", max_length=8)
    origin: str = Field("", max_length=8)
    net_weight_kg: Decimal | None = None

    def to_domain(self) -> GoodsLine:
        """Return the parsed-form goods line."""
        return GoodsLine(**self.model_dump())


class DeclarationCreate(_In):
    """One declaration filed as JSON; mirrors ``inspection.model.Declaration``."""

    kind: DocKind
    message_type: str = Field(min_length=1, max_length=16, examples=["CEB621"])
    business_key: str = Field(min_length=1, max_length=128, examples=["AG001:COP00000001"])
    order_no: str = Field("", max_length=64)
    logistics_no: str = Field("", max_length=64)
    invt_no: str = Field("", max_length=64)
    cop_no: str = Field("", max_length=64)
    pre_no: str = Field("", max_length=64)
    ebp_code: str = Field("", max_length=32)
    ebc_code: str = Field("", max_length=32)
    ebc_name: str = Field("", max_length=_TEXT)
    logistics_code: str = Field("", max_length=32)
    agent_code: str = Field("", max_length=32)
    pay_code: str = Field("", max_length=32)
    pay_transaction_id: str = Field("", max_length=64)
    trade_mode: str = Field("", max_length=8)
    ie_flag: str = Field("", max_length=1)
    decl_time: datetime | None = None
    buyer_id_type: str = Field("", max_length=8)
    buyer_id_number: str = Field("", max_length=64)
    buyer_name: str = Field("", max_length=_TEXT)
    buyer_telephone: str = Field("", max_length=32)
    payer_id_type: str = Field("", max_length=8)
    payer_id_number: str = Field("", max_length=64)
    payer_name: str = Field("", max_length=_TEXT)
    consignee: str = Field("", max_length=_TEXT)
    consignee_telephone: str = Field("", max_length=32)
    consignee_address: str = Field("", max_length=_TEXT)
    goods_value: Decimal | None = None
    freight: Decimal | None = None
    discount: Decimal | None = None
    tax_total: Decimal | None = None
    actural_paid: Decimal | None = None
    amount_paid: Decimal | None = None
    currency: str = Field("", max_length=8)
    gross_weight_kg: Decimal | None = None
    net_weight_kg: Decimal | None = None
    country: str = Field("", max_length=8)
    category: str = Field("", max_length=32)
    sender: str = Field("", max_length=_TEXT)
    addressee: str = Field("", max_length=_TEXT)
    lines: list[GoodsLineCreate] = Field(default_factory=list, max_length=1000)
    extra: dict[str, str] = Field(default_factory=dict, max_length=200)

    def to_domain(self) -> Declaration:
        """Return the parsed-form declaration the importer stores."""
        values: dict[str, Any] = {
            k: v for k, v in self.model_dump().items() if k not in ("lines", "extra")
        }
        return Declaration(
            **values,
            lines=tuple(line.to_domain() for line in self.lines),
            extra=dict(self.extra),
        )


class ReceiptCreate(_In):
    """One customs receipt filed as JSON; mirrors ``inspection.model.Receipt``."""

    message_type: str = Field(min_length=1, max_length=16, examples=["CEB622"])
    kind: DocKind
    business_key: str = Field(min_length=1, max_length=128)
    return_status: int = Field(ge=-999, le=999, examples=[800])
    return_time: datetime | None = None
    return_info: str = Field("", max_length=1000)
    invt_no: str = Field("", max_length=64)
    order_no: str = Field("", max_length=64)
    logistics_no: str = Field("", max_length=64)
    guid: str = Field("", max_length=64)

    def to_domain(self) -> Receipt:
        """Return the parsed-form receipt the importer stores."""
        return Receipt(**self.model_dump())


class RejectionPublic(BaseModel):
    """One rejected record: 1-based index, field and reason."""

    index: int
    field: str
    reason: str


class ImportReportPublic(BaseModel):
    """What importing one file (or one JSON body) did."""

    file: str
    format: str
    records_read: int
    accepted: int
    rejected: int
    new: int
    updated: int
    unchanged: int
    receipts_applied: int = 0
    receipts_pending: int = 0
    receipts_linked: int = 0
    receipts_information: int = Field(
        default=0, description="Receipts stored as information: not from the customs channel."
    )
    broken_at: int | None = None
    seconds: float = 0.0
    error: str | None = None
    rejections: list[RejectionPublic] = Field(default_factory=list)
    notices: int = 0
    alarms: list[str] = Field(default_factory=list)


class DeclarationFiled(BaseModel):
    """The answer to filing one declaration: what happened and the stored id."""

    id: uuid.UUID
    outcome: str = Field(description="new, updated or unchanged.")
    report: ImportReportPublic


class DeclarationSummary(BaseModel):
    """A declaration as listed; identity numbers, phones and names are masked."""

    id: uuid.UUID
    kind: str
    message_type: str
    business_key: str
    order_no: str
    logistics_no: str
    invt_no: str
    ebc_code: str
    ebp_code: str
    agent_code: str
    logistics_code: str
    trade_mode: str
    ie_flag: str
    buyer_id_number: str
    buyer_name: str
    buyer_telephone: str
    consignee: str
    consignee_telephone: str
    goods_value: Decimal | None
    currency: str
    gross_weight_kg: Decimal | None
    customs_status: int | None
    status_time: datetime | None
    created_at: datetime
    updated_at: datetime


class DeclarationPage(BaseModel):
    """One page of a declaration list."""

    items: list[DeclarationSummary]
    total: int
    offset: int
    limit: int


class LinePublic(BaseModel):
    """A goods line as shown."""

    gnum: int
    hs_code: str
    name: str
    model: str
    qty: Decimal | None
    unit: str
    price: Decimal | None
    total_price: Decimal | None
    currency: str
    origin: str
    net_weight_kg: Decimal | None


class HistoryPublic(BaseModel):
    """One event in a declaration's life."""

    at: datetime
    event: str
    old_status: int | None
    new_status: int | None
    source_file: str


class ReceiptPublic(BaseModel):
    """A stored customs receipt."""

    id: uuid.UUID
    message_type: str
    kind: str
    business_key: str
    return_status: int
    return_time: datetime | None
    return_info: str
    declaration_id: uuid.UUID | None
    received_at: datetime
    from_customs: bool = Field(
        default=True, description="From the customs channel; false: information only."
    )


class NoticePublic(BaseModel):
    """A notice about the declaration: logistics status, cancellation, return."""

    message_type: str
    status: str
    time: datetime | None
    info: str
    received_at: datetime


class ReceiptPage(BaseModel):
    """One page of a receipt list."""

    items: list[ReceiptPublic]
    total: int
    offset: int
    limit: int


class DeclarationDetail(BaseModel):
    """One declaration with every field, its lines, status history and receipts.

    Personal numbers are shown only to supervisors and to the owning filer.
    """

    id: uuid.UUID
    masked: bool
    fields: dict[str, Any]
    extra: dict[str, str]
    lines: list[LinePublic]
    history: list[HistoryPublic]
    receipts: list[ReceiptPublic]
    notices: list[NoticePublic] = Field(default_factory=list)
