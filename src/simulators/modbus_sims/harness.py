"""Run a Modbus simulator on a background loop thread: for pytest fixtures and scripts.

Both context managers stop everything they started (server, loop, thread) on exit.
State owned by the loop (the line model, a checkweigher runtime) must be touched through
``loop.run_sync(...)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from simulators.faults import FaultProfile
from simulators.line.runner import LineRunner
from simulators.modbus_sims.plc import build_runner
from simulators.modbus_sims.server import LoopThread, ModbusSimServer, RegisterImage
from simulators.modbus_sims.spec import PlcSpec


@contextmanager
def served_image(
    image: RegisterImage, **options: Any
) -> Iterator[tuple[ModbusSimServer, LoopThread]]:
    """Serve ``image`` on 127.0.0.1 (``port=0`` by default: an ephemeral port)."""
    loop = LoopThread("sim-image").start()
    server = ModbusSimServer(image, name=options.pop("name", "sim"), **options)
    try:
        loop.call(server.start())
        yield server, loop
    finally:
        loop.stop(server.stop)


@dataclass(frozen=True, slots=True)
class RunningPlc:
    """A standalone PLC simulator running in real time on a loop thread."""

    runner: LineRunner
    loop: LoopThread
    port: int


@contextmanager
def running_plc(
    spec: PlcSpec | None = None,
    *,
    port: int = 0,
    faults: FaultProfile | None = None,
    seed: int = 0,
    induct: bool = True,
) -> Iterator[RunningPlc]:
    """Run the standalone PLC (its line model in real time) on 127.0.0.1."""
    loop = LoopThread("sim-plc").start()
    runner = build_runner(
        spec or PlcSpec(),
        host="127.0.0.1",
        port=port,
        faults=faults or FaultProfile(),
        seed=seed,
        keep_records=True,
    )
    stop = asyncio.Event()
    try:
        loop.call(runner.start(induct))
        ticking = asyncio.run_coroutine_threadsafe(runner.keep_time(stop), loop.loop)
        plc_port = runner.plc_server.port if runner.plc_server is not None else 0
        yield RunningPlc(runner, loop, plc_port)
        loop.loop.call_soon_threadsafe(stop.set)
        ticking.result(5.0)
    finally:
        loop.stop(runner.stop)
