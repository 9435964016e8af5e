"""``clearline sim …``: every device simulator as a process speaking its real protocol."""

from __future__ import annotations

import typer

sim_app = typer.Typer(
    name="sim",
    help="Run one device simulator (or the whole line) over its real protocol.",
    no_args_is_help=True,
)


def _register() -> None:
    """Attach the simulators' commands, grouped by transport."""
    from simulators.cli import modbus, serial, xray

    serial.register(sim_app)
    modbus.register(sim_app)
    xray.register(sim_app)


_register()
