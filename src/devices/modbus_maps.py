"""Sans-IO codecs of the checkweigher and sorter PLC registers: scalars, blocks and rings.

The maps themselves (addresses, ring sizes, field layout, status bits) are data in
``contracts.registers``; every address is a 0-based Modbus wire address.
Registers are 16-bit words sent big-endian; a u32 or float32 spans two registers whose
order is ``word_order``: ``big`` puts the high word at the lower address, ``little`` the
low word. Nothing in this module does I/O, keeps time or logs.

Rings (checkweigher weighings, PLC request, edge reply, PLC confirm) hold 16 slots.
``head`` counts the entries posted so far (u16, wraps 65535 -> 0); entry number ``n``
lives in slot ``n mod 16``, so slot ``k`` holds the newest entry ``head - 1`` when
``k = (head - 1) mod 16``. A writer fills the slot first and bumps ``head`` last, so a
reader never sees a half-written entry.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from contracts.registers import (
    CHECKWEIGHER_REGISTER_COUNT,
    CONFIRM_RING,
    REPLY_RING,
    REQUEST_RING,
    RING_SLOTS,
    STATUS_BITS,
    U16_MOD,
    U32_MAX,
    WEIGH_RING,
    WIDTH,
    Ring,
    WordOrder,
)
from devices.errors import ProtocolError

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


@dataclass(frozen=True, slots=True)
class WeighEntry:
    """One weighing of the checkweigher's ring: entry number, item, weight (kg) and status."""

    number: int
    item_id: int
    weight_kg: float
    status: int


EntryT = TypeVar("EntryT", RequestEntry, ReplyEntry, ConfirmEntry, WeighEntry)


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
            pos += WIDTH[kind]
        out.append((number, values))
    return head, out, lost


def read_weighings(
    block: Sequence[int], block_start: int, seen: int, word_order: WordOrder = "big"
) -> RingRead[WeighEntry]:
    """Decode the weighings posted since head ``seen`` from a checkweigher register block.

    ``lost`` counts the weighings overwritten before this read (more than 16 new ones).
    A weight that is not a finite float32 is decoded as NaN.
    """
    head = decode_u16(_window(block, block_start, WEIGH_RING.head_address, 1))
    fresh = new_entry_count(seen, head)
    lost = max(0, fresh - RING_SLOTS)
    out: list[WeighEntry] = []
    for i in range(lost, fresh):
        number = (seen + i) % U16_MOD
        regs = _window(
            block, block_start, WEIGH_RING.slot_address(slot_of(number)), WEIGH_RING.slot_width
        )
        weight = decode_f32(regs[2:4], word_order)
        out.append(
            WeighEntry(
                number,
                decode_u32(regs[0:2], word_order),
                weight if math.isfinite(weight) else math.nan,
                decode_u16(regs[4:5]),
            )
        )
    return RingRead(head, tuple(out), lost)


def weighing_writes(
    head: int, weighings: Sequence[tuple[int, float, int]], word_order: WordOrder = "big"
) -> tuple[list[RegisterWrite], int]:
    """Return the writes posting ``(item_id, weight_kg, status)`` weighings, and the new head."""
    return post_writes(WEIGH_RING, head, weighings, word_order)


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


def _slot_registers(ring: Ring, values: Sequence[float], word_order: WordOrder) -> list[int]:
    """Encode one slot's field values (integers for u16/u32 fields, a float for f32)."""
    if len(values) != len(ring.slot_fields):
        raise ValueError(f"ring {ring.name} slot needs {len(ring.slot_fields)} values")
    regs: list[int] = []
    for (name, kind), value in zip(ring.slot_fields, values, strict=True):
        try:
            if kind == "f32":
                regs.extend(encode_f32(value, word_order))
            elif kind == "u32":
                regs.extend(encode_u32(int(value), word_order))
            else:
                regs.extend(encode_u16(int(value)))
        except ValueError as err:
            raise ValueError(f"ring {ring.name} field {name}: {err}") from None
    return regs


def post_writes(
    ring: Ring, head: int, slots: Sequence[Sequence[float]], word_order: WordOrder = "big"
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
