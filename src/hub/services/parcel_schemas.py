"""Response models of the parcel list and the parcel timeline (personal data masked)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field


class ParcelSummary(BaseModel):
    """One parcel pass as listed; weight in kg, latency in ms, times UTC."""

    parcel_key: str
    site: str
    edge_id: str
    item_id: int | None
    parcel_code: str | None
    first_seen: datetime | None
    last_event_at: datetime | None
    codes: list[str]
    read_status: str | None
    weight_kg: float | None
    weight_stable: bool | None
    xray: str | None
    outcome: str | None
    reasons: list[str]
    rule_set_version: str | None
    declaration_kind: str | None
    declaration_key: str | None
    chute: int | None
    decided_at: datetime | None
    latency_ms: float | None
    confirmed_chute: int | None
    confirmed_status: str | None
    confirmed_at: datetime | None
    event_count: int


class ParcelPage(BaseModel):
    """One page of parcels, newest first."""

    total: int = Field(description="Parcels matching the filters.")
    limit: int
    offset: int
    items: list[ParcelSummary]


class TimelineEvent(BaseModel):
    """One event of a parcel's story, with a sentence saying what it means."""

    event_id: UUID
    at: datetime
    kind: str
    edge_id: str
    item_id: int | None
    device_id: str | None
    summary: str
    data: dict[str, Any]


class ReasonView(BaseModel):
    """A reason code with its plain words."""

    code: str
    words: str


class DecisionView(BaseModel):
    """The latest decision: outcome, reasons (deciding one first), chute; latency in ms."""

    outcome: str
    outcome_words: str
    reasons: list[ReasonView]
    rule_set_version: str | None
    chute: int | None
    decided_at: datetime | None
    latency_ms: float | None
    notes: list[str]


class ConfirmationView(BaseModel):
    """What the sorter reported at the chute."""

    chute: int | None
    status: str | None
    at: datetime | None


class Comparison(BaseModel):
    """A measured value beside the declared one (``difference`` = measured - declared)."""

    what: str
    unit: str
    measured: float | None
    declared: float | None
    difference: float | None


class LineView(BaseModel):
    """One declared goods line; weight in kg, price in the line's currency."""

    gnum: int
    hs_code: str
    name: str
    qty: Decimal | None
    unit: str
    total_price: Decimal | None
    currency: str
    net_weight_kg: Decimal | None


class DeclarationView(BaseModel):
    """The declaration the parcel matched, identity and phone numbers masked."""

    kind: str
    message_type: str
    business_key: str
    logistics_no: str
    invt_no: str
    order_no: str
    trade_mode: str
    ie_flag: str
    ebc_code: str
    ebc_name: str
    buyer_name: str
    buyer_id_number: str
    buyer_telephone: str
    consignee: str
    consignee_telephone: str
    goods_value: Decimal | None
    currency: str
    gross_weight_kg: Decimal | None
    net_weight_kg: Decimal | None
    customs_status: int | None
    country: str
    category: str
    lines: list[LineView]


class VerdictView(BaseModel):
    """An inspector verdict on the parcel."""

    verdict_id: UUID
    verdict: str
    category: str
    inspector: str
    why: str
    at: datetime
    published: bool


class Timeline(BaseModel):
    """A parcel's whole story: every pass, every event in time order, and what it matched."""

    query: str
    parcel_code: str | None
    passes: list[ParcelSummary]
    events: list[TimelineEvent]
    decision: DecisionView | None
    confirmation: ConfirmationView | None
    verdicts: list[VerdictView]
    declaration: DeclarationView | None
    comparisons: list[Comparison]
