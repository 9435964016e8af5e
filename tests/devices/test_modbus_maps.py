"""Register maps: golden tables in both word orders, ring arithmetic and wrap, round trips."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import registers as reg
from devices import modbus_maps as mm
from devices.errors import ProtocolError
from devices.modbus_maps import CheckweigherReading

# --- scalar codecs: golden values ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "big", "little"),
    [
        (0x12345678, [0x1234, 0x5678], [0x5678, 0x1234]),
        (70_000, [0x0001, 0x1170], [0x1170, 0x0001]),
        (0, [0, 0], [0, 0]),
        (0xFFFFFFFF, [0xFFFF, 0xFFFF], [0xFFFF, 0xFFFF]),
    ],
)
def test_u32_golden(value: int, big: list[int], little: list[int]) -> None:
    assert mm.encode_u32(value, "big") == big
    assert mm.encode_u32(value, "little") == little
    assert mm.decode_u32(big, "big") == value
    assert mm.decode_u32(little, "little") == value


@pytest.mark.parametrize(
    ("value", "big"),
    [
        (1234.5, [0x449A, 0x5000]),  # IEEE-754 0x449A5000
        (1.25, [0x3FA0, 0x0000]),
        (-2.0, [0xC000, 0x0000]),
        (0.0, [0, 0]),
    ],
)
def test_f32_golden(value: float, big: list[int]) -> None:
    assert mm.encode_f32(value, "big") == big
    assert mm.encode_f32(value, "little") == big[::-1]
    assert mm.decode_f32(big, "big") == value
    assert mm.decode_f32(big[::-1], "little") == value


def test_word_order_matters_for_f32() -> None:
    assert mm.decode_f32([0x449A, 0x5000], "little") != 1234.5


def test_codec_errors() -> None:
    with pytest.raises(ValueError, match="u32"):
        mm.encode_u32(-1)
    with pytest.raises(ValueError, match="u32"):
        mm.encode_u32(2**32)
    with pytest.raises(ValueError, match="u16"):
        mm.encode_u16(65536)
    with pytest.raises(ValueError, match="word_order"):
        mm.encode_u32(1, "middle")  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="2 registers"):
        mm.decode_u32([1])
    with pytest.raises(ProtocolError, match="outside"):
        mm.decode_u32([70000, 1])
    with pytest.raises(ValueError, match="out of range"):
        mm.encode_f32(1e39)


@settings(max_examples=200)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["big", "little"]))
def test_u32_round_trip(value: int, order: reg.WordOrder) -> None:
    regs = mm.encode_u32(value, order)
    assert all(0 <= r <= 0xFFFF for r in regs)
    assert mm.decode_u32(regs, order) == value


@settings(max_examples=200)
@given(st.floats(width=32, allow_nan=False), st.sampled_from(["big", "little"]))
def test_f32_round_trip(value: float, order: reg.WordOrder) -> None:
    assert mm.decode_f32(mm.encode_f32(value, order), order) == value


@settings(max_examples=200)
@given(st.lists(st.integers(0, 0xFFFF), min_size=2, max_size=2), st.sampled_from(["big", "little"]))
def test_f32_decode_any_registers(regs: list[int], order: reg.WordOrder) -> None:
    value = mm.decode_f32(regs, order)
    if not math.isnan(value):
        assert mm.encode_f32(value, order) == regs


# --- the maps as data --------------------------------------------------------------------


def test_checkweigher_golden_block() -> None:
    reading = CheckweigherReading(weight_kg=1.25, status=0b1, item_id=70_000, weigh_seq=5)
    assert mm.encode_checkweigher(reading, "big") == [0x3FA0, 0x0000, 1, 0x0001, 0x1170, 5]
    assert mm.encode_checkweigher(reading, "little") == [0x0000, 0x3FA0, 1, 0x1170, 0x0001, 5]
    assert mm.decode_checkweigher([0x3FA0, 0, 1, 1, 0x1170, 5]) == reading
    assert mm.decode_checkweigher([0, 0x3FA0, 1, 0x1170, 1, 5], "little") == reading
    with pytest.raises(ProtocolError, match="6 registers"):
        mm.decode_checkweigher([0, 0, 0])


def test_status_flags() -> None:
    assert mm.flags_from_status(0b10011) == {"stable", "motion", "zero_error"}
    assert mm.status_from_flags(["overload", "underload"]) == 0b1100
    reading = CheckweigherReading(1.0, 0b11, 1, 1)
    assert not reading.stable  # motion wins over stable
    assert CheckweigherReading(1.0, 0b01, 1, 1).stable
    with pytest.raises(ValueError, match="unknown"):
        mm.status_from_flags(["wobbly"])


def test_plc_map_addresses_match_design() -> None:
    table = {(lo, hi): (owner, name) for lo, hi, owner, name, _ in reg.plc_register_table()}
    assert table == {
        (0, 0): ("plc", "plc_heartbeat"),
        (1, 1): ("plc", "plc_state"),
        (2, 2): ("edge", "edge_heartbeat"),
        (10, 10): ("plc", "request_head"),
        (11, 58): ("plc", "request ring"),
        (60, 60): ("edge", "reply_head"),
        (61, 124): ("edge", "reply ring"),
        (130, 130): ("plc", "confirm_head"),
        (131, 194): ("plc", "confirm ring"),
    }
    assert reg.PLC_REGISTER_COUNT == 195
    assert [reg.REQUEST_RING.slot_address(k) for k in (0, 1, 15)] == [11, 14, 56]
    assert [reg.REPLY_RING.slot_address(k) for k in (0, 1, 15)] == [61, 65, 121]
    assert [reg.CONFIRM_RING.slot_address(k) for k in (0, 1, 15)] == [131, 135, 191]
    assert reg.REQUEST_RING.field_offset("deadline_ms") == 2
    assert reg.REPLY_RING.field_offset("reason") == 3
    with pytest.raises(ValueError, match="slot 16"):
        reg.REPLY_RING.slot_address(16)


def test_read_blocks_cover_the_map_within_limits() -> None:
    covered = {a for start, n in reg.PLC_READ_BLOCKS for a in range(start, start + n)}
    assert covered >= set(range(0, 125)) | set(range(130, 195))
    assert all(n <= reg.MAX_READ_COUNT for _, n in reg.PLC_READ_BLOCKS)


def test_edge_writable() -> None:
    assert reg.edge_writable(2, 1)
    assert reg.edge_writable(60, 65)
    assert not reg.edge_writable(1, 2)  # plc_state
    assert not reg.edge_writable(10, 1)  # request_head
    assert not reg.edge_writable(124, 2)  # runs past the reply ring
    assert not reg.edge_writable(130, 1)


# --- rings ---------------------------------------------------------------------------


def test_ring_slot_rule_and_u16_wrap() -> None:
    assert mm.advance(0) == (0, 1)
    assert mm.advance(17) == (1, 18)
    assert mm.advance(65535) == (15, 0)  # entry 65535 lands in slot 15, head wraps to 0
    assert mm.newest_slot(1) == 0
    assert mm.newest_slot(0) == 15  # after the wrap the newest entry is 65535
    assert mm.new_entry_count(65530, 3) == 9
    assert mm.new_entry_count(7, 7) == 0
    with pytest.raises(ValueError, match="head"):
        mm.advance(65536)


def _posted(
    ring: reg.Ring, head: int, rows: list[tuple[int, ...]], order: reg.WordOrder
) -> list[int]:
    image = [0] * reg.PLC_REGISTER_COUNT
    image[ring.head_address] = head
    writes, new_head = mm.post_writes(ring, head, rows, order)
    mm.apply_writes(image, writes)
    assert image[ring.head_address] == new_head
    return image


def test_request_ring_golden_and_wrap() -> None:
    image = _posted(reg.REQUEST_RING, 65534, [(70_000, 1500), (5, 20)], "big")
    assert image[10] == 0  # 65534 + 2 wraps
    # entry 65534 -> slot 14 at 11 + 3*14 = 53; entry 65535 -> slot 15 at 56
    assert image[53:56] == [0x0001, 0x1170, 1500]
    assert image[56:59] == [0, 5, 20]
    got = mm.read_requests(image, 0, 65534)
    assert got.head == 0
    assert got.lost == 0
    assert got.entries == (
        mm.RequestEntry(65534, 70_000, 1500),
        mm.RequestEntry(65535, 5, 20),
    )


def test_reply_writes_golden_little_endian() -> None:
    writes, head = mm.reply_writes(3, [(70_000, 7, 21)], "little")
    assert head == 4
    assert writes == [
        mm.RegisterWrite(61 + 4 * 3, (0x1170, 0x0001, 7, 21)),
        mm.RegisterWrite(60, (4,)),  # head last
    ]


def test_post_writes_merge_contiguous_slots_and_split_at_wrap() -> None:
    writes, head = mm.post_writes(reg.CONFIRM_RING, 14, [(1, 2, 0), (3, 4, 1), (5, 6, 2)])
    assert head == 17
    assert [(w.address, len(w.values)) for w in writes] == [(131 + 56, 8), (131, 4), (130, 1)]


def test_ring_overrun_reports_lost_entries() -> None:
    rows = [(i, i % 9, 0) for i in range(1, 21)]
    image = [0] * reg.PLC_REGISTER_COUNT
    head = 0
    for row in rows:  # post one by one: 20 entries into a 16-slot ring
        writes, head = mm.post_writes(reg.CONFIRM_RING, head, [row])
        mm.apply_writes(image, writes)
    got = mm.read_confirms(image[130:], 130, 0)
    assert got.lost == 4
    assert [e.item_id for e in got.entries] == list(range(5, 21))
    with pytest.raises(ValueError, match="16"):
        mm.post_writes(reg.CONFIRM_RING, 0, rows)


def test_ring_read_needs_the_registers() -> None:
    with pytest.raises(ProtocolError, match="does not cover"):
        mm.read_confirms([1] * 3, 130, 0)  # head 1, but slot 0 (131..134) is cut off


@settings(max_examples=200)
@given(
    st.integers(0, 65535),
    st.lists(
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 65535), st.integers(0, 65535)),
        min_size=0,
        max_size=16,
    ),
    st.sampled_from(["big", "little"]),
)
def test_reply_ring_round_trip(
    head: int, rows: list[tuple[int, int, int]], order: reg.WordOrder
) -> None:
    image = _posted(reg.REPLY_RING, head, list(rows), order)
    got = mm.read_replies(image, 0, head, order)
    assert got.lost == 0
    assert [(e.item_id, e.chute, e.reason) for e in got.entries] == rows
    assert [e.number for e in got.entries] == [(head + i) % 65536 for i in range(len(rows))]
    if rows:
        newest = reg.REPLY_RING.slot_address(mm.newest_slot(got.head))
        assert image[newest + 2] == rows[-1][1]


def test_apply_writes_refuses_outside_image() -> None:
    with pytest.raises(ValueError, match="outside"):
        mm.apply_writes([0] * 4, [mm.RegisterWrite(3, (1, 2))])


def test_f32_bytes_are_big_endian_inside_each_register() -> None:
    hi, lo = mm.encode_f32(3.5)
    assert struct.pack(">HH", hi, lo) == struct.pack(">f", 3.5)


def test_weighing_ring_round_trip_wrap_and_loss() -> None:
    """Weighings posted with ``weighing_writes`` read back in order, across the u16 wrap."""
    image = [0] * (reg.WEIGH_RING.end_address + 1)
    head = 65_530
    image[reg.WEIGH_RING.head_address] = head
    rows = [(70_000 + i, 1.25 + i, 1) for i in range(10)]
    for order in ("big", "little"):
        writes, new_head = mm.weighing_writes(head, rows, order)
        assert writes[-1] == mm.RegisterWrite(reg.WEIGH_RING.head_address, (new_head,))
        mm.apply_writes(image, writes)
        got = mm.read_weighings(image, 0, head, order)
        assert new_head == got.head == (head + 10) % 65_536 == 4
        assert [(e.item_id, e.weight_kg, e.status) for e in got.entries] == rows
        assert got.lost == 0
    # 20 new since the reader's cursor: the oldest 4 were overwritten, 16 are still there
    got = mm.read_weighings(image, 0, (4 - 20) % 65_536)
    assert got.lost == 4 and len(got.entries) == 16
    # a slot holding NaN decodes as NaN (the adapter reports no weight)
    nan = mm.encode_f32(float("nan"))
    slot = reg.WEIGH_RING.slot_address(mm.newest_slot(4))
    image[slot + 2 : slot + 4] = nan
    assert math.isnan(mm.read_weighings(image, 0, 3).entries[0].weight_kg)
