"""Runs a ``LineModel`` in real time on an asyncio loop, serving its devices over Modbus TCP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass

from simulators.faults import FaultProfile
from simulators.line.clock import RealTimePacer
from simulators.line.config import LineConfig
from simulators.line.model import LineModel
from simulators.modbus_sims.checkweigher import CheckweigherRuntime
from simulators.modbus_sims.server import ModbusSimServer
from simulators.modbus_sims.spec import CheckweigherSpec

log = logging.getLogger(__name__)

#: Longest wall-clock sleep of the runner between two catch-ups, seconds.
MAX_IDLE_S = 0.02
#: Furthest the runner may fall behind the wall clock, wall seconds. Past it, simulated time
#: slips: a host stall (a paused VM, a starved process) stops the simulated belt with it
#: instead of moving every parcel on at once, when neither the simulator nor the edge ran.
MAX_LAG_S = 0.1
#: Slips remembered with their times (``LineRunner.slip_log``).
SLIP_LOG = 10_000
#: Least wall time between two warnings about slipped time, seconds.
_SLIP_LOG_S = 10.0
#: The edge counts as gone when its heartbeat has not moved for this long, seconds.
EDGE_HEARTBEAT_TIMEOUT_S = 0.5


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one simulated device listens."""

    host: str
    port: int


class LineRunner:
    """Keeps simulated time in step with the wall clock and serves the PLC/checkweigher."""

    def __init__(
        self,
        model: LineModel,
        *,
        plc_at: Endpoint | None,
        checkweigher_at: Endpoint | None = None,
        faults: FaultProfile | None = None,
        seed: int = 0,
        speed: float = 1.0,
    ) -> None:
        """Serve the PLC at ``plc_at`` and the checkweigher (when the model has one) too."""
        self.model = model
        model.stamp = time.perf_counter  # reply timing on the wall clock, as a host sees it
        self.pacer = RealTimePacer(speed)
        self.faults = faults or FaultProfile()
        line = model.line
        self.servers: list[ModbusSimServer] = []
        self.plc_server: ModbusSimServer | None = None
        self.checkweigher_server: ModbusSimServer | None = None
        if plc_at is not None:
            self.plc_server = ModbusSimServer(
                model.plc,
                name=f"plc {line.name}",
                host=plc_at.host,
                port=plc_at.port,
                unit=line.plc.unit,
                faults=self.faults,
                seed=seed,
                before_request=self.catch_up,
            )
            self.servers.append(self.plc_server)
        if checkweigher_at is not None and model.checkweigher is not None:
            self.checkweigher_server = ModbusSimServer(
                model.checkweigher,
                name=f"checkweigher {line.name}",
                host=checkweigher_at.host,
                port=checkweigher_at.port,
                unit=line.checkweigher.unit,
                faults=self.faults,
                seed=seed + 7,
                before_request=self.catch_up,
            )
            self.servers.append(self.checkweigher_server)
        self._edge_beat: int | None = None
        self._edge_beat_t = 0.0
        self._edge_alive: bool | None = None
        #: Times simulated time slipped behind the wall clock, and the wall seconds it lost.
        self.slips = 0
        self.slipped_s = 0.0
        #: When each slip happened (epoch seconds) and the wall seconds it held back; the
        #: simulator then ran up to ``MAX_LAG_S`` of belt at once (the last ``SLIP_LOG`` kept).
        self.slip_log: deque[tuple[float, float]] = deque(maxlen=SLIP_LOG)
        self._slip_logged_at: float | None = None

    def catch_up(self) -> None:
        """Run every simulated event that is due by the wall clock's present.

        A runner more than :data:`MAX_LAG_S` behind lets simulated time slip instead of
        running the whole stall at once (see :meth:`_slip`).
        """
        target = self.pacer.sim_now()
        behind_s = (target - self.model.now) / self.pacer.speed
        if behind_s > MAX_LAG_S:
            self._slip(behind_s - MAX_LAG_S)
            target = self.model.now + MAX_LAG_S * self.pacer.speed
        self.model.core.run_until(max(self.model.now, target))

    def _slip(self, wall_s: float) -> None:
        """Hold simulated time back by ``wall_s`` and say so, at most every few seconds."""
        self.pacer.slip(wall_s)
        self.slips += 1
        self.slipped_s += wall_s
        self.slip_log.append((time.time(), wall_s))
        now = time.monotonic()
        if self._slip_logged_at is None or now - self._slip_logged_at >= _SLIP_LOG_S:
            self._slip_logged_at = now
            log.warning(
                "line %s: the simulator ran %.0f ms behind the wall clock; simulated time "
                "held back (%d slips, %.2f s in all so far)",
                self.model.line.name,
                (wall_s + MAX_LAG_S) * 1000.0,
                self.slips,
                self.slipped_s,
            )

    def _watch_edge(self) -> None:
        """Log once when the edge heartbeat stops moving, and once when it moves again."""
        beat = self.model.plc.edge_heartbeat
        now = self.model.now
        if self._edge_beat is None:
            self._edge_beat, self._edge_beat_t = beat, now
        elif beat != self._edge_beat:
            self._edge_beat, self._edge_beat_t = beat, now
            if self._edge_alive is not True:
                log.info("line %s: edge heartbeat present", self.model.line.name)
            self._edge_alive = True
        elif self._edge_alive and now - self._edge_beat_t > EDGE_HEARTBEAT_TIMEOUT_S:
            log.warning("line %s: edge heartbeat lost", self.model.line.name)
            self._edge_alive = False

    async def start(self, induct: bool = True, run: bool = True) -> None:
        """Listen on every endpoint and (unless ``run`` is False) set the line running."""
        for server in self.servers:
            await server.start()
        self.pacer.restart(self.model.now)
        if run:
            self.model.start(induct)

    async def stop(self) -> None:
        """Stop serving."""
        for server in self.servers:
            await server.stop()

    async def keep_time(self, stop: asyncio.Event) -> None:
        """Run simulated events as the wall clock reaches them, until ``stop`` is set."""
        while not stop.is_set():
            self.catch_up()
            self._watch_edge()
            nxt = self.model.core.next_time()
            idle = MAX_IDLE_S if nxt is None else min(MAX_IDLE_S, self.pacer.wall_delay(nxt))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), idle)

    async def run(self, stop: asyncio.Event, induct: bool = True) -> None:
        """Start, then keep time until ``stop`` is set; always stops serving."""
        await self.start(induct)
        try:
            await self.keep_time(stop)
        finally:
            await self.stop()


def build_line(
    line: LineConfig, *, seed: int, faults: FaultProfile, keep_records: bool = False
) -> LineModel:
    """Return a line model with a checkweigher runtime configured from ``line``."""
    cw_spec = CheckweigherSpec(unit=line.checkweigher.unit, word_order=line.checkweigher.word_order)
    return LineModel(
        line,
        seed=seed,
        checkweigher=CheckweigherRuntime(cw_spec, faults, seed),
        keep_records=keep_records,
    )
