"""Checkweigher simulator: runtime (registers and weighing behaviour) and a standalone run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from contracts import registers as reg
from devices import modbus_maps as mm
from devices.modbus_maps import CheckweigherReading
from simulators.faults import FaultDice, FaultProfile
from simulators.modbus_sims.server import ModbusSimServer
from simulators.modbus_sims.spec import CheckweigherSpec

log = logging.getLogger(__name__)

_STABLE = 1 << 0
_MOTION = 1 << 1
_OVERLOAD = 1 << 2
_UNDERLOAD = 1 << 3


class CheckweigherRuntime:
    """The checkweigher's registers (0..90) and what happens when an item crosses it.

    Registers 0..5 show the last weighing; register 10 (``weigh_head``) counts the
    weighings posted and registers 11..90 keep the last 16 in the weighing ring (DESIGN
    section 6), so a host polling every 10 ms misses none at 100 weighings/s. Registers
    6..9 are reserved and read 0.

    Faults from the profile: ``stuck_value`` repeats the first weight forever;
    ``unstable_rate`` is the share of weighings reported in motion (noisy, not stable).
    """

    size = reg.WEIGH_RING.end_address + 1

    def __init__(
        self,
        spec: CheckweigherSpec | None = None,
        faults: FaultProfile | None = None,
        seed: int = 0,
    ) -> None:
        """Start with every register 0 (no weighing yet)."""
        self.spec = spec or CheckweigherSpec()
        self.faults = faults or FaultProfile()
        self.dice = FaultDice(self.faults, seed + 1)
        self.regs = [0] * self.size
        self.seq = 0
        self._stuck: float | None = None
        self.last: CheckweigherReading | None = None

    def set_faults(self, faults: FaultProfile) -> None:
        """Change the weighing faults from the next item on (a stuck value starts afresh)."""
        self.faults = faults
        self.dice.profile = faults
        self._stuck = None

    def weigh(self, item_id: int, weight_kg: float) -> CheckweigherReading:
        """Weigh one item (true weight ``weight_kg``); return what the registers now hold."""
        spec = self.spec
        status = _STABLE
        shown = weight_kg
        if self.faults.stuck_value:
            if self._stuck is None:
                self._stuck = weight_kg
            shown = self._stuck
        elif spec.noise_kg:  # a real load cell never repeats itself to the last digit
            shown = max(0.0, weight_kg + self.dice.rng.gauss(0.0, spec.noise_kg))
        if self.dice.hit(self.faults.unstable_rate):
            status = _MOTION
            shown = max(0.0, shown + self.dice.rng.uniform(-1, 1) * spec.motion_noise_kg)
        if shown > spec.capacity_kg:
            status, shown = _OVERLOAD, spec.capacity_kg
        elif shown < spec.min_kg:
            status = _UNDERLOAD
        self.seq = (self.seq + 1) % reg.U16_MOD
        reading = CheckweigherReading(round(shown, 5), status, item_id, self.seq)
        self.regs[: reg.CHECKWEIGHER_REGISTER_COUNT] = mm.encode_checkweigher(
            reading, spec.word_order
        )
        writes, _ = mm.weighing_writes(
            (self.seq - 1) % reg.U16_MOD, [(item_id, reading.weight_kg, status)], spec.word_order
        )
        mm.apply_writes(self.regs, writes)
        self.last = reading
        return reading

    def read(self, address: int, count: int) -> list[int]:
        """Return registers as the wire shows them."""
        if address < 0 or count < 1 or address + count > self.size:
            raise ValueError(f"registers {address}+{count} are outside 0..{self.size - 1}")
        return self.regs[address : address + count]

    def write(self, address: int, values: list[int]) -> None:
        """Refuse: every checkweigher register is read-only."""
        raise ValueError(f"checkweigher registers are read-only (write at {address})")


async def run_standalone(
    spec: CheckweigherSpec,
    *,
    host: str,
    port: int,
    faults: FaultProfile,
    seed: int,
    stop: asyncio.Event,
    ready: asyncio.Future[int] | None = None,
) -> CheckweigherRuntime:
    """Serve a checkweigher that weighs a random item every ``1/rate_per_s`` s until ``stop``."""
    runtime = CheckweigherRuntime(spec, faults, seed)
    server = ModbusSimServer(
        runtime, name="checkweigher", host=host, port=port, unit=spec.unit, faults=faults, seed=seed
    )
    bound = await server.start()
    if ready is not None and not ready.done():
        ready.set_result(bound)
    rng = random.Random(seed)
    item_id = 0
    period = 1.0 / spec.rate_per_s
    loop = asyncio.get_running_loop()
    next_t = loop.time()
    try:
        while not stop.is_set():
            item_id = item_id % reg.U32_MAX + 1
            runtime.weigh(item_id, rng.uniform(spec.weight_kg_min, spec.weight_kg_max))
            next_t += period
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, next_t - loop.time()))
    finally:
        await server.stop()
    return runtime
