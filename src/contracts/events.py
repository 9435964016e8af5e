"""The edge → hub event: one envelope and one versioned payload model per event kind.

The edge and the desk build an event with ``edge_event(...)`` from a typed payload; the
hub reads the envelope with ``EdgeEvent.model_validate_json`` and the payload with
``payload_of``. Payload models keep fields beyond this contract as sent, so an older hub
stores what a newer edge adds.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contracts.reasons import Outcome, Reason
from contracts.statuses import ReadStatus, confirm_status_name

#: Version of every edge ↔ hub payload (the ``v`` field).
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
    REQUESTED = "requested"  # the PLC asked for a chute and the edge waits for a fact


class VerdictKind(StrEnum):
    """An inspector's verdict on a parcel's X-ray image or manual inspection."""

    CLEAR = "clear"
    SUSPECT = "suspect"
    HOLD = "hold"


class Wire(BaseModel):
    """Base of every envelope and message: closed and immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EdgeEvent(Wire):
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
    sig: str | None = Field(None, max_length=128, description="The edge's Ed25519 signature.")


# --- payloads, one per kind ---------------------------------------------------------------


class EventPayload(BaseModel):
    """Kind-specific data of an edge event; fields beyond the contract are kept as sent."""

    model_config = ConfigDict(extra="allow", frozen=True)
    KIND: ClassVar[EventKind]


class ParcelSeen(EventPayload):
    """``parcel_seen``: the parcel was inducted; every field is optional."""

    KIND = EventKind.PARCEL_SEEN
    device_id: str | None = Field(None, max_length=64, description="Inducting device.")


class CodeRead(EventPayload):
    """``code_read``: one scanner read cycle."""

    KIND = EventKind.CODE_READ
    device_id: str = Field(min_length=1, max_length=64, description="Scanner id.")
    status: ReadStatus = Field(description="OK, NOREAD or MULTI.")
    codes: list[str] = Field(default_factory=list, max_length=32, description="Codes read.")


class Weighed(EventPayload):
    """``weighed``: a weight in kg (None when the scale could not weigh) and its stability."""

    KIND = EventKind.WEIGHED
    device_id: str = Field(min_length=1, max_length=64, description="Scale id.")
    weight_kg: float | None = Field(ge=0, le=100_000, description="Weight, kg.")
    stable: bool = Field(description="True when the scale reported a stable weight.")
    flags: list[str] = Field(default_factory=list, description="Scale status flags, sorted.")
    detail: str = Field("", max_length=1000, description="How the weight was got, in words.")


class Imaged(EventPayload):
    """``imaged``: an X-ray image was captured, with the pre-screen result when known."""

    KIND = EventKind.IMAGED
    device_id: str = Field(min_length=1, max_length=64, description="X-ray machine id.")
    prescreen: str | None = Field(None, max_length=32, description="clear, suspect, ...")
    state: str | None = Field(None, max_length=32, description="The image's X-ray state.")
    flags: list[str] = Field(default_factory=list, description="Pre-screen flags.")
    score: float | None = Field(None, description="Pre-screen score, 0..1.")


class Decided(EventPayload):
    """``decided``: the decision and the chute (line) or area (desk) it maps to."""

    KIND = EventKind.DECIDED
    outcome: Outcome = Field(description="RELEASE, INSPECT, HOLD, RETURN or REJECT.")
    reasons: list[Reason] = Field(description="Every reason found, deciding one first.")
    rule_set_version: str = Field(max_length=64, description="Rules file version used.")
    declaration_kind: str | None = Field(None, max_length=32, description="Matched kind.")
    declaration_key: str | None = Field(None, max_length=128, description="Its business key.")
    chute: int | None = Field(None, ge=0, le=65535, description="Chute number.")
    latency_ms: float | None = Field(None, ge=0, description="Decision latency, ms.")
    notes: list[str] = Field(default_factory=list, description="Notes for the supervisor.")
    deadline_ms: int | None = Field(None, ge=0, description="Time the PLC left to answer, ms.")
    area: str | None = Field(None, max_length=64, description="Desk area the parcel goes to.")
    desk: bool = Field(False, description="True when a manual desk decided.")


class Diverted(EventPayload):
    """``diverted``: the reply the edge gave the PLC."""

    KIND = EventKind.DIVERTED
    chute: int = Field(ge=0, le=65535, description="Chute number.")
    reason: int | str = Field(description="Reason index on the reply ring, or its code.")


class Confirmed(EventPayload):
    """``confirmed``: the PLC's divert confirmation; ``status`` is carried by name."""

    KIND = EventKind.CONFIRMED
    chute: int = Field(ge=0, le=65535, description="Chute the PLC reports.")
    status: str = Field(description="diverted, recirculated, no_answer, lost_track, aborted.")

    @field_validator("status", mode="before")
    @classmethod
    def _status_name(cls, value: object) -> str:
        """Accept the PLC's number (0..4) or its name."""
        return confirm_status_name(value)


class DeviceState(EventPayload):
    """``device_state``: a device went online or offline."""

    KIND = EventKind.DEVICE_STATE
    device_id: str = Field(min_length=1, max_length=64, description="Device id.")
    device_kind: str = Field(min_length=1, max_length=32, description="scanner, scale, ...")
    online: bool = Field(description="True when it came online.")
    detail: str = Field("", max_length=1000, description="Why, in words.")


class VerdictApplied(EventPayload):
    """``verdict_applied``: an inspector verdict reached the edge."""

    KIND = EventKind.VERDICT_APPLIED
    verdict_id: UUID = Field(description="Id of the hub's verdict.")
    verdict: VerdictKind = Field(description="clear, suspect or hold.")


class Requested(EventPayload):
    """``requested``: the PLC asked for the item's chute and the edge waits (X-ray, weight)."""

    KIND = EventKind.REQUESTED
    deadline_ms: int = Field(ge=0, description="Time the PLC left to answer, ms.")


class Alarm(EventPayload):
    """``alarm``: late reply, confirmation mismatch, no-read rate, outage, ..."""

    KIND = EventKind.ALARM
    alarm: str = Field(min_length=1, max_length=64, description="Alarm name.")
    detail: str = Field("", max_length=1000, description="What happened, in words.")


#: The payload model of each event kind.
PAYLOAD_MODELS: dict[EventKind, type[EventPayload]] = {
    m.KIND: m
    for m in (
        ParcelSeen,
        CodeRead,
        Weighed,
        Imaged,
        Decided,
        Diverted,
        Confirmed,
        DeviceState,
        VerdictApplied,
        Alarm,
        Requested,
    )
}


def edge_event(
    payload: EventPayload,
    *,
    site: str,
    edge_id: str,
    at: datetime,
    item_id: int | None = None,
    parcel_code: str | None = None,
    event_id: UUID | None = None,
) -> EdgeEvent:
    """Wrap a typed payload in its envelope (a new ``event_id`` unless one is given)."""
    return EdgeEvent(
        event_id=event_id or uuid4(),
        site=site,
        edge_id=edge_id,
        kind=payload.KIND,
        at=at,
        item_id=item_id,
        parcel_code=parcel_code,
        data=payload.model_dump(mode="json"),
    )


def payload_of(event: EdgeEvent) -> EventPayload:
    """Validate an event's ``data`` as its kind's payload; raise pydantic's ValidationError."""
    return PAYLOAD_MODELS[event.kind].model_validate(event.data)


def problems(err: ValidationError) -> str:
    """Name each failing field of a payload and why, without echoing the values."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(payload)'}: {e['msg']}"
        for e in err.errors(include_input=False, include_url=False)
    )
