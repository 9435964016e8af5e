"""Sans-IO register maps of the checkweigher and the sorter PLC: fields, codecs and rings.

Every address here is a 0-based Modbus wire address (what goes in the request PDU).
Registers are 16-bit words sent big-endian; a u32 or float32 spans two registers whose
order is ``word_order``: ``big`` puts the high word at the lower address, ``little`` the
low word. Nothing in this module does I/O, keeps time or logs.

Rings (PLC request, edge reply, PLC confirm) hold 16 slots. ``head`` counts the entries
posted so far (u16, wraps 65535 -> 0); entry number ``n`` lives in slot ``n mod 16``, so
slot ``k`` holds the newest entry ``head - 1`` when ``k = (head - 1) mod 16``. A writer
fills the slot first and bumps ``head`` last, so a reader never sees a half-written entry.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Generic, Literal, TypeVar

from devices.errors import ProtocolError

WordOrder = Literal["big", "little"]
FieldKind = Literal["u16", "u32", "f32"]
Owner = Literal["device", "plc", "edge"]

U16_MOD = 0x1_0000
U32_MAX = 0xFFFF_FFFF
RING_SLOTS = 16
#: Most registers one read (function 3) may return; one write (function 16) may carry 123.
MAX_READ_COUNT = 125
MAX_WRITE_COUNT = 123

_WIDTH: dict[FieldKind, int] = {"u16": 1, "u32": 2, "f32": 2}


# --- scalar codecs -------------------------------------------------------------------


def _check_word_order(word_order: str) -> None:
    """Refuse a word order other than ``big`` or ``little``."""
    if word_order not in ("big", "little"):
        raise ValueError(f"word_order must be 'big' or 'little', not {word_order!r}")


def _pair(regs: Sequence[int], word_order: WordOrder) -> tuple[int, int]:
    """Return (high, low) words of a two-register value."""
    _check_word_order(word_order)
    if len(regs) != 2:
        raise ProtocolError(f"a 32-bit value needs 2 registers, got {len(regs)}")
    for r in regs:
        if not 0 <= r < U16_MOD:
            raise ProtocolError(f"register value {r} is outside 0..65535")
    hi, lo = (regs[0], regs[1]) if word_order == "big" else (regs[1], regs[0])
    return hi, lo


def _ordered(hi: int, lo: int, word_order: WordOrder) -> list[int]:
    """Return the two words of a 32-bit value in register order."""
    _check_word_order(word_order)
    return [hi, lo] if word_order == "big" else [lo, hi]


def encode_u16(value: int) -> list[int]:
    """Encode an unsigned 16-bit integer as one register."""
    if not 0 <= value < U16_MOD:
        raise ValueError(f"u16 value {value} is outside 0..65535")
    return [value]


def decode_u16(regs: Sequence[int]) -> int:
    """Decode one register as an unsigned 16-bit integer."""
    if len(regs) != 1 or not 0 <= regs[0] < U16_MOD:
        raise ProtocolError(f"a u16 needs one register in 0..65535, got {list(regs)}")
    return regs[0]


def encode_u32(value: int, word_order: WordOrder = "big") -> list[int]:
    """Encode an unsigned 32-bit integer as two registers in ``word_order``."""
    if not 0 <= value <= U32_MAX:
        raise ValueError(f"u32 value {value} is outside 0..4294967295")
    return _ordered(value >> 16, value & 0xFFFF, word_order)


def decode_u32(regs: Sequence[int], word_order: WordOrder = "big") -> int:
    """Decode two registers in ``word_order`` as an unsigned 32-bit integer."""
    hi, lo = _pair(regs, word_order)
    return (hi << 16) | lo


def encode_f32(value: float, word_order: WordOrder = "big") -> list[int]:
    """Encode an IEEE-754 float32 as two registers in ``word_order`` (bytes big-endian)."""
    try:
        raw = struct.pack(">f", value)
    except OverflowError:
        raise ValueError(f"float32 value {value} is out of range") from None
    hi, lo = struct.unpack(">HH", raw)
    return _ordered(hi, lo, word_order)


def decode_f32(regs: Sequence[int], word_order: WordOrder = "big") -> float:
    """Decode two registers in ``word_order`` as an IEEE-754 float32."""
    hi, lo = _pair(regs, word_order)
    value: float = struct.unpack(">f", struct.pack(">HH", hi, lo))[0]
    return value


# --- register maps as data -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    """One scalar field of a register map."""

    name: str
    address: int
    kind: FieldKind
    owner: Owner
    description: str

    @property
    def width(self) -> int:
        """Return the number of registers the field spans."""
        return _WIDTH[self.kind]


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
        return sum(_WIDTH[kind] for _, kind in self.slot_fields)

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
            offset += _WIDTH[kind]
        raise KeyError(f"ring {self.name} has no field {name!r}")


CHECKWEIGHER_FIELDS: tuple[Field, ...] = (
    Field("weight_kg", 0, "f32", "device", "last weight, kg"),
    Field("status", 2, "u16", "device", "status bits: 0 stable, 1 motion, 2 overload, "
          "3 underload, 4 zero error"),
    Field("item_id", 3, "u32", "device", "item_id of that weighing"),
    Field("weigh_seq", 5, "u16", "device", "+1 per weighed item (wraps)"),
)
CHECKWEIGHER_REGISTER_COUNT = 6

#: Checkweigher status bit number -> flag name carried by ``WeightMeasured.flags``.
STATUS_BITS: dict[int, str] = {
    0: "stable", 1: "motion", 2: "overload", 3: "underload", 4: "zero_error"
}

PLC_HEARTBEAT = Field("plc_heartbeat", 0, "u16", "plc", "+1 at least every 100 ms")
PLC_STATE = Field("plc_state", 1, "u16", "plc", "0 stopped, 1 running, 2 e-stop, 3 fault")
EDGE_HEARTBEAT = Field("edge_heartbeat", 2, "u16", "edge", "+1 at least every 100 ms")

REQUEST_RING = Ring(
    "request", 10, 11, (("item_id", "u32"), ("deadline_ms", "u16")), "plc",
    "destination requests: item_id, time left to the decision point in ms",
)
REPLY_RING = Ring(
    "reply", 60, 61, (("item_id", "u32"), ("chute", "u16"), ("reason", "u16")), "edge",
    "destination replies: item_id, chute, index of the first reason (0 = none)",
)
CONFIRM_RING = Ring(
    "confirm", 130, 131, (("item_id", "u32"), ("chute", "u16"), ("status", "u16")), "plc",
    "divert confirmations: item_id, chute, status",
)
PLC_FIELDS: tuple[Field, ...] = (PLC_HEARTBEAT, PLC_STATE, EDGE_HEARTBEAT)
PLC_RINGS: tuple[Ring, ...] = (REQUEST_RING, REPLY_RING, CONFIRM_RING)
PLC_REGISTER_COUNT = CONFIRM_RING.end_address + 1  # 195: addresses 0..194

#: The two reads that cover the whole PLC map (each within the 125-register limit).
PLC_READ_BLOCKS: tuple[tuple[int, int], ...] = ((0, REPLY_RING.end_address + 1), (130, 65))


class PlcState(IntEnum):
    """``plc_state`` values."""

    STOPPED = 0
    RUNNING = 1
    ESTOP = 2
    FAULT = 3


class ConfirmStatus(IntEnum):
    """``status`` of a divert confirmation."""

    DIVERTED = 0
    LANE_FULL = 1  # recirculated
    NO_ANSWER = 2  # sent to the reject chute
    LOST_TRACK = 3
    ABORTED = 4


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


# --- checkweigher block --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckweigherReading:
    """The checkweigher's six registers, decoded."""

    weight_kg: float
    status: int
    item_id: int
    weigh_seq: int

    @property
    def flags(self) -> frozenset[str]:
        """Return the names of the status bits that are set."""
        return flags_from_status(self.status)

    @property
    def stable(self) -> bool:
        """Return True when the stable bit is set and the motion bit is not."""
        return bool(self.status & 1) and not self.status & 2


def flags_from_status(status: int) -> frozenset[str]:
    """Return the flag names of the set status bits (unknown bits become ``bit<n>``)."""
    return frozenset(STATUS_BITS.get(b, f"bit{b}") for b in range(16) if status >> b & 1)


def status_from_flags(flags: Sequence[str] | frozenset[str]) -> int:
    """Return the status word with the named bits set."""
    by_name = {name: bit for bit, name in STATUS_BITS.items()}
    word = 0
    for name in flags:
        if name not in by_name:
            raise ValueError(f"unknown checkweigher status flag {name!r}")
        word |= 1 << by_name[name]
    return word


def encode_checkweigher(reading: CheckweigherReading, word_order: WordOrder = "big") -> list[int]:
    """Return the six registers (addresses 0..5) holding ``reading``."""
    return [
        *encode_f32(reading.weight_kg, word_order),
        *encode_u16(reading.status),
        *encode_u32(reading.item_id, word_order),
        *encode_u16(reading.weigh_seq),
    ]


def decode_checkweigher(block: Sequence[int], word_order: WordOrder = "big") -> CheckweigherReading:
    """Decode registers 0..5 of a checkweigher."""
    if len(block) < CHECKWEIGHER_REGISTER_COUNT:
        raise ProtocolError(f"checkweigher block needs 6 registers, got {len(block)}")
    weight = decode_f32(block[0:2], word_order)
    return CheckweigherReading(
        weight_kg=weight if math.isfinite(weight) else math.nan,
        status=decode_u16(block[2:3]),
        item_id=decode_u32(block[3:5], word_order),
        weigh_seq=decode_u16(block[5:6]),
    )


# --- ring arithmetic -----------------------------------------------------------------


def slot_of(entry: int) -> int:
    """Return the slot that holds entry number ``entry`` (entries count from 0, mod 65536)."""
    return entry % RING_SLOTS


def newest_slot(head: int) -> int:
    """Return the slot of the newest entry, ``(head - 1) mod 16``, for a non-empty ring."""
    return (head - 1) % RING_SLOTS


def advance(head: int) -> tuple[int, int]:
    """Return (slot for the next entry, head after posting it), wrapping the u16 head."""
    if not 0 <= head < U16_MOD:
        raise ValueError(f"ring head {head} is outside 0..65535")
    return slot_of(head), (head + 1) % U16_MOD


def new_entry_count(seen: int, head: int) -> int:
    """Return how many entries were posted since ``seen`` (both u16 heads; wrap-safe)."""
    return (head - seen) % U16_MOD


@dataclass(frozen=True, slots=True)
class RequestEntry:
    """One destination request: entry number, item and time left to its decision point."""

    number: int
    item_id: int
    deadline_ms: int


@dataclass(frozen=True, slots=True)
class ReplyEntry:
    """One destination reply: entry number, item, chute and first reason index."""

    number: int
    item_id: int
    chute: int
    reason: int


@dataclass(frozen=True, slots=True)
class ConfirmEntry:
    """One divert confirmation: entry number, item, chute and status."""

    number: int
    item_id: int
    chute: int
    status: int


EntryT = TypeVar("EntryT", RequestEntry, ReplyEntry, ConfirmEntry)


@dataclass(frozen=True, slots=True)
class RingRead(Generic[EntryT]):
    """The entries new since the reader's last head, oldest first; ``lost`` were overwritten."""

    head: int
    entries: tuple[EntryT, ...]
    lost: int


def _window(block: Sequence[int], block_start: int, address: int, count: int) -> Sequence[int]:
    """Return registers ``address..address+count-1`` from a block read at ``block_start``."""
    lo = address - block_start
    if lo < 0 or lo + count > len(block):
        raise ProtocolError(
            f"register block {block_start}..{block_start + len(block) - 1} does not cover "
            f"{address}..{address + count - 1}"
        )
    return block[lo : lo + count]


def _read_ring(
    ring: Ring, block: Sequence[int], block_start: int, seen: int, word_order: WordOrder
) -> tuple[int, list[tuple[int, list[int]]], int]:
    """Return (head, [(entry number, decoded slot fields)], lost) for new entries."""
    head = decode_u16(_window(block, block_start, ring.head_address, 1))
    fresh = new_entry_count(seen, head)
    lost = max(0, fresh - RING_SLOTS)
    out: list[tuple[int, list[int]]] = []
    for i in range(fresh - min(fresh, RING_SLOTS), fresh):
        number = (seen + i) % U16_MOD
        regs = _window(block, block_start, ring.slot_address(slot_of(number)), ring.slot_width)
        values: list[int] = []
        pos = 0
        for _, kind in ring.slot_fields:
            if kind == "u32":
                values.append(decode_u32(regs[pos : pos + 2], word_order))
            else:
                values.append(decode_u16(regs[pos : pos + 1]))
            pos += _WIDTH[kind]
        out.append((number, values))
    return head, out, lost


def read_requests(
    block: Sequence[int], block_start: int, seen: int, word_order: WordOrder = "big"
) -> RingRead[RequestEntry]:
    """Decode the request ring entries posted since head ``seen`` from a register block."""
    head, raw, lost = _read_ring(REQUEST_RING, block, block_start, seen, word_order)
    return RingRead(head, tuple(RequestEntry(n, v[0], v[1]) for n, v in raw), lost)


def read_replies(
    block: Sequence[int], block_start: int, seen: int, word_order: WordOrder = "big"
) -> RingRead[ReplyEntry]:
    """Decode the reply ring entries posted since head ``seen`` from a register block."""
    head, raw, lost = _read_ring(REPLY_RING, block, block_start, seen, word_order)
    return RingRead(head, tuple(ReplyEntry(n, v[0], v[1], v[2]) for n, v in raw), lost)


def read_confirms(
    block: Sequence[int], block_start: int, seen: int, word_order: WordOrder = "big"
) -> RingRead[ConfirmEntry]:
    """Decode the confirm ring entries posted since head ``seen`` from a register block."""
    head, raw, lost = _read_ring(CONFIRM_RING, block, block_start, seen, word_order)
    return RingRead(head, tuple(ConfirmEntry(n, v[0], v[1], v[2]) for n, v in raw), lost)


@dataclass(frozen=True, slots=True)
class RegisterWrite:
    """Registers to write at a wire address, in order."""

    address: int
    values: tuple[int, ...]


def _slot_registers(ring: Ring, values: Sequence[int], word_order: WordOrder) -> list[int]:
    """Encode one slot's field values."""
    if len(values) != len(ring.slot_fields):
        raise ValueError(f"ring {ring.name} slot needs {len(ring.slot_fields)} values")
    regs: list[int] = []
    for (name, kind), value in zip(ring.slot_fields, values, strict=True):
        try:
            regs.extend(encode_u32(value, word_order) if kind == "u32" else encode_u16(value))
        except ValueError as err:
            raise ValueError(f"ring {ring.name} field {name}: {err}") from None
    return regs


def post_writes(
    ring: Ring, head: int, slots: Sequence[Sequence[int]], word_order: WordOrder = "big"
) -> tuple[list[RegisterWrite], int]:
    """Return the writes that post ``slots`` to ``ring`` (slots first, head last) and new head.

    At most 16 entries can be posted at once (more would overwrite unread ones).
    """
    if not slots:
        return [], head
    if len(slots) > RING_SLOTS:
        raise ValueError(f"cannot post {len(slots)} entries at once; the ring holds 16")
    writes: list[RegisterWrite] = []
    for values in slots:
        slot, head = advance(head)
        regs = _slot_registers(ring, values, word_order)
        address = ring.slot_address(slot)
        last = writes[-1] if writes else None
        if last is not None and last.address + len(last.values) == address:
            writes[-1] = RegisterWrite(last.address, (*last.values, *regs))
        else:
            writes.append(RegisterWrite(address, tuple(regs)))
    writes.append(RegisterWrite(ring.head_address, (head,)))
    return writes, head


def reply_writes(
    head: int, replies: Sequence[tuple[int, int, int]], word_order: WordOrder = "big"
) -> tuple[list[RegisterWrite], int]:
    """Return the writes posting ``(item_id, chute, reason)`` replies, and the new reply_head."""
    return post_writes(REPLY_RING, head, replies, word_order)


def apply_writes(image: list[int], writes: Sequence[RegisterWrite]) -> None:
    """Apply writes to an in-memory register image (for simulators and tests)."""
    for w in writes:
        if w.address < 0 or w.address + len(w.values) > len(image):
            raise ValueError(f"write at {w.address}+{len(w.values)} is outside the image")
        image[w.address : w.address + len(w.values)] = w.values
