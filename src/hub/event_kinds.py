"""What the ``data`` of each edge event kind must hold, and how one raw event is validated."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from devices.events import ReadStatus
from inspection.masking import scrub
from inspection.reasons import Outcome, Reason
from sorting.wire import MAX_PAYLOAD_BYTES, WIRE_VERSION, EdgeEvent, EventKind, VerdictKind

#: PLC divert-confirmation status numbers (sorter confirm ring) and their names.
CONFIRM_STATUS: dict[int, str] = {
    0: "diverted",
    1: "recirculated",
    2: "no_answer",
    3: "lost_track",
    4: "aborted",
}


class EventRejectedError(ValueError):
    """One edge event is too large or does not follow the wire contract."""


class _Data(BaseModel):
    """Kind-specific data; fields beyond the contract are kept as sent."""

    model_config = ConfigDict(extra="allow")


class ParcelSeenData(_Data):
    """``parcel_seen``: the parcel was inducted; every field is optional."""

    device_id: str | None = Field(None, max_length=64, description="Inducting device.")


class CodeReadData(_Data):
    """``code_read``: one scanner read cycle."""

    device_id: str = Field(min_length=1, max_length=64, description="Scanner id.")
    status: ReadStatus = Field(description="OK, NOREAD or MULTI.")
    codes: list[str] = Field(default_factory=list, max_length=32, description="Codes read.")


class WeighedData(_Data):
    """``weighed``: a weight in kg (None when the scale could not weigh) and its stability."""

    device_id: str = Field(min_length=1, max_length=64, description="Scale id.")
    weight_kg: float | None = Field(ge=0, le=100_000, description="Weight, kg.")
    stable: bool = Field(description="True when the scale reported a stable weight.")


class ImagedData(_Data):
    """``imaged``: an X-ray image was captured, with the pre-screen result when known."""

    device_id: str = Field(min_length=1, max_length=64, description="X-ray machine id.")
    prescreen: str | None = Field(None, max_length=32, description="clear, suspect, ...")


class DecidedData(_Data):
    """``decided``: the decision and the chute it maps to; latency in milliseconds."""

    outcome: Outcome = Field(description="RELEASE, INSPECT, HOLD, RETURN or REJECT.")
    reasons: list[Reason] = Field(description="Every reason found, deciding one first.")
    rule_set_version: str = Field(max_length=64, description="Rules file version used.")
    declaration_kind: str | None = Field(None, max_length=32, description="Matched kind.")
    declaration_key: str | None = Field(None, max_length=128, description="Its business key.")
    chute: int | None = Field(None, ge=0, le=65535, description="Chute number.")
    latency_ms: float | None = Field(None, ge=0, description="Decision latency, ms.")
    notes: list[str] = Field(default_factory=list, description="Notes for the supervisor.")


class DivertedData(_Data):
    """``diverted``: the reply the edge gave the PLC."""

    chute: int = Field(ge=0, le=65535, description="Chute number.")
    reason: int | str = Field(description="Reason index on the reply ring, or its code.")


class ConfirmedData(_Data):
    """``confirmed``: the PLC's divert confirmation; ``status`` is stored by name."""

    chute: int = Field(ge=0, le=65535, description="Chute the PLC reports.")
    status: str = Field(description="diverted, recirculated, no_answer, lost_track, aborted.")

    @field_validator("status", mode="before")
    @classmethod
    def _status_name(cls, value: object) -> str:
        """Accept the PLC's number (0..4) or its name."""
        if isinstance(value, int) and not isinstance(value, bool) and value in CONFIRM_STATUS:
            return CONFIRM_STATUS[value]
        if isinstance(value, str) and value in CONFIRM_STATUS.values():
            return value
        raise ValueError(f"must be 0..4 or one of {sorted(CONFIRM_STATUS.values())}")


class DeviceStateData(_Data):
    """``device_state``: a device went online or offline."""

    device_id: str = Field(min_length=1, max_length=64, description="Device id.")
    device_kind: str = Field(min_length=1, max_length=32, description="scanner, scale, ...")
    online: bool = Field(description="True when it came online.")
    detail: str = Field("", max_length=1000, description="Why, in words.")


class VerdictAppliedData(_Data):
    """``verdict_applied``: an inspector verdict reached the edge."""

    verdict_id: UUID = Field(description="Id of the hub's verdict.")
    verdict: VerdictKind = Field(description="clear, suspect or hold.")


class AlarmData(_Data):
    """``alarm``: late reply, confirmation mismatch, no-read rate, outage, ..."""

    alarm: str = Field(min_length=1, max_length=64, description="Alarm name.")
    detail: str = Field("", max_length=1000, description="What happened, in words.")


DATA_MODELS: dict[EventKind, type[_Data]] = {
    EventKind.PARCEL_SEEN: ParcelSeenData,
    EventKind.CODE_READ: CodeReadData,
    EventKind.WEIGHED: WeighedData,
    EventKind.IMAGED: ImagedData,
    EventKind.DECIDED: DecidedData,
    EventKind.DIVERTED: DivertedData,
    EventKind.CONFIRMED: ConfirmedData,
    EventKind.DEVICE_STATE: DeviceStateData,
    EventKind.VERDICT_APPLIED: VerdictAppliedData,
    EventKind.ALARM: AlarmData,
}


def _describe(err: ValidationError, prefix: str = "") -> str:
    """Name every failing field and why, without echoing the values sent."""
    parts = []
    for item in err.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in item["loc"]) or "(payload)"
        parts.append(f"{prefix}{loc}: {item['msg']}")
    return scrub("; ".join(parts))


def checked_data(event: EdgeEvent) -> dict[str, Any]:
    """Validate ``event.data`` for its kind; return it normalised for storage (JSON-ready)."""
    model = DATA_MODELS[event.kind]
    try:
        data = model.model_validate(event.data)
    except ValidationError as err:
        raise EventRejectedError(f"{event.kind.value} event: {_describe(err, 'data.')}") from None
    out: dict[str, Any] = data.model_dump(mode="json")
    return out


def _check_size(size: int) -> None:
    """Refuse an event whose JSON form is over MAX_PAYLOAD_BYTES (``size`` in bytes)."""
    if size > MAX_PAYLOAD_BYTES:
        raise EventRejectedError(
            f"event of {size} bytes is larger than the {MAX_PAYLOAD_BYTES} byte limit"
        )


def parse_event(
    raw: EdgeEvent | Mapping[str, Any] | bytes | str,
) -> tuple[EdgeEvent, dict[str, Any]]:
    """Validate one raw event (JSON bytes/text, a mapping or a model); raise EventRejectedError.

    Returns the event and its normalised data. A payload over MAX_PAYLOAD_BYTES is refused
    before it is parsed.
    """
    if isinstance(raw, EdgeEvent):
        event = raw
        _check_size(len(raw.model_dump_json().encode("utf-8")))
    else:
        if isinstance(raw, bytes | str):
            body = raw.encode("utf-8") if isinstance(raw, str) else raw
        else:
            try:
                body = json.dumps(raw, separators=(",", ":"), default=str).encode("utf-8")
            except (TypeError, ValueError) as err:
                raise EventRejectedError(f"event is not JSON-serialisable: {err}") from None
        _check_size(len(body))
        try:
            event = EdgeEvent.model_validate_json(body)
        except ValidationError as err:
            raise EventRejectedError(f"not a valid edge event: {_describe(err)}") from None
    if event.v != WIRE_VERSION:
        raise EventRejectedError(
            f"payload version {event.v} is not supported (this hub reads {WIRE_VERSION})"
        )
    return event, checked_data(event)
