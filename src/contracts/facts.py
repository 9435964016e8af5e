"""The facts the line hands the decision: what it measured of one physical parcel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contracts.reasons import Reason
from contracts.statuses import XrayState


@dataclass(frozen=True, slots=True)
class ParcelFacts:
    """What the line knows of one physical parcel at decision time (weights in kg)."""

    identity_reasons: frozenset[Reason] = frozenset()  # NO_READ, INVALID_CODE, MULTI_READ_CONFLICT
    weight_kg: float | None = None
    weight_stable: bool = False
    xray: XrayState = XrayState.NONE
    inspector_hold: bool = False
    duplicate: bool = False
    device_fault: bool = False
    deadline: datetime | None = None
