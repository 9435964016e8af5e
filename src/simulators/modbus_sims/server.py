"""A pymodbus TCP server around a register image, with fault injection, and a loop thread.

Registers are served at their 0-based wire addresses: the image is declared with
pymodbus' ``SimData``/``SimDevice`` (which use wire addresses), never with the deprecated
``ModbusSequentialDataBlock`` whose addresses are shifted by one. Every request goes
through one async action that applies the ``FaultProfile`` (delay and jitter, error
replies) and then reads or writes the image; dropped replies and disconnects are applied
where the reply is sent.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import DataType, SimData, SimDevice

from simulators.faults import FaultDice, FaultProfile

log = logging.getLogger(__name__)
T = TypeVar("T")


#: Holding-register addresses a Modbus request can name (0..65535).
_WIRE_ADDRESSES = 0x10000


class RegisterImage(Protocol):
    """Registers a simulator serves: ``read`` may refresh live values, ``write`` may refuse."""

    size: int

    def read(self, address: int, count: int) -> list[int]:
        """Return ``count`` registers from wire address ``address``."""
        ...

    def write(self, address: int, values: list[int]) -> None:
        """Store ``values`` from wire address ``address``; raise ValueError to refuse."""
        ...


class _FaultyHandler(ServerRequestHandler):
    """Connection handler that drops replies and cuts connections as the profile says."""

    def __init__(self, owner: _SimTcpServer, *args: Any) -> None:
        super().__init__(owner, *args)  # type: ignore[no-untyped-call]
        self._sim = owner.sim
        self._frames = 0

    def server_send(self, pdu: Any, addr: Any) -> None:
        """Send a reply unless the dice drop it or the connection is due to be cut."""
        sim = self._sim
        self._frames += 1
        limit = sim.faults.disconnect_after
        if limit is not None and self._frames >= limit:
            sim.disconnects += 1
            log.debug("%s: cutting the connection after %d frames", sim.name, self._frames)
            self.close()
            return
        if sim.dice.hit(sim.faults.drop_rate):
            sim.dropped += 1
            return
        super().server_send(pdu, addr)  # type: ignore[no-untyped-call]


class _SimTcpServer(ModbusTcpServer):
    """pymodbus TCP server whose connections use ``_FaultyHandler``."""

    def __init__(self, sim: ModbusSimServer, devices: list[SimDevice], address: tuple[str, int]):
        self.sim = sim
        super().__init__(devices, address=address)

    def callback_new_connection(self) -> _FaultyHandler:
        """Build the handler of a new client connection."""
        return _FaultyHandler(self, self.trace_packet, self.trace_pdu, self.trace_connect)


class ModbusSimServer:
    """Serves one ``RegisterImage`` as a Modbus TCP unit, with faults; lives on an asyncio loop."""

    def __init__(
        self,
        image: RegisterImage,
        *,
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        unit: int = 1,
        faults: FaultProfile | None = None,
        seed: int = 0,
        before_request: Callable[[], None] | None = None,
    ) -> None:
        """Describe the server; ``port=0`` picks a free port at ``start()``.

        ``before_request`` runs before each request touches the image (the line runner
        uses it to bring simulated time up to the present).
        """
        self.image = image
        self.name = name
        self.host = host
        self.port = port
        self.unit = unit
        self.faults = faults or FaultProfile()
        self.dice = FaultDice(self.faults, seed)
        self.before_request = before_request
        self.requests = 0
        self.errors = 0
        self.dropped = 0
        self.disconnects = 0
        self._server: _SimTcpServer | None = None

    def _devices(self) -> list[SimDevice]:
        """Return the served unit, plus a catch-all that answers other unit ids with 0x0B."""
        unit = SimDevice(
            id=self.unit,
            simdata=[SimData(0, count=self.image.size, values=0, datatype=DataType.REGISTERS)],
            action=self._action,
        )
        if self.unit == 0:
            return [unit]
        # pymodbus checks the address range before it calls the action, so the catch-all spans
        # every wire address: a wrong unit id gets 0x0B whatever it asks for.
        other = SimDevice(
            id=0,
            simdata=[SimData(0, count=_WIRE_ADDRESSES, values=0, datatype=DataType.REGISTERS)],
            action=self._no_such_unit,
        )
        return [unit, other]

    async def _no_such_unit(self, *_: Any) -> ExcCodes:
        """Answer a request for another unit id as a gateway would."""
        return ExcCodes.GATEWAY_NO_RESPONSE

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Apply faults, then copy the image into the reply or the request into the image."""
        self.requests += 1
        delay = self.dice.delay_s()
        if delay > 0:
            await asyncio.sleep(delay)
        if self.dice.hit(self.faults.error_rate):
            self.errors += 1
            return ExcCodes.DEVICE_BUSY
        if self.faults.refuse_rate and self.dice.hit(self.faults.refuse_rate):
            self.errors += 1
            return ExcCodes.ILLEGAL_ADDRESS
        if self.before_request is not None:
            self.before_request()
        if set_values is None:
            try:
                values = self.image.read(address, count)
            except ValueError:
                return ExcCodes.ILLEGAL_ADDRESS
            lo = address - start_address
            registers[lo : lo + count] = values
            return None
        try:
            self.image.write(address, [int(v) for v in set_values])
        except ValueError as err:
            log.debug("%s: write refused: %s", self.name, err)
            return ExcCodes.ILLEGAL_ADDRESS
        return None

    async def start(self) -> int:
        """Listen; return the bound TCP port."""
        server = _SimTcpServer(self, self._devices(), (self.host, self.port))
        await server.serve_forever(background=True)
        self._server = server
        sockets = getattr(server.transport, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("%s: Modbus TCP unit %d on %s:%d", self.name, self.unit, self.host, self.port)
        return self.port

    async def stop(self) -> None:
        """Close the listener and every client connection."""
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]
            log.info("%s: stopped", self.name)


class LoopThread:
    """An asyncio loop on its own thread: for pytest fixtures and embedding in sync code."""

    def __init__(self, name: str = "sim-loop") -> None:
        """Create the loop; ``start()`` runs it."""
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> LoopThread:
        """Start the thread."""
        self._thread.start()
        return self

    def call(self, coro: Coroutine[Any, Any, T], timeout_s: float = 10.0) -> T:
        """Run ``coro`` on the loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def run_sync(self, fn: Callable[[], T], timeout_s: float = 10.0) -> T:
        """Run a plain function on the loop thread (safe access to loop-owned state)."""

        async def wrap() -> T:
            return fn()

        return self.call(wrap(), timeout_s)

    def stop(self, before: Callable[[], Awaitable[None]] | None = None) -> None:
        """Run ``before`` (e.g. server shutdown), cancel leftover tasks, end the thread."""
        if not self._thread.is_alive():
            return

        async def finish() -> None:
            if before is not None:
                await before()
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.call(finish())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10.0)
            self.loop.close()
