"""Domain events that adapters emit: past tense for facts, imperative for commands."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from contracts.statuses import ReadStatus


@dataclass(frozen=True, slots=True)
class BarcodeRead:
    """A scanner finished a read cycle; ``item_id`` is 0 at a manual desk (no PLC)."""

    device_id: str
    item_id: int
    status: ReadStatus
    codes: tuple[str, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class WeightMeasured:
    """A scale or checkweigher weighed an item; ``weight_kg`` is None when it could not."""

    device_id: str
    item_id: int
    weight_kg: float | None
    stable: bool
    at: datetime
    flags: frozenset[str] = field(default_factory=frozenset)  # motion, overload, underload, ...


@dataclass(frozen=True, slots=True)
class ImageCaptured:
    """An X-ray machine published the dual-energy image of an item (PNG bytes)."""

    device_id: str
    item_id: int
    png: bytes
    at: datetime


@dataclass(frozen=True, slots=True)
class DestinationRequested:
    """The PLC asked which chute an item goes to, with time left before its decision point."""

    device_id: str
    item_id: int
    deadline_ms: int
    at: datetime


@dataclass(frozen=True, slots=True)
class SendToChute:
    """Command: answer the PLC with a chute (and the numeric index of the first reason)."""

    item_id: int
    chute: int
    reason: int


@dataclass(frozen=True, slots=True)
class DivertConfirmed:
    """The PLC reported what happened to an item at its chute (0 diverted, 1 lane full, ...)."""

    device_id: str
    item_id: int
    chute: int
    status: int
    at: datetime
    seq: int | None = None  # the confirm ring entry number, when read from the ring


@dataclass(frozen=True, slots=True)
class DeviceStateChanged:
    """A device went online or offline."""

    device_id: str
    kind: str
    online: bool
    at: datetime
    detail: str = ""
