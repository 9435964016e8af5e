"""Versioned payloads between edge and hub: edge events, inspector verdicts, sync notices."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

WIRE_VERSION = 1
#: Largest payload accepted on any Clearline topic or batch item, in bytes.
MAX_PAYLOAD_BYTES = 256 * 1024


class EventKind(StrEnum):
    """What an edge event reports."""

    PARCEL_SEEN = "parcel_seen"  # inducted / first seen on the line (item_id assigned)
    CODE_READ = "code_read"  # a scanner read cycle: status and codes
    WEIGHED = "weighed"  # weight and stability
    IMAGED = "imaged"  # X-ray image captured (+ pre-screen result when known)
    DECIDED = "decided"  # decision: outcome, reasons, rule-set version, chute
    DIVERTED = "diverted"  # the reply the edge gave the PLC (chute, reason index)
    CONFIRMED = "confirmed"  # the PLC's divert confirmation (chute, status)
    DEVICE_STATE = "device_state"  # a device went online / offline
    VERDICT_APPLIED = "verdict_applied"  # an inspector verdict reached the edge
    ALARM = "alarm"  # late reply, confirmation mismatch, no-read rate, outage


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EdgeEvent(_Wire):
    """One fact reported by an edge; ``event_id`` makes it unique however often it is sent."""

    v: int = Field(WIRE_VERSION, description="Payload version.")
    event_id: UUID = Field(description="Unique id, set once by the edge.")
    site: str = Field(min_length=1, max_length=64, description="Site id.")
    edge_id: str = Field(min_length=1, max_length=64, description="Edge (line) id.")
    kind: EventKind = Field(description="What the event reports.")
    at: datetime = Field(description="When it happened (UTC).")
    item_id: int | None = Field(None, ge=0, description="PLC item id of the parcel, if any.")
    parcel_code: str | None = Field(None, max_length=64, description="Resolved parcel code.")
    data: dict[str, Any] = Field(default_factory=dict, description="Kind-specific fields.")


class VerdictKind(StrEnum):
    """An inspector's verdict on a parcel's X-ray image or manual inspection."""

    CLEAR = "clear"
    SUSPECT = "suspect"
    HOLD = "hold"


class Verdict(_Wire):
    """An inspector's verdict, sent down to every edge of the site."""

    v: int = Field(WIRE_VERSION, description="Payload version.")
    verdict_id: UUID = Field(description="Unique id.")
    site: str = Field(min_length=1, max_length=64, description="Site id.")
    parcel_code: str = Field(min_length=1, max_length=64, description="Parcel code.")
    item_id: int | None = Field(None, ge=0, description="PLC item id, when known.")
    verdict: VerdictKind = Field(description="clear, suspect or hold.")
    category: str = Field("", max_length=64, description="Reason category when suspect.")
    inspector: str = Field(min_length=1, max_length=64, description="Who decided.")
    at: datetime = Field(description="When (UTC).")


class SyncNotice(_Wire):
    """Tells edges that new declarations, statuses or rules are waiting at the hub."""

    v: int = Field(WIRE_VERSION, description="Payload version.")
    site: str = Field(min_length=1, max_length=64, description="Site id.")
    cursor: str = Field(description="The hub's newest sync cursor.")
    at: datetime = Field(description="When (UTC).")
