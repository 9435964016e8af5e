"""Hub tables for filed declarations, their goods lines, customs receipts and status history."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Index, Table, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def _sqlite_text(value: datetime | None) -> str | None:
    """Render a time as SQLite DATETIME text in UTC (the format SQLAlchemy reads back)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (UTC).

    Aware values are converted to UTC before storing; naive values are taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """Return the converter to the driver's form; a direct one to text on SQLite."""
        if dialect.name == "sqlite":
            return _sqlite_text
        return super().bind_processor(dialect)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC (naive ones are taken as UTC already)."""
        if value is None or value.tzinfo is None:
            return value
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored value as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _amount() -> Any:
    """A nullable amount or weight column: Numeric(18, 5)."""
    return Field(default=None, max_digits=18, decimal_places=5)


def _time(nullable: bool = True) -> Any:
    """A UTC timestamp column."""
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable)


class DeclarationRow(SQLModel, table=True):
    """One filed document (order, payment, waybill, inventory, postal item, generic row).

    Identity and phone numbers are stored as filed (the checks need them) and must be
    masked wherever they are shown. ``extra`` holds every other source field as JSON text.
    """

    __tablename__ = "declaration"
    __table_args__ = (UniqueConstraint("kind", "business_key", name="uq_declaration_kind_key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str
    message_type: str
    business_key: str
    order_no: str = Field(default="", index=True)
    logistics_no: str = Field(default="", index=True)
    invt_no: str = Field(default="", index=True)
    cop_no: str = Field(default="", index=True)
    pre_no: str = ""
    ebp_code: str = ""
    ebc_code: str = ""
    ebc_name: str = ""
    logistics_code: str = ""
    agent_code: str = ""
    pay_code: str = ""
    pay_transaction_id: str = ""
    trade_mode: str = ""
    ie_flag: str = ""
    decl_time: datetime | None = _time()
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
    goods_value: Decimal | None = _amount()
    freight: Decimal | None = _amount()
    discount: Decimal | None = _amount()
    tax_total: Decimal | None = _amount()
    actural_paid: Decimal | None = _amount()
    amount_paid: Decimal | None = _amount()
    currency: str = ""
    gross_weight_kg: Decimal | None = _amount()
    net_weight_kg: Decimal | None = _amount()
    country: str = ""
    category: str = ""
    sender: str = ""
    addressee: str = ""
    extra: str = Field(default="{}", sa_type=Text())
    content_hash: str
    customs_status: int | None = None
    status_time: datetime | None = _time()
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)
    source_file: str = ""


class DeclarationLineRow(SQLModel, table=True):
    """One goods line of a declaration; weights in kg, amounts in the line's currency."""

    __tablename__ = "declaration_line"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    declaration_id: uuid.UUID = Field(foreign_key="declaration.id", ondelete="CASCADE", index=True)
    gnum: int
    hs_code: str = ""
    name: str = ""
    model: str = ""
    qty: Decimal | None = _amount()
    unit: str = ""
    price: Decimal | None = _amount()
    total_price: Decimal | None = _amount()
    currency: str = ""
    origin: str = ""
    net_weight_kg: Decimal | None = _amount()


class ReceiptRow(SQLModel, table=True):
    """A customs receipt as filed; linked to its declaration once that is known."""

    __tablename__ = "receipt"
    __table_args__ = (Index("ix_receipt_kind_key", "kind", "business_key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    message_type: str
    kind: str
    business_key: str
    return_status: int
    return_time: datetime | None = _time()
    return_info: str = ""
    invt_no: str = ""
    order_no: str = ""
    logistics_no: str = ""
    guid: str = ""
    content_hash: str = Field(unique=True)
    declaration_id: uuid.UUID | None = Field(
        default=None, foreign_key="declaration.id", ondelete="SET NULL", index=True
    )
    received_at: datetime = _time(nullable=False)
    source_file: str = ""
    from_customs: bool = Field(
        default=True,
        description="Filed through the customs channel; False: stored as information only.",
    )


class StatusHistoryRow(SQLModel, table=True):
    """One event in a declaration's life: filed, amended, or a customs status received."""

    __tablename__ = "status_history"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    declaration_id: uuid.UUID = Field(foreign_key="declaration.id", ondelete="CASCADE", index=True)
    at: datetime = _time(nullable=False)
    event: str  # filed | amended | status
    old_status: int | None = None
    new_status: int | None = None
    content_hash: str = ""
    source_file: str = ""


def table_of(model: type[SQLModel]) -> Table:
    """Return the Core table behind a table model (for bulk Core statements)."""
    table: Any = getattr(model, "__table__")  # noqa: B009  (set by SQLModel at class creation)
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


DECLARATION = table_of(DeclarationRow)
DECLARATION_LINE = table_of(DeclarationLineRow)
RECEIPT = table_of(ReceiptRow)
STATUS_HISTORY = table_of(StatusHistoryRow)
