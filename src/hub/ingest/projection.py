"""The parcel projection: which parcel an event belongs to, and folding its events into one row.

The fold is a pure function of the *set* of a parcel's events: it sorts them by time (then by
event id) before reading them, so arrival order and repeated deliveries never change the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from contracts.events import EventKind
from inspection.identity import normalise

#: Kinds that open or update a parcel pass even without a PLC item id (keyed by parcel code).
PARCEL_KINDS = frozenset(
    {
        EventKind.PARCEL_SEEN,
        EventKind.CODE_READ,
        EventKind.WEIGHED,
        EventKind.IMAGED,
        EventKind.DECIDED,
        EventKind.DIVERTED,
        EventKind.CONFIRMED,
    }
)
#: Kinds whose parcel code the edge resolved itself from the parcel's own reads. A verdict the
#: edge applied carries the code the inspector's message claimed: it never files the parcel.
CODE_KINDS = PARCEL_KINDS
#: Kinds that join a pass only when they name its PLC item id; never about a parcel.
NEVER_PARCEL = frozenset({EventKind.DEVICE_STATE})


def parcel_key(
    site: str, edge_id: str, kind: EventKind, item_id: int | None, parcel_code: str | None
) -> str:
    """Return the projection key of an event, or ``""`` when it feeds no parcel row.

    A line pass is ``site/edge_id/item_id``; a pass without a PLC item id (``None`` or 0, a
    manual desk) is ``site/code/PARCEL_CODE`` for the parcel kinds.
    """
    if kind in NEVER_PARCEL:
        return ""
    if item_id:
        return f"{site}/{edge_id}/{item_id}"
    if parcel_code and kind in PARCEL_KINDS:
        return f"{site}/code/{parcel_code}"
    return ""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """The parts of a stored event that the fold reads."""

    event_id: UUID
    kind: str
    at: datetime
    item_id: int | None
    parcel_code: str | None
    data: dict[str, Any]


def _int_or_none(value: object) -> int | None:
    """Return ``value`` when it is an int (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float_or_none(value: object) -> float | None:
    """Return ``value`` as float when it is a number (not a bool), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def fold(events: Iterable[StoredEvent]) -> dict[str, Any]:
    """Fold one parcel's events into the projection's column values (weights kg, latency ms).

    Latest event wins for each fact (weight, decision, confirmation); codes are the union of
    every read in time order; ``first_seen`` is the earliest event time. The parcel code
    comes only from the parcel's own events (``CODE_KINDS``), never from an applied verdict.
    """
    ordered = sorted(events, key=lambda e: (e.at, str(e.event_id)))
    row: dict[str, Any] = {
        "first_seen": None,
        "last_event_at": None,
        "codes": [],
        "read_status": None,
        "weight_kg": None,
        "weight_stable": None,
        "xray": None,
        "outcome": None,
        "reasons": [],
        "rule_set_version": None,
        "declaration_kind": None,
        "declaration_key": None,
        "chute": None,
        "decided_at": None,
        "latency_ms": None,
        "confirmed_chute": None,
        "confirmed_status": None,
        "confirmed_at": None,
        "event_count": len(ordered),
        "parcel_code": None,
    }
    if not ordered:
        return row
    row["first_seen"] = ordered[0].at
    row["last_event_at"] = ordered[-1].at
    codes: list[str] = []
    for ev in ordered:
        if ev.parcel_code and ev.kind in CODE_KINDS:
            row["parcel_code"] = ev.parcel_code
        _apply(row, codes, ev)
    row["codes"] = codes
    if row["parcel_code"] is None and codes:
        row["parcel_code"] = normalise(codes[0])[:64]
    return row


def further_codes(row: Mapping[str, Any]) -> list[str]:
    """The normalised codes of a folded row other than its ``parcel_code`` (a multi-read)."""
    out: list[str] = []
    for raw in row.get("codes") or []:
        code = normalise(raw)[:64]
        if code and code != row.get("parcel_code") and code not in out:
            out.append(code)
    return out


def _apply(row: dict[str, Any], codes: list[str], ev: StoredEvent) -> None:
    """Apply one event (already in time order) to the row being folded."""
    data = ev.data
    kind = ev.kind
    if kind == EventKind.CODE_READ:
        row["read_status"] = data.get("status")
        for code in data.get("codes") or []:
            if isinstance(code, str) and code not in codes:
                codes.append(code)
    elif kind == EventKind.WEIGHED:
        row["weight_kg"] = _float_or_none(data.get("weight_kg"))
        row["weight_stable"] = bool(data.get("stable"))
    elif kind == EventKind.IMAGED:
        prescreen = data.get("prescreen")
        row["xray"] = prescreen if isinstance(prescreen, str) and prescreen else "captured"
    elif kind == EventKind.VERDICT_APPLIED:
        row["xray"] = f"verdict:{data.get('verdict')}"
    elif kind == EventKind.DECIDED:
        row["outcome"] = data.get("outcome")
        row["reasons"] = [str(r) for r in data.get("reasons") or []]
        row["rule_set_version"] = data.get("rule_set_version")
        row["declaration_kind"] = data.get("declaration_kind")
        row["declaration_key"] = data.get("declaration_key")
        row["chute"] = _int_or_none(data.get("chute"))
        row["latency_ms"] = _float_or_none(data.get("latency_ms"))
        row["decided_at"] = ev.at
    elif kind == EventKind.DIVERTED:
        row["chute"] = _int_or_none(data.get("chute"))
    elif kind == EventKind.CONFIRMED:
        row["confirmed_chute"] = _int_or_none(data.get("chute"))
        row["confirmed_status"] = data.get("status")
        row["confirmed_at"] = ev.at
