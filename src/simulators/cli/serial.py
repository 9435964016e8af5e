"""``clearline sim scanner|tunnel|scale``: the serial device simulators as commands."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, Literal

import typer

from simulators.faults import FaultProfile, profile_named
from simulators.serial_sims.codes import DEFAULT_CODES, read_codes_file
from simulators.serial_sims.handscan import HandScannerServer, HandScannerSpec
from simulators.serial_sims.links import Link, open_link
from simulators.serial_sims.scale import ScaleServer, ScaleSpec
from simulators.serial_sims.server import SimServer
from simulators.serial_sims.tunnel import TunnelServer, TunnelSpec

_SERIAL_HELP = (
    "Transport: --serial [PATH|URL] serves on a serial port or pyserial URL; --serial with no "
    "value (the default without --port) opens a pty and prints its path. --host/--port serve "
    "over TCP (hosts open socket://HOST:PORT). Stop with Ctrl-C or SIGTERM."
)
_CONTEXT = {"ignore_unknown_options": True, "allow_extra_args": True}

Host = Annotated[str, typer.Option("--host", help="TCP address to listen on.")]
Port = Annotated[int | None, typer.Option("--port", help="TCP port (0 picks a free one).")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the fault dice (reproducible).")]
Fault = Annotated[
    str, typer.Option("--fault", help="Fault profile: none, slow, split, junk, drop, ...")
]
CodesFile = Annotated[
    Path | None,
    typer.Option("--codes-file", help="File with one code per line (# comments allowed)."),
]
Aim = Annotated[str, typer.Option("--aim", help="AIM prefix put before each code ('' for none).")]


def _serial_arg(ctx: typer.Context) -> str | None:
    """Return the ``--serial`` value ("pty" when given bare), or None when absent."""
    args = list(ctx.args)
    value: str | None = None
    while args:
        arg = args.pop(0)
        if arg.startswith("--serial="):
            value = arg.split("=", 1)[1] or "pty"
        elif arg == "--serial":
            value = args.pop(0) if args and not args[0].startswith("-") else "pty"
        else:
            raise typer.BadParameter(f"unexpected argument {arg!r}", ctx=ctx)
    return value


def _faults(name: str) -> FaultProfile:
    """Return the named fault profile or a usage error listing the names."""
    try:
        return profile_named(name)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--fault") from err


def _codes(path: Path | None) -> tuple[str, ...]:
    """Return the codes from ``path``, or the built-in S10 ids."""
    if path is None:
        return DEFAULT_CODES
    try:
        return read_codes_file(path)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--codes-file") from err


def _link(ctx: typer.Context, host: str, port: int | None) -> Link:
    """Open the link the options ask for."""
    serial_url = _serial_arg(ctx)
    if serial_url is not None and port is not None:
        raise typer.BadParameter("use either --serial or --port, not both", ctx=ctx)
    try:
        return open_link(serial_url, host, port)
    except (OSError, ValueError) as err:
        typer.echo(f"cannot open the simulator's link: {err}", err=True)
        raise typer.Exit(1) from err


def serve_until_stopped(server: SimServer) -> None:
    """Start ``server``, print where it listens, and run until Ctrl-C or SIGTERM."""
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()

    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, _stop)
    try:
        server.start()
        typer.echo(f"{server.name} simulator listening on {server.address}")
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    typer.echo(f"{server.name} simulator stopped")


def scanner_command(
    ctx: typer.Context,
    *,
    host: Host = "127.0.0.1",
    port: Port = None,
    seed: Seed = 0,
    fault: Fault = "none",
    codes_file: CodesFile = None,
    aim: Aim = "]C1",
    no_read: Annotated[
        str, typer.Option("--no-read-string", help="What the scanner sends when it reads nothing.")
    ] = "NOREAD",
    rate: Annotated[
        float, typer.Option("--rate", min=0, help="Reads per second (0: only on SYN T CR).")
    ] = 0.0,
) -> None:
    """Hand scanner: one code per CR LF line, on serial trigger (SYN T CR) or at --rate."""
    spec = HandScannerSpec(_codes(codes_file), aim, no_read, rate)
    faults = _faults(fault)
    serve_until_stopped(HandScannerServer(spec, _link(ctx, host, port), faults, seed))


def tunnel_command(
    ctx: typer.Context,
    *,
    host: Host = "127.0.0.1",
    port: Port = None,
    seed: Seed = 0,
    fault: Fault = "none",
    codes_file: CodesFile = None,
    aim: Aim = "]C1",
    rate: Annotated[float, typer.Option("--rate", min=0, help="Items per second.")] = 1.0,
    first_item_id: Annotated[
        int, typer.Option("--first-item-id", min=0, help="Item id of the first frame.")
    ] = 1,
) -> None:
    """Tunnel scanner: STX item_id;status;codes ETX frames at --rate items per second."""
    spec = TunnelSpec(_codes(codes_file), aim, rate, first_item_id)
    faults = _faults(fault)
    serve_until_stopped(TunnelServer(spec, _link(ctx, host, port), faults, seed))


def scale_command(
    ctx: typer.Context,
    *,
    host: Host = "127.0.0.1",
    port: Port = None,
    seed: Seed = 0,
    fault: Fault = "none",
    weight_kg: Annotated[
        float, typer.Option("--weight-kg", help="Load on the platform, kg.")
    ] = 1.234,
    unit: Annotated[str, typer.Option("--unit", help="Display unit: kg, g or lb.")] = "kg",
    decimals: Annotated[int, typer.Option("--decimals", min=0, max=5, help="Decimals.")] = 3,
    capacity_kg: Annotated[
        float, typer.Option("--capacity-kg", min=0.001, help="Capacity, kg.")
    ] = 30.0,
    toledo: Annotated[
        bool, typer.Option("--toledo", help="Stream Toledo continuous output, not MT-SICS.")
    ] = False,
    stream_hz: Annotated[
        float, typer.Option("--stream-hz", min=0.1, help="Toledo frames per second.")
    ] = 10.0,
    no_checksum: Annotated[
        bool, typer.Option("--no-checksum", help="Toledo frames without the checksum byte.")
    ] = False,
) -> None:
    """Desk scale: answers MT-SICS (S, SI, Z, ZI, T, TAC) or streams Toledo continuous."""
    if unit not in {"kg", "g", "lb"}:
        raise typer.BadParameter(f"unit {unit!r} is not kg, g or lb", param_hint="--unit")
    chosen: Literal["kg", "g", "lb"] = "kg" if unit == "kg" else "g" if unit == "g" else "lb"
    spec = ScaleSpec(
        weight_kg=weight_kg,
        unit=chosen,
        decimals=decimals,
        capacity_kg=capacity_kg,
        toledo=toledo,
        stream_hz=stream_hz,
        toledo_checksum=not no_checksum,
    )
    faults = _faults(fault)
    serve_until_stopped(ScaleServer(spec, _link(ctx, host, port), faults, seed))


def register(app: typer.Typer) -> None:
    """Attach the ``scanner``, ``tunnel`` and ``scale`` commands to ``app``."""
    for name, command in (
        ("scanner", scanner_command),
        ("tunnel", tunnel_command),
        ("scale", scale_command),
    ):
        app.command(name, context_settings=_CONTEXT, epilog=_SERIAL_HELP)(command)


def main() -> None:
    """Run the serial simulators alone: ``python -m simulators.cli.serial scale --serial``."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = typer.Typer(name="sim", no_args_is_help=True, add_completion=False)
    register(app)
    app()


if __name__ == "__main__":
    main()
