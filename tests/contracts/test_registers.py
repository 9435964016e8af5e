"""The register maps equal DESIGN §6's tables (addresses transcribed from the design text)."""

from __future__ import annotations

from contracts import registers as r
from contracts.statuses import ConfirmStatus, PlcState

# DESIGN §6, checkweigher: (first, last, field)
CHECKWEIGHER_TABLE = [
    (0, 1, "weight_kg", "f32"),
    (2, 2, "status", "u16"),
    (3, 4, "item_id", "u32"),
    (5, 5, "weigh_seq", "u16"),
]
# DESIGN §6, sorter PLC: (first, last, owner, field)
PLC_TABLE = [
    (0, 0, "plc", "plc_heartbeat"),
    (1, 1, "plc", "plc_state"),
    (2, 2, "edge", "edge_heartbeat"),
    (10, 10, "plc", "request_head"),
    (11, 58, "plc", "request ring"),
    (60, 60, "edge", "reply_head"),
    (61, 124, "edge", "reply ring"),
    (130, 130, "plc", "confirm_head"),
    (131, 194, "plc", "confirm ring"),
]


def test_checkweigher_fields_are_the_design_table() -> None:
    got = [(f.address, f.address + f.width - 1, f.name, f.kind) for f in r.CHECKWEIGHER_FIELDS]
    assert got == CHECKWEIGHER_TABLE
    assert r.CHECKWEIGHER_REGISTER_COUNT == 6


def test_checkweigher_ring_is_the_design_table() -> None:
    """10 head; 11-90: 16 slots x 5 of item_id u32, weight float32, status u16."""
    ring = r.WEIGH_RING
    assert (ring.head_address, ring.base_address, ring.end_address) == (10, 11, 90)
    assert ring.slot_fields == (("item_id", "u32"), ("weight_kg", "f32"), ("status", "u16"))
    assert ring.slot_width == 5
    assert [ring.slot_address(k) for k in (0, 1, 15)] == [11, 16, 86]


def test_status_bits_are_the_design_list() -> None:
    assert r.STATUS_BITS == {
        0: "stable",
        1: "motion",
        2: "overload",
        3: "underload",
        4: "zero_error",
    }


def test_plc_map_is_the_design_table() -> None:
    assert list(r.plc_register_table())[:3] == [
        (a, b, owner, name, "u16") for a, b, owner, name in PLC_TABLE[:3]
    ]
    rows = [(a, b, owner, name) for a, b, owner, name, _ in r.plc_register_table()]
    assert rows == PLC_TABLE
    assert r.PLC_REGISTER_COUNT == 195


def test_ring_slots_are_the_design_layout() -> None:
    """16 slots; request x3 (item_id u32, deadline_ms u16), reply and confirm x4."""
    assert r.RING_SLOTS == 16
    assert r.REQUEST_RING.slot_fields == (("item_id", "u32"), ("deadline_ms", "u16"))
    assert r.REPLY_RING.slot_fields == (("item_id", "u32"), ("chute", "u16"), ("reason", "u16"))
    assert r.CONFIRM_RING.slot_fields == (("item_id", "u32"), ("chute", "u16"), ("status", "u16"))
    assert r.REPLY_RING.slot_address(15) == 61 + 15 * 4
    assert r.CONFIRM_RING.field_offset("status") == 3


def test_only_edge_registers_are_edge_writable() -> None:
    assert r.edge_writable(2, 1) and r.edge_writable(60, 65)
    assert not r.edge_writable(0, 1) and not r.edge_writable(1, 2)
    assert not r.edge_writable(59, 2) and not r.edge_writable(124, 2)
    assert not r.edge_writable(130, 1) and not r.edge_writable(60, 0)


def test_reads_cover_the_map_within_the_modbus_limit() -> None:
    covered = {a for start, n in r.PLC_READ_BLOCKS for a in range(start, start + n)}
    for first, last, _, _ in PLC_TABLE:
        assert set(range(first, last + 1)) <= covered
    assert all(n <= r.MAX_READ_COUNT for _, n in r.PLC_READ_BLOCKS)


def test_state_and_confirm_numbers_are_the_design_values() -> None:
    """plc_state: 0 stopped, 1 running, 2 e-stop, 3 fault; confirm status 0..4 as DESIGN."""
    assert [(s.name, s.value) for s in PlcState] == [
        ("STOPPED", 0),
        ("RUNNING", 1),
        ("ESTOP", 2),
        ("FAULT", 3),
    ]
    assert [(s.name, s.value) for s in ConfirmStatus] == [
        ("DIVERTED", 0),
        ("LANE_FULL", 1),
        ("NO_ANSWER", 2),
        ("LOST_TRACK", 3),
        ("ABORTED", 4),
    ]
