"""The sorter PLC's register image: heartbeat, state, request/reply/confirm rings.

This is the register side of the PLC only (no belt physics): ``LineModel`` calls it to
post requests and confirms, and a Modbus server (or a test) reads and writes it with wire
addresses. Writes from outside may only touch edge-owned registers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from contracts import registers as reg
from contracts.registers import WordOrder
from contracts.statuses import ConfirmStatus, PlcState
from devices import modbus_maps as mm
from devices.modbus_maps import ReplyEntry

log = logging.getLogger(__name__)


class RegisterAccessError(ValueError):
    """A read or write touches registers that do not exist or that the caller may not write."""


class PlcRegisters:
    """The PLC's 195 holding registers and the bookkeeping of its three rings."""

    size = reg.PLC_REGISTER_COUNT

    def __init__(self, word_order: WordOrder = "big", *, heartbeat_s: float = 0.05) -> None:
        """Start stopped, every register 0; the heartbeat counts every ``heartbeat_s`` seconds."""
        self.word_order: WordOrder = word_order
        self.heartbeat_s = heartbeat_s
        self.regs = [0] * self.size
        self.request_head = 0
        self.confirm_head = 0
        self.reply_seen = 0
        self.replies_lost = 0
        #: Called with (now) before every outside read, to refresh live values.
        self.before_read: Callable[[], None] = lambda: None
        #: Called after an outside write that moved reply_head.
        self.on_reply_head: Callable[[], None] = lambda: None
        #: Called after an outside write that changed edge_heartbeat.
        self.on_edge_heartbeat: Callable[[int], None] = lambda value: None

    # --- PLC-side updates --------------------------------------------------------------

    @property
    def state(self) -> PlcState:
        """Return ``plc_state``."""
        return PlcState(self.regs[reg.PLC_STATE.address])

    @state.setter
    def state(self, value: PlcState) -> None:
        self.regs[reg.PLC_STATE.address] = int(value)

    def tick_heartbeat(self, now_s: float) -> None:
        """Set ``plc_heartbeat`` from the PLC's running time (+1 every ``heartbeat_s``)."""
        self.regs[reg.PLC_HEARTBEAT.address] = int(now_s / self.heartbeat_s) % reg.U16_MOD

    @property
    def edge_heartbeat(self) -> int:
        """Return the last ``edge_heartbeat`` the edge wrote."""
        return self.regs[reg.EDGE_HEARTBEAT.address]

    def post_request(self, item_id: int, deadline_ms: int) -> int:
        """Post a destination request; return its ring slot."""
        slot = mm.slot_of(self.request_head)
        writes, self.request_head = mm.post_writes(
            reg.REQUEST_RING,
            self.request_head,
            [(item_id, _clamp_u16(deadline_ms))],
            self.word_order,
        )
        mm.apply_writes(self.regs, writes)
        return slot

    def set_deadline(self, slot: int, deadline_ms: int) -> None:
        """Rewrite the time left of the request in ``slot``."""
        addr = reg.REQUEST_RING.slot_address(slot) + reg.REQUEST_RING.field_offset("deadline_ms")
        self.regs[addr] = _clamp_u16(deadline_ms)

    def post_confirm(self, item_id: int, chute: int, status: ConfirmStatus) -> None:
        """Post a divert confirmation."""
        writes, self.confirm_head = mm.post_writes(
            reg.CONFIRM_RING, self.confirm_head, [(item_id, chute, int(status))], self.word_order
        )
        mm.apply_writes(self.regs, writes)

    def take_replies(self) -> list[ReplyEntry]:
        """Return the replies posted since the last call, oldest first."""
        got = mm.read_replies(self.regs, 0, self.reply_seen, self.word_order)
        self.reply_seen = got.head
        if got.lost:
            self.replies_lost += got.lost
            log.warning("plc: %d replies were overwritten before they were read", got.lost)
        return list(got.entries)

    # --- the outside view (Modbus server, tests) -----------------------------------------

    def read(self, address: int, count: int) -> list[int]:
        """Return registers ``address..address+count-1`` as the wire shows them."""
        if address < 0 or count < 1 or address + count > self.size:
            raise RegisterAccessError(f"registers {address}+{count} are outside 0..{self.size - 1}")
        self.before_read()
        return self.regs[address : address + count]

    def write(self, address: int, values: list[int]) -> None:
        """Apply an edge write; only edge_heartbeat and the reply ring may be written."""
        count = len(values)
        if not reg.edge_writable(address, count):
            raise RegisterAccessError(
                f"registers {address}..{address + count - 1} are not edge-writable"
            )
        if any(not 0 <= v < reg.U16_MOD for v in values):
            raise RegisterAccessError(f"values {values} are not all in 0..65535")
        self.regs[address : address + count] = values
        span = range(address, address + count)
        if reg.EDGE_HEARTBEAT.address in span:
            self.on_edge_heartbeat(self.edge_heartbeat)
        if reg.REPLY_RING.head_address in span:
            self.on_reply_head()


def _clamp_u16(value: int) -> int:
    """Clamp a count of milliseconds into a u16 register (time left saturates at 65535)."""
    return max(0, min(reg.U16_MOD - 1, int(value)))
