"""The ``clearline`` command: one entry point, one sub-command per part of the site."""

from __future__ import annotations

import typer

from clearline.logs import setup_logging

app = typer.Typer(
    name="clearline",
    help="Clearline: customs-supervised parcel sites on real devices or simulators.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    log_level: str = typer.Option("INFO", "--log-level", help="Log level (DEBUG, INFO, ...)."),
) -> None:
    """Clearline: customs-supervised parcel sites on real devices or simulators."""
    setup_logging(log_level)


def _register() -> None:
    """Attach every sub-command; each lives beside the code it drives."""
    from clearline.bench.cli import bench_command
    from clearline.demo.command import demo_command
    from clearline.fleet import fleet_command
    from edge.cli import edge_app
    from hub.cli import user_admin as _user_admin  # noqa: F401  (registers the user commands)
    from hub.cli.commands import audit_app, hub_app
    from hub.cli.importing import import_command
    from hub.cli.trust import register as register_trust
    from simulators.cli import sim_app
    from simulators.cli.scenario import register as register_scenario

    app.command("import")(import_command)
    app.command("check")(__import__("clearline.check", fromlist=["x"]).check_command)
    app.command("bench")(bench_command)
    app.command("demo")(demo_command)
    sim_app.command("fleet")(fleet_command)
    app.add_typer(sim_app, name="sim")
    app.add_typer(hub_app, name="hub")
    app.add_typer(audit_app, name="audit")
    app.add_typer(edge_app, name="edge")
    register_scenario(app)
    __import__("clearline.xray_cli", fromlist=["register"]).register(app)
    register_trust(hub_app)


_register()


def main() -> None:
    """Run the command line."""
    app()


if __name__ == "__main__":
    main()
