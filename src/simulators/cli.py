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
    from simulators import cli_modbus, cli_serial, cli_xray

    cli_serial.register(sim_app)
    cli_modbus.register(sim_app)
    cli_xray.register(sim_app)


_register()
