"""In-line checkweigher adapter (Modbus TCP): each weighing in the ring becomes ``WeightMeasured``.

The adapter reads registers 0..90 in one request and follows the weighing ring (DESIGN
section 6: ``weigh_head`` at 10, 16 slots of item_id, weight, status at 11..90) from its
own cursor, so every weighing posted since the last poll is reported, in order, however
many arrived in between (up to 16; a gap larger than the ring is counted in ``missed``
and logged, never passed over silently). The first reading after start or after an
outage only sets the cursor (those are old weighings). ``weight_kg`` is None when the
status says overload, underload or zero error; ``stable`` is the stable bit without the
motion bit; ``flags`` names every other status bit that is set.

A checkweigher whose weight register is stuck keeps reporting one value for every item.
A real weighing never gives two successive parcels the very same float32 weight often
enough to trust it, so a stable weight identical to the previous ``max_repeats`` stable
weighings is reported as no weight, flagged ``stuck`` (the parcel is rejected, never
released on it).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from contracts import registers as reg
from contracts.clock import Clock, SystemClock
from contracts.registers import WordOrder
from devices import modbus_maps as mm
from devices.errors import DeviceError, DeviceUnavailable
from devices.events import DeviceStateChanged, WeightMeasured
from devices.modbus_client import ModbusEndpoint

log = logging.getLogger(__name__)

#: Registers read per poll: the last weighing (0..5), weigh_head (10) and the ring (11..90).
_BLOCK = reg.WEIGH_RING.end_address + 1
_NO_WEIGHT_FLAGS = frozenset({"overload", "underload", "zero_error"})
StateSink = Callable[[DeviceStateChanged], None]


class CheckweigherAdapter:
    """Polls one checkweigher; ``poll(timeout_s)`` fits the device layer's ``PollThread``."""

    kind = "checkweigher"

    def __init__(
        self,
        endpoint: ModbusEndpoint,
        *,
        word_order: WordOrder = "big",
        clock: Clock | None = None,
        on_state: StateSink | None = None,
        poll_interval_s: float = 0.02,
        max_repeats: int = 1,
    ) -> None:
        """Adapt ``endpoint``; the device id is the endpoint's.

        ``max_repeats``: how many successive weighings may repeat the exact same weight
        before it counts as a stuck register (1: the first repeat is already suspect).
        """
        self.endpoint = endpoint
        self.device_id = endpoint.device_id
        self.word_order: WordOrder = word_order
        self.clock: Clock = clock or SystemClock()
        self._on_state = on_state
        self.poll_interval_s = poll_interval_s
        self.states: list[DeviceStateChanged] = []
        self._online: bool | None = None
        self._head: int | None = None
        self.missed = 0  # weighings overwritten in the ring before they were read
        self.weighings = 0
        self.max_repeats = max_repeats
        self._last_weight: float | None = None
        self._repeats = 0
        self.stuck = 0  # weighings refused as a stuck register

    @property
    def online(self) -> bool | None:
        """Return the last known availability (None before the first attempt)."""
        return self._online

    def read(self) -> list[int]:
        """Read registers 0..90: last weighing, head and ring (raises ``DeviceUnavailable``).

        Any other failure (an exception reply, registers that do not decode) is an outage
        too: reported offline at once, the connection dropped so the next read starts fresh.
        """
        try:
            block = self.endpoint.read_holding(0, _BLOCK)
        except DeviceUnavailable as err:
            self._availability(False, err.detail)
            raise
        except (DeviceError, ValueError) as err:
            self.fault(str(err))
            raise DeviceUnavailable(self.device_id, f"read failed: {err}") from err
        self._availability(True, "")
        return block

    def fault(self, detail: str) -> None:
        """Report the checkweigher offline now and drop its connection; the next read reconnects.

        The weighing counter is kept: the device answered, so it did not restart.
        """
        if self._online is not False:
            log.warning("device %s: fault: %s", self.device_id, detail)
        self.endpoint.close()
        self._availability(False, detail, force=True)

    def poll(self, timeout_s: float = 0.0) -> list[WeightMeasured]:
        """Return new weighings, reading every ``poll_interval_s`` for up to ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            events = self._track(self.read())
            left = deadline - time.monotonic()
            if events or left <= 0:
                return events
            time.sleep(min(self.poll_interval_s, left))

    def _track(self, block: list[int]) -> list[WeightMeasured]:
        """Turn the ring entries posted since the cursor into events, oldest first."""
        if self._head is None:
            self._head = block[reg.WEIGH_RING.head_address]
            return []
        ring = mm.read_weighings(block, 0, self._head, self.word_order)
        self._head = ring.head
        if ring.lost:
            self.missed += ring.lost
            log.warning(
                "device %s: %d weighings overwritten in the ring before they were read "
                "(%d missed so far)",
                self.device_id,
                ring.lost,
                self.missed,
            )
        return [self.weighing(e.item_id, e.weight_kg, e.status) for e in ring.entries]

    def weighing(self, item_id: int, weight_kg: float, status: int) -> WeightMeasured:
        """Return the event of one weighing (weight None when the status or value forbids it)."""
        self.weighings += 1
        flags = mm.flags_from_status(status)
        stable = "stable" in flags and "motion" not in flags
        flags = flags - {"stable"}
        weight: float | None = weight_kg
        if flags & _NO_WEIGHT_FLAGS or not math.isfinite(weight_kg):
            weight = None
        elif stable and self._is_stuck(weight_kg):
            flags = flags | {"stuck"}
            weight = None
        return WeightMeasured(self.device_id, item_id, weight, stable, self.clock.now(), flags)

    def _is_stuck(self, weight_kg: float) -> bool:
        """Return True when ``weight_kg`` repeats the previous weighings more than allowed."""
        if weight_kg == self._last_weight:
            self._repeats += 1
        else:
            self._last_weight, self._repeats = weight_kg, 0
            return False
        if self._repeats < self.max_repeats:
            return False
        self.stuck += 1
        if self._repeats == self.max_repeats:
            log.warning(
                "device %s: weight %.3f kg repeated by %d weighings; register stuck?",
                self.device_id,
                weight_kg,
                self._repeats + 1,
            )
        return True

    def _availability(self, ok: bool, detail: str, *, force: bool = False) -> None:
        """Report a change of availability; a lone failed request is not an outage."""
        if not ok and self.endpoint.online and not force:
            return
        online = ok
        if online == self._online:
            return
        if not online and not force:
            self._head = None
        self._online = online
        event = DeviceStateChanged(self.device_id, self.kind, online, self.clock.now(), detail)
        self.states.append(event)
        del self.states[:-100]
        if self._on_state is not None:
            self._on_state(event)
