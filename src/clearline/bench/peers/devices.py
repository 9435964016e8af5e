"""The three peer devices on pyModbusTCP and plain sockets, written from DESIGN section 6.

Nothing here imports the project's register codecs or simulators: every address, word
order and ring rule is taken from the tables of DESIGN section 6 and spelled out below,
so that a mistake shared by our driver and our simulator cannot hide.

- ``PeerCheckweigher``: registers 0..5 show the last weighing (float32 weight, status,
  u32 item_id, u16 weigh_seq); register 10 is ``weigh_head``; registers 11..90 are the
  ring, 16 slots of five registers (item_id u32, weight float32, status u16). High word
  first. A slot is filled before the head moves.
- ``PeerPlc``: register 0 ``plc_heartbeat``, 1 ``plc_state``, 2 ``edge_heartbeat``
  (written by the edge); request ring head 10, slots 11..58 (item_id u32, deadline_ms
  u16); reply ring head 60, slots 61..124 (item_id u32, chute u16, reason u16), written
  by the edge; confirm ring head 130, slots 131..194 (item_id u32, chute u16, status u16).
  Slot ``k`` holds entry ``head - 1`` when ``k = (head - 1) mod 16``.
- ``PeerScanner``: a TCP server sending ``STX item_id;status;codes ETX`` frames.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from pyModbusTCP.server import DataBank, ModbusServer

SLOTS = 16
U16 = 0x1_0000

# checkweigher (DESIGN section 6)
CW_WEIGHT, CW_STATUS, CW_ITEM, CW_SEQ = 0, 2, 3, 5
CW_HEAD, CW_RING, CW_SLOT = 10, 11, 5
CW_SIZE = CW_RING + SLOTS * CW_SLOT  # 91: addresses 0..90
STATUS_STABLE = 1 << 0

# sorter PLC (DESIGN section 6)
PLC_BEAT, PLC_STATE, EDGE_BEAT = 0, 1, 2
REQ_HEAD, REQ_RING, REQ_SLOT = 10, 11, 3
REPLY_HEAD, REPLY_RING, REPLY_SLOT = 60, 61, 4
CONF_HEAD, CONF_RING, CONF_SLOT = 130, 131, 4
PLC_SIZE = CONF_RING + SLOTS * CONF_SLOT  # 195: addresses 0..194
RUNNING = 1
DIVERTED, NO_ANSWER = 0, 2


def u32_words(value: int) -> list[int]:
    """Return a u32 as two registers, high word first."""
    return [(value >> 16) & 0xFFFF, value & 0xFFFF]


def f32_words(value: float) -> list[int]:
    """Return an IEEE-754 float32 as two registers, high word first."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    return [hi, lo]


class _Bank(DataBank):  # type: ignore[misc]
    """A holding-register bank of ``size`` words that calls ``on_write`` after a client write."""

    def __init__(self, size: int) -> None:
        super().__init__(coils_size=0, d_inputs_size=0, h_regs_size=size, i_regs_size=0)
        self.on_write: Callable[[int, int, int], None] | None = None

    def on_holding_registers_change(
        self, address: int, from_value: int, to_value: int, srv_info: Any
    ) -> None:
        """Pass a register changed by a client to ``on_write``."""
        if self.on_write is not None:
            self.on_write(address, from_value, to_value)


class _Served:
    """A pyModbusTCP server on 127.0.0.1 and a free port, serving one bank."""

    def __init__(self, size: int) -> None:
        self.bank = _Bank(size)
        self.port = _free_port()
        self.server = ModbusServer("127.0.0.1", self.port, no_block=True, data_bank=self.bank)
        self.server.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PeerCheckweigher(_Served):
    """An in-line checkweigher: ``weigh()`` posts one weighing (ring slot first, head last)."""

    def __init__(self) -> None:
        super().__init__(CW_SIZE)
        self.head = 0

    def weigh(self, item_id: int, weight_kg: float, status: int = STATUS_STABLE) -> None:
        """Post one weighing."""
        slot = self.head % SLOTS
        self.bank.set_holding_registers(
            CW_RING + slot * CW_SLOT, [*u32_words(item_id), *f32_words(weight_kg), status]
        )
        self.head = (self.head + 1) % U16
        last = [*f32_words(weight_kg), status, *u32_words(item_id), self.head]
        self.bank.set_holding_registers(CW_WEIGHT, last)
        self.bank.set_holding_registers(CW_HEAD, [self.head])


class PeerScanner:
    """A tunnel scanner serving its frames over TCP to every connected client."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(4)
        self.port: int = self._sock.getsockname()[1]
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="peer-scanner", daemon=True)
        self._thread.start()

    @property
    def clients(self) -> int:
        """Return the number of connected clients."""
        with self._lock:
            return len(self._clients)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._clients.append(conn)

    def read(self, item_id: int, codes: list[str]) -> None:
        """Send the frame of one read: no code is NOREAD, one OK, more MULTI."""
        status = "NOREAD" if not codes else "OK" if len(codes) == 1 else "MULTI"
        frame = f"\x02{item_id:06d};{status};{','.join(codes)}\x03".encode("ascii")
        with self._lock:
            for conn in list(self._clients):
                try:
                    conn.sendall(frame)
                except OSError:
                    self._clients.remove(conn)

    def stop(self) -> None:
        """Close the listening socket and every client."""
        self._sock.close()
        with self._lock:
            for conn in self._clients:
                conn.close()
            self._clients.clear()


class PeerPlc(_Served):
    """The sorter PLC's registers: posts requests and confirms, watches replies and beats.

    ``on_reply(item_id, chute, reason, t)`` is called on the server's thread the moment the
    edge moves ``reply_head``, for every reply entry posted since the last one seen.
    """

    def __init__(self, on_reply: Callable[[int, int, int, float], None]) -> None:
        super().__init__(PLC_SIZE)
        self._on_reply = on_reply
        self.request_head = 0
        self.confirm_head = 0
        self.reply_seen = 0
        self.replies_lost = 0
        self.beat = 0
        self.edge_beats = 0
        self.edge_beat_max_gap_s = 0.0
        self._edge_beat_t: float | None = None
        self.bank.set_holding_registers(PLC_STATE, [RUNNING])
        self.bank.on_write = self._written

    def tick_heartbeat(self) -> None:
        """Advance ``plc_heartbeat`` by one."""
        self.beat = (self.beat + 1) % U16
        self.bank.set_holding_registers(PLC_BEAT, [self.beat])

    def request(self, item_id: int, deadline_ms: int) -> int:
        """Post one destination request; return its slot."""
        slot = self.request_head % SLOTS
        words = [*u32_words(item_id), max(0, min(0xFFFF, deadline_ms))]
        self.bank.set_holding_registers(REQ_RING + slot * REQ_SLOT, words)
        self.request_head = (self.request_head + 1) % U16
        self.bank.set_holding_registers(REQ_HEAD, [self.request_head])
        return slot

    def refresh_deadline(self, slot: int, deadline_ms: int) -> None:
        """Rewrite the time left of the request in ``slot``."""
        address = REQ_RING + slot * REQ_SLOT + 2
        self.bank.set_holding_registers(address, [max(0, min(0xFFFF, deadline_ms))])

    def confirm(self, item_id: int, chute: int, status: int) -> None:
        """Post one divert confirmation."""
        slot = self.confirm_head % SLOTS
        self.bank.set_holding_registers(
            CONF_RING + slot * CONF_SLOT, [*u32_words(item_id), chute, status]
        )
        self.confirm_head = (self.confirm_head + 1) % U16
        self.bank.set_holding_registers(CONF_HEAD, [self.confirm_head])

    def _written(self, address: int, _old: int, new: int) -> None:
        """React to the edge's writes: its heartbeat and its reply head."""
        now = time.monotonic()
        if address == EDGE_BEAT:
            if self._edge_beat_t is not None:
                self.edge_beat_max_gap_s = max(self.edge_beat_max_gap_s, now - self._edge_beat_t)
            self._edge_beat_t = now
            self.edge_beats += 1
        elif address == REPLY_HEAD:
            fresh = (new - self.reply_seen) % U16
            if fresh > SLOTS:
                self.replies_lost += fresh - SLOTS
            for i in range(max(0, fresh - SLOTS), fresh):
                slot = (self.reply_seen + i) % SLOTS
                words = self.bank.get_holding_registers(REPLY_RING + slot * REPLY_SLOT, REPLY_SLOT)
                if words is None:
                    continue
                self._on_reply((words[0] << 16) | words[1], words[2], words[3], now)
            self.reply_seen = new
