"""The line model: induction, belt travel by encoder, devices along the belt and the PLC.

Every parcel on a lap starts at position 0 (induction, or re-entry after a lap of the
loop) and moves at ``belt_speed_m_s``. On the way it passes the scanner (where the PLC
posts its destination request with the time left to the decision point), the
checkweigher and the X-ray; at the decision point the PLC fixes the chute from the reply
it holds for the item, or the reject chute when there is none; at the chute the item is
diverted, or recirculated when the lane is full. An e-stop stops the belt and aborts
every tracked item.

Reply timing: each request is stamped when it is posted and again when the first reply
for it is taken from the reply ring (``stamp``: simulated seconds by default, the wall
clock when a runner serves the line), and the ``replied`` event is emitted then.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from contracts import registers as reg
from contracts.statuses import ConfirmStatus, PlcState
from devices import modbus_maps as mm
from simulators.line.config import LineConfig, check_line
from simulators.line.core import EventCore, Timer
from simulators.line.sorter import PlcRegisters
from simulators.line.tracking import Disposition, Lane, LineStats, Parcel
from simulators.modbus_sims.checkweigher import CheckweigherRuntime

log = logging.getLogger(__name__)

#: Smallest spacing between two confirmations posted to the ring, seconds.
CONFIRM_GAP_S = 0.005


ParcelSource = Callable[[int], tuple[str, float]]
Listener = Callable[[str, Parcel], None]


class LineModel:
    """A sorting line on an ``EventCore``; see the module docstring for the journey."""

    def __init__(
        self,
        line: LineConfig,
        *,
        core: EventCore | None = None,
        seed: int = 0,
        checkweigher: CheckweigherRuntime | None = None,
        parcel_source: ParcelSource | None = None,
        keep_records: bool = False,
        heartbeat_s: float = 0.05,
    ) -> None:
        """Build the line stopped; ``start()`` sets it running and starts induction.

        Raises ``LineConfigError`` when ``line`` does not hold together (a copy made without
        validation, say, whose belt cannot carry its induction rate).
        """
        self.line = check_line(line.model_dump())  # a model_copy skipped LineConfig's checks
        self.core = core or EventCore()
        self.rng = random.Random(seed)
        self.plc = PlcRegisters(line.plc.word_order, heartbeat_s=heartbeat_s)
        self.plc.before_read = self._refresh_registers
        self.plc.on_reply_head = self._take_replies
        self.checkweigher = checkweigher
        self.parcel_source = parcel_source or self._random_parcel
        self.keep_records = keep_records
        self.records: list[Disposition] = []
        self.stats = LineStats()
        self.listeners: list[Listener] = []
        #: Clock of the reply-timing stamps, seconds (simulated time unless replaced).
        self.stamp: Callable[[], float] = self.core.clock.monotonic
        self.on_request: list[Callable[[], None]] = []
        self.items: dict[int, Parcel] = {}
        self._pending: dict[int, Parcel] = {}  # request open, decision point not reached
        self._slot_item: dict[int, Parcel] = {}
        self._lanes = {c.number: Lane(c.capacity, c.drain_per_h / 3600.0) for c in line.chutes}
        self._next_item = 1
        self._induction: Timer | None = None
        self._confirm_queue: list[tuple[int, int, ConfirmStatus]] = []
        self._confirm_timer: Timer | None = None
        self._last_confirm_t = -1e9
        self._pulses_per_m = 1000.0 / line.encoder_mm_per_pulse
        self._pulses_per_s = line.belt_speed_m_s * self._pulses_per_m
        self._belt_count = 0.0  # encoder count at _belt_t
        self._belt_t = 0.0
        self._running = False
        self._inducting = False

    # --- control ---------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Return the current simulated second."""
        return self.core.now

    def start(self, induct: bool = True) -> None:
        """Set the PLC running and (unless ``induct`` is False) start the induction process."""
        self._set_running(True)
        self._inducting = induct
        if induct:
            self._schedule_induction(first=True)

    def stop_induction(self) -> None:
        """Induct no more parcels (the belt keeps running); ``reset``/``start`` may resume."""
        self._inducting = False
        if self._induction is not None:
            self._induction.cancel()
            self._induction = None

    def estop(self) -> None:
        """Emergency stop: belt and induction stop; every tracked item is aborted."""
        if self.plc.state == PlcState.ESTOP:
            return
        self._set_running(False)
        self.plc.state = PlcState.ESTOP
        if self._induction is not None:
            self._induction.cancel()
            self._induction = None
        for parcel in list(self.items.values()):
            self._finish(parcel, 0, ConfirmStatus.ABORTED)
            self.stats.aborted += 1
        log.warning("line %s: e-stop, belt stopped", self.line.name)

    def reset(self, induct: bool = True) -> None:
        """Clear an e-stop: the belt runs again and induction resumes."""
        if self.plc.state != PlcState.ESTOP:
            return
        self.start(induct)
        log.info("line %s: e-stop cleared, running", self.line.name)

    def run_for(self, seconds: float) -> int:
        """Advance simulated time by ``seconds``; return the number of events run."""
        return self.core.run_until(self.core.now + seconds)

    def induct(self, code: str | None = None, weight_kg: float | None = None) -> Parcel:
        """Put one parcel on the belt now (the PLC assigns its item_id)."""
        if not self._running:
            state = self.plc.state.name
            raise RuntimeError(f"line {self.line.name} is not running (state {state})")
        item_id = self._next_item
        self._next_item = self._next_item % reg.U32_MAX + 1
        if code is None or weight_kg is None:
            gen_code, gen_weight = self.parcel_source(item_id)
            code = code if code is not None else gen_code
            weight_kg = weight_kg if weight_kg is not None else gen_weight
        parcel = Parcel(item_id, code, weight_kg)
        self.items[item_id] = parcel
        self.stats.inducted += 1
        self._emit("inducted", parcel)
        self._start_lap(parcel)
        return parcel

    # --- physics ---------------------------------------------------------------------

    def encoder_count(self) -> int:
        """Return the belt encoder's pulse count now."""
        running = self._pulses_per_s * (self.now - self._belt_t) if self._running else 0.0
        return int(self._belt_count + running)

    def _set_running(self, running: bool) -> None:
        """Start or stop the belt, keeping the encoder count continuous."""
        self._belt_count = float(self.encoder_count())
        self._belt_t = self.now
        self._running = running
        self.plc.state = PlcState.RUNNING if running else PlcState.STOPPED

    def _at_position(self, parcel: Parcel, position_m: float) -> float:
        """Return the simulated second at which ``parcel`` reaches ``position_m`` on this lap."""
        target = parcel.lap_start_count + position_m * self._pulses_per_m
        return self._belt_t + (target - self._belt_count) / self._pulses_per_s

    def _start_lap(self, parcel: Parcel) -> None:
        """Schedule the passes of one lap (scanner, checkweigher, X-ray, decision point)."""
        line = self.line
        parcel.lap_start_count = self.encoder_count()
        parcel.answer = None
        parcel.target = None
        at = self._at_position
        parcel.timers = [
            self.core.at(at(parcel, line.scanner_m), self._scanned, parcel),
            self.core.at(at(parcel, line.checkweigher_m), self._weighed, parcel),
            self.core.at(at(parcel, line.xray_m), self._emit, "xray", parcel),
            self.core.at(at(parcel, line.decision_point_m), self._decide, parcel),
        ]
        parcel.decision_t = at(parcel, line.decision_point_m)

    def _scanned(self, parcel: Parcel) -> None:
        """The item left the scan tunnel: post its destination request."""
        self._emit("scanned", parcel)
        deadline_ms = int((parcel.decision_t - self.now) * 1000.0)
        old = self._slot_item.get(mm.slot_of(self.plc.request_head))
        if old is not None:
            old.slot = None
        parcel.requested_at, parcel.replied_at = self.stamp(), None
        parcel.slot = self.plc.post_request(parcel.item_id, deadline_ms)
        self._slot_item[parcel.slot] = parcel
        self._pending[parcel.item_id] = parcel
        self.stats.requests += 1
        for hook in self.on_request:
            hook()

    def _weighed(self, parcel: Parcel) -> None:
        """The item crossed the checkweigher."""
        if self.checkweigher is not None:
            self.checkweigher.weigh(parcel.item_id, parcel.weight_kg)
        self._emit("weighed", parcel)

    def _decide(self, parcel: Parcel) -> None:
        """The item reached the decision point: fix its chute."""
        self._close_request(parcel)
        line = self.line
        if self.rng.random() < line.lost_track_rate:
            self.stats.lost_track += 1
            self._finish(parcel, 0, ConfirmStatus.LOST_TRACK)
            return
        if parcel.answer is not None:
            self.stats.answered_in_time += 1
            parcel.target = parcel.answer[0]
        else:
            self.stats.no_answer += 1
            parcel.target = line.reject_chute
        self._emit("decided", parcel)
        pos = line.chute(parcel.target).position_m
        parcel.timers = [self.core.at(self._at_position(parcel, pos), self._at_chute, parcel)]

    def _at_chute(self, parcel: Parcel) -> None:
        """The item is at its target chute: divert, or recirculate when the lane is full."""
        line = self.line
        chute = parcel.target if parcel.target is not None else line.reject_chute
        if chute == line.reject_chute:
            status = ConfirmStatus.DIVERTED if parcel.answer else ConfirmStatus.NO_ANSWER
            self._finish(parcel, chute, status)
            return
        lane = self._lanes[chute]
        if lane.has_room(self.now):
            lane.add()
            self._finish(parcel, chute, ConfirmStatus.DIVERTED)
            return
        self.stats.recirculated += 1
        self._confirm(parcel.item_id, chute, ConfirmStatus.LANE_FULL)
        self._emit("recirculated", parcel)
        if parcel.lap >= line.recirculation_limit:
            self.stats.recirculation_limit += 1
            parcel.target = line.reject_chute
            pos = line.chute(line.reject_chute).position_m
            parcel.timers = [self.core.at(self._at_position(parcel, pos), self._at_chute, parcel)]
            return
        parcel.lap += 1
        t_next = self._at_position(parcel, line.loop_length_m)
        parcel.timers = [self.core.at(t_next, self._start_lap, parcel)]

    def _finish(self, parcel: Parcel, chute: int, status: ConfirmStatus) -> None:
        """Take the item off the belt and confirm where it went."""
        for timer in parcel.timers:
            timer.cancel()
        parcel.timers = []
        self._close_request(parcel)
        self.items.pop(parcel.item_id, None)
        if status in (ConfirmStatus.DIVERTED, ConfirmStatus.NO_ANSWER):
            self.stats.diverted[chute] = self.stats.diverted.get(chute, 0) + 1
        self._confirm(parcel.item_id, chute, status)
        reason = parcel.answer[1] if parcel.answer else 0
        parcel.disposition = Disposition(
            parcel.item_id,
            parcel.code,
            chute,
            status,
            parcel.lap,
            reason,
            parcel.answer is not None,
            parcel.reply_latency_s,
        )
        if self.keep_records:
            self.records.append(parcel.disposition)
        self._emit("finished", parcel)

    # --- registers -------------------------------------------------------------------

    def _close_request(self, parcel: Parcel) -> None:
        """Stop counting down the item's open request."""
        self._pending.pop(parcel.item_id, None)
        if parcel.slot is not None and self._slot_item.get(parcel.slot) is parcel:
            self.plc.set_deadline(parcel.slot, 0)
            del self._slot_item[parcel.slot]
        parcel.slot = None

    def _refresh_registers(self) -> None:
        """Bring the live registers up to date: heartbeat and the time left of open requests."""
        now = self.now
        self.plc.tick_heartbeat(now)
        for slot, parcel in self._slot_item.items():
            self.plc.set_deadline(slot, int((parcel.decision_t - now) * 1000.0))

    def _take_replies(self) -> None:
        """Take the edge's new replies, matching each by item_id; stamp each item's first."""
        now = self.stamp()
        for reply in self.plc.take_replies():
            self.stats.replies_taken += 1
            parcel = self._pending.get(reply.item_id)
            late = parcel is None and reply.item_id in self.items
            first = parcel or (self.items[reply.item_id] if late else None)
            if first is not None and first.replied_at is None:
                first.replied_at = now
                self._emit("replied", first)
            if parcel is None:
                if late:
                    self.stats.replies_late += 1
                    log.debug("plc: reply for item %d after its decision point", reply.item_id)
                else:
                    self.stats.replies_unknown += 1
                    log.debug("plc: reply for unknown item %d", reply.item_id)
                continue
            if reply.chute not in self._lanes:
                self.stats.replies_invalid += 1
                log.warning("plc: reply for item %d names no chute %d", reply.item_id, reply.chute)
                continue
            parcel.answer = (reply.chute, reply.reason)

    def _confirm(self, item_id: int, chute: int, status: ConfirmStatus) -> None:
        """Post a confirmation, spacing bursts so the edge can read them all."""
        self._confirm_queue.append((item_id, chute, status))
        if self._confirm_timer is None:
            self._drain_confirms()

    def _drain_confirms(self) -> None:
        """Post queued confirmations at most one per ``CONFIRM_GAP_S``."""
        self._confirm_timer = None
        if not self._confirm_queue:
            return
        wait = self._last_confirm_t + CONFIRM_GAP_S - self.now
        if wait <= 0:
            item_id, chute, status = self._confirm_queue.pop(0)
            self.plc.post_confirm(item_id, chute, status)
            self._last_confirm_t = self.now
            wait = CONFIRM_GAP_S
        if self._confirm_queue:
            self._confirm_timer = self.core.after(wait, self._drain_confirms)

    # --- induction and helpers -------------------------------------------------------

    def set_induction(self, rate_per_h: float, min_gap_m: float | None = None) -> None:
        """Change the arrival rate (parcels/h) and minimum gap (m) from the next arrival on.

        Raises ``LineConfigError`` when the belt cannot carry the rate at that gap.
        """
        update: dict[str, float] = {"rate_per_h": rate_per_h}
        if min_gap_m is not None:
            update["min_gap_m"] = min_gap_m
        induction = self.line.induction.model_copy(update=update)
        data = {**self.line.model_dump(), "induction": induction.model_dump()}
        self.line = check_line(data, f"induction {update}")

    def _schedule_induction(self, first: bool = False) -> None:
        """Schedule the next arrival: fixed spacing, or Poisson shifted by ``min_gap_m``.

        The shifted exponential keeps the configured mean rate while no two parcels are
        closer than the minimum gap.
        """
        ind = self.line.induction
        mean = 3600.0 / ind.rate_per_h
        least = ind.min_gap_m / self.line.belt_speed_m_s  # < mean (checked by the config)
        gap = least + self.rng.expovariate(1.0 / (mean - least)) if ind.mode == "poisson" else mean
        self._induction = self.core.after(0.0 if first else gap, self._arrive)

    def _arrive(self) -> None:
        """An arrival: induct a parcel and schedule the next one."""
        self._induction = None
        if not self._running or not self._inducting:
            return
        self.induct()
        if self._inducting:  # a listener may have stopped induction
            self._schedule_induction()

    def _random_parcel(self, item_id: int) -> tuple[str, float]:
        """Return a label and a weight for a generated parcel."""
        line = self.line
        weight = self.rng.uniform(line.parcel_weight_kg_min, line.parcel_weight_kg_max)
        return f"CL{item_id:010d}", round(weight, 3)

    def _emit(self, kind: str, parcel: Parcel) -> None:
        """Tell every listener what happened to ``parcel``."""
        for listener in self.listeners:
            listener(kind, parcel)
