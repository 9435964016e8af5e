"""``clearline sim plc|checkweigher|line``: the Modbus TCP simulators (``line`` is in ``site``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

import typer

from simulators.faults import FaultProfile, profile_named

log = logging.getLogger(__name__)

_HOST = typer.Option("127.0.0.1", "--host", help="Address to listen on.")
_SEED = typer.Option(0, "--seed", help="Seed of every random choice (reproducible runs).")
_FAULT = typer.Option(
    "none", "--fault", help="Fault profile: none, slow, drop, errors, disconnect, stuck, unstable."
)


def _faults(name: str) -> FaultProfile:
    """Return the named profile or stop with a usage error."""
    try:
        return profile_named(name)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--fault") from None


def _run_until_signal(main: Callable[[asyncio.Event], Awaitable[object]]) -> None:
    """Run ``main(stop)`` until Ctrl-C or SIGTERM sets ``stop``; then return cleanly."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())
    log.info("stopped")


def plc_command(
    *,
    host: str = _HOST,
    port: int = typer.Option(5020, "--port", min=0, max=65535, help="TCP port (0: any free)."),
    rate: float = typer.Option(4.0, "--rate", min=0.01, max=100, help="Items inducted per second."),
    seed: int = _SEED,
    fault: str = _FAULT,
    word_order: str = typer.Option("big", "--word-order", help="u32 word order: big or little."),
    chutes: int = typer.Option(8, "--chutes", min=1, max=200, help="Ordinary chutes 1..N."),
    reject_chute: int = typer.Option(99, "--reject-chute", min=1, help="Reject chute number."),
) -> None:
    """Sorter PLC over Modbus TCP: inducts at --rate and posts destination requests."""
    from simulators.modbus_sims.plc import run_standalone
    from simulators.modbus_sims.spec import PlcSpec

    spec = PlcSpec.model_validate(
        {
            "rate_per_s": rate,
            "word_order": word_order,
            "chutes": chutes,
            "reject_chute": reject_chute,
        }
    )
    faults = _faults(fault)
    _run_until_signal(
        lambda stop: run_standalone(spec, host=host, port=port, faults=faults, seed=seed, stop=stop)
    )


def checkweigher_command(
    *,
    host: str = _HOST,
    port: int = typer.Option(5021, "--port", min=0, max=65535, help="TCP port (0: any free)."),
    rate: float = typer.Option(2.0, "--rate", min=0.01, max=1000, help="Items weighed per second."),
    seed: int = _SEED,
    fault: str = _FAULT,
    word_order: str = typer.Option("big", "--word-order", help="float32/u32 word order."),
) -> None:
    """In-line checkweigher over Modbus TCP: weighs a random item every 1/--rate seconds."""
    from simulators.modbus_sims.checkweigher import run_standalone
    from simulators.modbus_sims.spec import CheckweigherSpec

    spec = CheckweigherSpec.model_validate({"rate_per_s": rate, "word_order": word_order})
    faults = _faults(fault)
    _run_until_signal(
        lambda stop: run_standalone(spec, host=host, port=port, faults=faults, seed=seed, stop=stop)
    )


def register(app: typer.Typer) -> None:
    """Attach ``plc``, ``checkweigher`` and ``line`` to ``app``."""
    from simulators.site.cli import line_command

    app.command("plc")(plc_command)
    app.command("checkweigher")(checkweigher_command)
    app.command("line")(line_command)
