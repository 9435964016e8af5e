"""Sorter PLC adapter (edge side, Modbus TCP): requests and confirms in, replies out.

Each poll cycle reads the whole map in two requests (0..124 and 130..194), writes the
edge heartbeat when it is due, and turns new ring entries into ``DestinationRequested``
and ``DivertConfirmed``. ``send()`` posts a ``SendToChute`` into the reply ring (slot
first, ``reply_head`` last) and may be called from any thread.

On start and after every outage the adapter re-reads the request head instead of replaying
old requests, but still reports requests whose time left is above zero (they can still be
answered). Confirmations are never skipped: the adapter reads the confirm ring from where it
left off (``confirm_from``, the cursor the edge kept on disk, on start), so a parcel diverted
while the edge was away is still confirmed; only a gap the ring no longer holds (more than
16 entries, counted in ``lost_confirms``) or a PLC whose heads were reset is skipped.
``DeviceStateChanged`` reports the PLC as online while it answers and its
heartbeat moves; ``detail`` names ``plc_state`` (running, stopped, e-stop, fault).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from contracts import registers as reg
from contracts.clock import Clock, SystemClock
from contracts.registers import WordOrder
from contracts.statuses import PlcState
from devices import modbus_maps as mm
from devices.errors import DeviceUnavailable
from devices.events import DestinationRequested, DeviceStateChanged, DivertConfirmed, SendToChute
from devices.modbus_client import ModbusEndpoint

log = logging.getLogger(__name__)

#: A confirm head further than this from the kept cursor means the PLC's rings were reset.
MAX_CONFIRM_GAP = 4096

PlcEvent = DestinationRequested | DivertConfirmed | DeviceStateChanged
StateSink = Callable[[DeviceStateChanged], None]
_STATE_NAMES = {
    PlcState.STOPPED: "stopped",
    PlcState.RUNNING: "running",
    PlcState.ESTOP: "e-stop",
    PlcState.FAULT: "fault",
}


class PlcAdapter:
    """The edge's side of the sorter PLC contract (DESIGN section 6)."""

    kind = "plc"

    def __init__(
        self,
        endpoint: ModbusEndpoint,
        *,
        word_order: WordOrder = "big",
        clock: Clock | None = None,
        on_state: StateSink | None = None,
        poll_interval_s: float = 0.01,
        heartbeat_interval_s: float = 0.05,
        heartbeat_timeout_s: float = 0.5,
        monotonic: Callable[[], float] = time.monotonic,
        beat_in_cycle: bool = True,
        confirm_from: int | None = None,
    ) -> None:
        """Adapt ``endpoint``; heartbeat written every ``heartbeat_interval_s`` (<= 0.1 s).

        ``beat_in_cycle=False`` leaves the heartbeat to a writer of its own (the edge runs
        ``edge.line.heartbeat.Heartbeat`` on its own thread and connection).
        ``confirm_from`` is the confirm ring entry to read next (kept by the edge across
        restarts); None adopts the PLC's confirm head on the first contact.
        """
        if not 0 < heartbeat_interval_s <= 0.1:
            raise ValueError("heartbeat_interval_s must be in (0, 0.1] seconds")
        self.endpoint = endpoint
        self.device_id = endpoint.device_id
        self.word_order: WordOrder = word_order
        self.clock: Clock = clock or SystemClock()
        self._on_state = on_state
        self.poll_interval_s = poll_interval_s
        self.heartbeat_interval_s = heartbeat_interval_s
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self._monotonic = monotonic
        self.beat_in_cycle = beat_in_cycle
        self._reply_lock = threading.Lock()
        self._synced = False
        self._request_seen = 0
        self._confirm_seen = 0
        self._confirm_from = confirm_from  # where to resume reading confirms at the next sync
        self._reply_head = 0
        self._edge_beat = 0
        self._last_beat_t = -1e9
        self._plc_beat: int | None = None
        self._plc_beat_t = 0.0
        self._status: tuple[bool, PlcState | None] | None = None
        self.state: PlcState | None = None
        self.states: list[DeviceStateChanged] = []
        self.lost_requests = 0
        self.lost_confirms = 0

    # --- edge -> PLC -----------------------------------------------------------------

    def send(self, command: SendToChute) -> None:
        """Post one reply (raises ``DeviceUnavailable``; nothing is half-posted on failure)."""
        self.send_many([command])

    def send_many(self, commands: Sequence[SendToChute]) -> None:
        """Post up to 16 replies with one ``reply_head`` update."""
        rows = [(c.item_id, c.chute, c.reason) for c in commands]
        with self._reply_lock:
            if not self._synced:
                self._reply_head = self.endpoint.read_holding(reg.REPLY_RING.head_address, 1)[0]
            writes, head = mm.reply_writes(self._reply_head, rows, self.word_order)
            self.endpoint.write_many(writes)
            self._reply_head = head

    def beat(self) -> None:
        """Write the next edge heartbeat."""
        nxt = (self._edge_beat + 1) % reg.U16_MOD
        self.endpoint.write_registers(reg.EDGE_HEARTBEAT.address, [nxt])
        self._edge_beat = nxt
        self._last_beat_t = self._monotonic()

    # --- PLC -> edge -----------------------------------------------------------------

    def poll(self, timeout_s: float = 0.0) -> list[PlcEvent]:
        """Run poll cycles every ``poll_interval_s`` until events arrive or ``timeout_s`` ends."""
        deadline = self._monotonic() + timeout_s
        while True:
            events = self.cycle()
            left = deadline - self._monotonic()
            if events or left <= 0:
                return events
            time.sleep(min(self.poll_interval_s, left))

    def cycle(self) -> list[PlcEvent]:
        """One poll cycle: heartbeat when due, read both blocks, report what is new."""
        try:
            due = self._monotonic() - self._last_beat_t >= self.heartbeat_interval_s
            if self.beat_in_cycle and due:
                self.beat()
            (a_start, a_count), (b_start, b_count) = reg.PLC_READ_BLOCKS
            block_a = self.endpoint.read_holding(a_start, a_count)
            block_b = self.endpoint.read_holding(b_start, b_count)
        except DeviceUnavailable as err:
            lost: list[PlcEvent] = []
            if not self.endpoint.online:
                self._synced = False
                self._status_event(lost, False, self.state, err.detail)
            self._finish(lost)
            raise
        events: list[PlcEvent] = []
        now = self.clock.now()
        state = _state_of(block_a[reg.PLC_STATE.address])
        alive = self._heartbeat_alive(block_a[reg.PLC_HEARTBEAT.address])
        detail = _STATE_NAMES[state] if alive else "plc heartbeat stale"
        self._status_event(events, alive, state, detail)
        self.state = state
        if not self._synced:
            self._sync(block_a, block_b, events)
            return self._finish(events)
        req = mm.read_requests(block_a, a_start, self._request_seen, self.word_order)
        self._request_seen = req.head
        if req.lost:
            self.lost_requests += req.lost
            log.warning("device %s: %d requests overwritten before read", self.device_id, req.lost)
        events.extend(
            DestinationRequested(self.device_id, r.item_id, r.deadline_ms, now) for r in req.entries
        )
        conf = mm.read_confirms(block_b, b_start, self._confirm_seen, self.word_order)
        self._confirm_seen = conf.head
        if conf.lost:
            self.lost_confirms += conf.lost
            log.warning("device %s: %d confirms overwritten before read", self.device_id, conf.lost)
        events.extend(
            DivertConfirmed(self.device_id, c.item_id, c.chute, c.status, now, c.number)
            for c in conf.entries
        )
        self._confirm_from = conf.head
        return self._finish(events)

    # --- internals -------------------------------------------------------------------

    def _sync(self, block_a: list[int], block_b: list[int], events: list[PlcEvent]) -> None:
        """Adopt the PLC's heads; report only requests that can still be answered."""
        a_start = reg.PLC_READ_BLOCKS[0][0]
        head = block_a[reg.REQUEST_RING.head_address - a_start]
        back = min(head, reg.RING_SLOTS)
        req = mm.read_requests(block_a, a_start, (head - back) % reg.U16_MOD, self.word_order)
        at = self.clock.now()
        events.extend(
            DestinationRequested(self.device_id, r.item_id, r.deadline_ms, at)
            for r in req.entries
            if r.deadline_ms > 0
        )
        self._request_seen = head
        self._resume_confirms(block_b, at, events)
        with self._reply_lock:
            self._reply_head = block_a[reg.REPLY_RING.head_address - a_start]
            self._synced = True
        self._edge_beat = block_a[reg.EDGE_HEARTBEAT.address - a_start]
        log.info("device %s: synchronised (request head %d)", self.device_id, head)

    def _resume_confirms(self, block_b: list[int], at: datetime, events: list[PlcEvent]) -> None:
        """Read the confirmations posted since ``confirm_from`` (or adopt the head)."""
        b_start = reg.PLC_READ_BLOCKS[1][0]
        head = block_b[reg.CONFIRM_RING.head_address - b_start]
        since = self._confirm_from
        if since is None or mm.new_entry_count(since, head) > MAX_CONFIRM_GAP:
            if since is not None:  # the PLC restarted (heads reset): nothing left to read
                log.warning(
                    "device %s: confirm head %d is far from %d; the PLC's rings were reset",
                    self.device_id, head, since,
                )  # fmt: skip
            self._confirm_seen = self._confirm_from = head
            return
        conf = mm.read_confirms(block_b, b_start, since, self.word_order)
        if conf.lost:
            self.lost_confirms += conf.lost
            log.warning("device %s: %d confirms overwritten while away", self.device_id, conf.lost)
        if conf.entries:
            log.info("device %s: %d confirms read after a gap", self.device_id, len(conf.entries))
        events.extend(
            DivertConfirmed(self.device_id, c.item_id, c.chute, c.status, at, c.number)
            for c in conf.entries
        )
        self._confirm_seen = self._confirm_from = conf.head

    def _heartbeat_alive(self, beat: int) -> bool:
        """Return False when the PLC heartbeat has not moved for ``heartbeat_timeout_s``."""
        t = self._monotonic()
        if beat != self._plc_beat:
            self._plc_beat, self._plc_beat_t = beat, t
            return True
        return t - self._plc_beat_t <= self.heartbeat_timeout_s

    def _status_event(
        self, events: list[PlcEvent], online: bool, state: PlcState | None, detail: str
    ) -> None:
        """Append a ``DeviceStateChanged`` when availability or ``plc_state`` changed."""
        status = (online, state if online else None)
        if status == self._status:
            return
        self._status = status
        events.append(
            DeviceStateChanged(self.device_id, self.kind, online, self.clock.now(), detail)
        )

    def _finish(self, events: list[PlcEvent]) -> list[PlcEvent]:
        """Hand state events to ``on_state`` as well, then return every event."""
        for e in events:
            if isinstance(e, DeviceStateChanged):
                self._emit_state(e)
        return events

    def _emit_state(self, event: DeviceStateChanged) -> None:
        """Record a state event and pass it on."""
        self.states.append(event)
        del self.states[:-100]
        if self._on_state is not None:
            self._on_state(event)


def _state_of(value: int) -> PlcState:
    """Return ``plc_state``; an undocumented value counts as a fault."""
    try:
        return PlcState(value)
    except ValueError:
        log.warning("plc_state %d is not a documented state; treating it as a fault", value)
        return PlcState.FAULT
