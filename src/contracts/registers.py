"""The checkweigher and sorter PLC register maps as data (DESIGN §6).

Every address is a 0-based Modbus wire address (what goes in the request PDU), unit 1,
holding registers. A u32 or float32 spans two registers, high word first unless a device
profile says ``word_order: little``. Rings hold 16 slots; ``head`` counts the entries
posted (u16, wraps) and slot ``k`` holds entry ``head - 1`` when ``k = (head - 1) mod 16``.
The codecs that read and write these maps live in ``devices.modbus_maps``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

WordOrder = Literal["big", "little"]
FieldKind = Literal["u16", "u32", "f32"]
Owner = Literal["device", "plc", "edge"]

U16_MOD = 0x1_0000
U32_MAX = 0xFFFF_FFFF
RING_SLOTS = 16
#: Most registers one read (function 3) may return; one write (function 16) may carry 123.
MAX_READ_COUNT = 125
MAX_WRITE_COUNT = 123
#: Modbus unit id of the checkweigher and of the sorter PLC.
UNIT_ID = 1

WIDTH: dict[FieldKind, int] = {"u16": 1, "u32": 2, "f32": 2}


@dataclass(frozen=True, slots=True)
class RegisterField:
    """One scalar field of a register map."""

    name: str
    address: int
    kind: FieldKind
    owner: Owner
    description: str

    @property
    def width(self) -> int:
        """Return the number of registers the field spans."""
        return WIDTH[self.kind]


@dataclass(frozen=True, slots=True)
class Ring:
    """A 16-slot ring: its head register, first slot register and per-slot fields."""

    name: str
    head_address: int
    base_address: int
    slot_fields: tuple[tuple[str, FieldKind], ...]
    owner: Owner
    description: str

    @property
    def slot_width(self) -> int:
        """Return the number of registers in one slot."""
        return sum(WIDTH[kind] for _, kind in self.slot_fields)

    @property
    def end_address(self) -> int:
        """Return the last register address of the ring (inclusive)."""
        return self.base_address + RING_SLOTS * self.slot_width - 1

    def slot_address(self, slot: int) -> int:
        """Return the first register address of ``slot`` (0..15)."""
        if not 0 <= slot < RING_SLOTS:
            raise ValueError(f"ring slot {slot} is outside 0..15")
        return self.base_address + slot * self.slot_width

    def field_offset(self, name: str) -> int:
        """Return the offset of a slot field from the start of its slot, in registers."""
        offset = 0
        for fname, kind in self.slot_fields:
            if fname == name:
                return offset
            offset += WIDTH[kind]
        raise KeyError(f"ring {self.name} has no field {name!r}")


# --- checkweigher ---------------------------------------------------------------------------

CHECKWEIGHER_FIELDS: tuple[RegisterField, ...] = (
    RegisterField("weight_kg", 0, "f32", "device", "last weight, kg"),
    RegisterField(
        "status",
        2,
        "u16",
        "device",
        "status bits: 0 stable, 1 motion, 2 overload, 3 underload, 4 zero error",
    ),
    RegisterField("item_id", 3, "u32", "device", "item_id of that weighing"),
    RegisterField("weigh_seq", 5, "u16", "device", "+1 per weighed item (wraps)"),
)
CHECKWEIGHER_REGISTER_COUNT = 6

#: The checkweigher's ring of the last 16 weighings (head = weighings posted, wraps).
WEIGH_RING = Ring(
    "weigh",
    10,
    11,
    (("item_id", "u32"), ("weight_kg", "f32"), ("status", "u16")),
    "device",
    "weighings: item_id, weight in kg, status bits as register 2",
)

#: Checkweigher status bit number -> flag name carried by ``WeightMeasured.flags``.
STATUS_BITS: dict[int, str] = {
    0: "stable",
    1: "motion",
    2: "overload",
    3: "underload",
    4: "zero_error",
}

# --- sorter PLC -----------------------------------------------------------------------------

PLC_HEARTBEAT = RegisterField("plc_heartbeat", 0, "u16", "plc", "+1 at least every 100 ms")
PLC_STATE = RegisterField("plc_state", 1, "u16", "plc", "0 stopped, 1 running, 2 e-stop, 3 fault")
EDGE_HEARTBEAT = RegisterField("edge_heartbeat", 2, "u16", "edge", "+1 at least every 100 ms")

REQUEST_RING = Ring(
    "request",
    10,
    11,
    (("item_id", "u32"), ("deadline_ms", "u16")),
    "plc",
    "destination requests: item_id, time left to the decision point in ms",
)
REPLY_RING = Ring(
    "reply",
    60,
    61,
    (("item_id", "u32"), ("chute", "u16"), ("reason", "u16")),
    "edge",
    "destination replies: item_id, chute, index of the first reason (0 = none)",
)
CONFIRM_RING = Ring(
    "confirm",
    130,
    131,
    (("item_id", "u32"), ("chute", "u16"), ("status", "u16")),
    "plc",
    "divert confirmations: item_id, chute, status",
)
PLC_FIELDS: tuple[RegisterField, ...] = (PLC_HEARTBEAT, PLC_STATE, EDGE_HEARTBEAT)
PLC_RINGS: tuple[Ring, ...] = (REQUEST_RING, REPLY_RING, CONFIRM_RING)
PLC_REGISTER_COUNT = CONFIRM_RING.end_address + 1  # 195: addresses 0..194

#: The two reads that cover the whole PLC map (each within the 125-register limit).
PLC_READ_BLOCKS: tuple[tuple[int, int], ...] = (
    (0, REPLY_RING.end_address + 1),
    (CONFIRM_RING.head_address, CONFIRM_RING.end_address + 1 - CONFIRM_RING.head_address),
)


def edge_writable(address: int, count: int) -> bool:
    """Return True when every register of ``address..address+count-1`` is edge-owned."""
    regs = range(address, address + count)
    edge = {EDGE_HEARTBEAT.address, *range(REPLY_RING.head_address, REPLY_RING.end_address + 1)}
    return count > 0 and all(r in edge for r in regs)


def plc_register_table() -> Iterator[tuple[int, int, Owner, str, str]]:
    """Yield (first, last, owner, field, type) for every documented PLC register range."""
    for f in PLC_FIELDS:
        yield f.address, f.address + f.width - 1, f.owner, f.name, f.kind
    for ring in PLC_RINGS:
        yield ring.head_address, ring.head_address, ring.owner, f"{ring.name}_head", "u16"
        kinds = ", ".join(f"{n} {k}" for n, k in ring.slot_fields)
        yield ring.base_address, ring.end_address, ring.owner, f"{ring.name} ring", kinds
