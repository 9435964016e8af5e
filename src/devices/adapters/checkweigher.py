"""In-line checkweigher adapter (Modbus TCP): each new ``weigh_seq`` becomes ``WeightMeasured``.

The adapter reads registers 0..5 in one request, so weight, status, item_id and
weigh_seq always belong to the same weighing. The first reading after start or after an
outage only sets the baseline (it is an old weighing). ``weight_kg`` is None when the
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
from devices.modbus_maps import CheckweigherReading

log = logging.getLogger(__name__)

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
        self._seq: int | None = None
        self.missed = 0
        self.max_repeats = max_repeats
        self._last_weight: float | None = None
        self._repeats = 0
        self.stuck = 0  # weighings refused as a stuck register

    @property
    def online(self) -> bool | None:
        """Return the last known availability (None before the first attempt)."""
        return self._online

    def read(self) -> CheckweigherReading:
        """Read and decode the six registers now (raises ``DeviceUnavailable``).

        Any other failure (an exception reply, registers that do not decode) is an outage
        too: reported offline at once, the connection dropped so the next read starts fresh.
        """
        try:
            block = self.endpoint.read_holding(0, reg.CHECKWEIGHER_REGISTER_COUNT)
            reading = mm.decode_checkweigher(block, self.word_order)
        except DeviceUnavailable as err:
            self._availability(False, err.detail)
            raise
        except (DeviceError, ValueError) as err:
            self.fault(str(err))
            raise DeviceUnavailable(self.device_id, f"read failed: {err}") from err
        self._availability(True, "")
        return reading

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

    def _track(self, reading: CheckweigherReading) -> list[WeightMeasured]:
        """Turn a reading into an event when its weigh_seq is new."""
        if self._seq is None:
            self._seq = reading.weigh_seq
            return []
        fresh = mm.new_entry_count(self._seq, reading.weigh_seq)
        if fresh == 0:
            return []
        if fresh > 1:
            self.missed += fresh - 1
            log.warning("device %s: missed %d weighings", self.device_id, fresh - 1)
        self._seq = reading.weigh_seq
        flags = reading.flags - {"stable"}
        weight: float | None = reading.weight_kg
        if flags & _NO_WEIGHT_FLAGS or weight is None or not math.isfinite(weight):
            weight = None
        elif reading.stable and self._is_stuck(weight):
            flags = flags | {"stuck"}
            weight = None
        return [
            WeightMeasured(
                self.device_id, reading.item_id, weight, reading.stable, self.clock.now(), flags
            )
        ]

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
                self.device_id, weight_kg, self._repeats + 1,
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
            self._seq = None
        self._online = online
        event = DeviceStateChanged(self.device_id, self.kind, online, self.clock.now(), detail)
        self.states.append(event)
        del self.states[:-100]
        if self._on_state is not None:
            self._on_state(event)
