"""How the hub validates one raw edge event against the contract (``contracts.events``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from contracts.events import MAX_PAYLOAD_BYTES, WIRE_VERSION, EdgeEvent, payload_of
from inspection.masking import scrub


class EventRejectedError(ValueError):
    """One edge event is too large or does not follow the wire contract."""


def _describe(err: ValidationError, prefix: str = "") -> str:
    """Name every failing field and why, without echoing the values sent."""
    parts = []
    for item in err.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in item["loc"]) or "(payload)"
        parts.append(f"{prefix}{loc}: {item['msg']}")
    return scrub("; ".join(parts))


def checked_data(event: EdgeEvent) -> dict[str, Any]:
    """Validate ``event.data`` for its kind; return it normalised for storage (JSON-ready)."""
    try:
        data = payload_of(event)
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
