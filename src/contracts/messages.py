"""Messages besides edge events: inspector verdicts, sync notices and availability."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from contracts.events import WIRE_VERSION, VerdictKind, Wire

__all__ = [
    "Availability",
    "AvailabilityError",
    "SyncNotice",
    "Verdict",
    "VerdictKind",
    "decode_availability",
    "encode_availability",
]


class Verdict(Wire):
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
    edge_id: str | None = Field(
        None, max_length=64, description="The edge whose item it judges (signed verdicts)."
    )
    issued_at: datetime | None = Field(None, description="When the hub signed it (UTC).")
    expires_at: datetime | None = Field(None, description="Edges refuse it after this (UTC).")
    sig: str | None = Field(None, max_length=128, description="The hub's Ed25519 signature.")


class SyncNotice(Wire):
    """Tells edges that new declarations, statuses or rules are waiting at the hub."""

    v: int = Field(WIRE_VERSION, description="Payload version.")
    site: str = Field(min_length=1, max_length=64, description="Site id.")
    cursor: str = Field(description="The hub's newest sync cursor.")
    at: datetime = Field(description="When (UTC).")


class AvailabilityError(ValueError):
    """An availability payload is neither ``online`` nor ``offline``."""


class Availability(StrEnum):
    """Retained presence payload on an availability topic."""

    ONLINE = "online"
    OFFLINE = "offline"


def encode_availability(state: Availability) -> bytes:
    """Payload bytes of an availability message."""
    return state.value.encode("ascii")


def decode_availability(payload: bytes) -> Availability:
    """Parse an availability payload (``online``/``offline``); raise AvailabilityError otherwise."""
    text = payload.decode("ascii", errors="replace").strip().lower()
    try:
        return Availability(text)
    except ValueError:
        raise AvailabilityError(
            f"availability payload {payload[:32]!r} is neither 'online' nor 'offline'"
        ) from None
