"""``clearline edge run``: run one line's edge until interrupted."""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from edge.config import EdgeConfigError, load_edge_site
from inspection.rules import RulesError, load_rules

if TYPE_CHECKING:
    from edge.desk.view import DeskView
    from edge.line.standby import EdgeLock

log = logging.getLogger(__name__)

edge_app = typer.Typer(name="edge", help="Run the edge of one sorting line.", no_args_is_help=True)


@edge_app.command("run")
def run_command(
    config: Path = typer.Option(..., "--config", help="Site file (YAML) with an 'edges' list."),
    edge_id: str | None = typer.Option(None, "--edge", help="Which edge of the file to run."),
    rules_path: Path | None = typer.Option(None, "--rules", help="Rules YAML (default packaged)."),
    standby: bool = typer.Option(
        False, "--standby", help="Supervise the edge with a warm spare that takes over at once."
    ),
    spare: bool = typer.Option(
        False, "--spare", hidden=True, help="Wait for the store's lock, then run (a worker)."
    ),
) -> None:
    """Connect to the line's devices, the broker and the hub, and decide every parcel."""
    from edge.line.standby import EdgeBusyError, EdgeLock, Supervisor, worker_command

    try:
        site = load_edge_site(config)
        cfg = site.edge(edge_id)
        rules = load_rules(rules_path)
    except (EdgeConfigError, RulesError) as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from None
    done = threading.Event()
    if standby:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
        log.info("edge %s: supervising an active edge and a warm spare", cfg.edge_id)
        Supervisor(worker_command(config, edge_id, rules_path), done).run()
        return
    # everything a takeover needs is imported before the lock is taken
    from edge.line.plc_process import WarmProcess
    from edge.line.runtime import EdgeRuntime, prepare_screen
    from edge.trust import KeyFileError

    screen = prepare_screen(cfg)
    # the PLC link's process is started now too: a takeover only tells it to go
    warm = WarmProcess() if cfg.plc_link == "process" else None
    lock = EdgeLock(cfg.store_dir)
    try:
        if spare:
            _wait_for_lock(lock, cfg.edge_id)
        else:
            lock.acquire(wait=False)
    except EdgeBusyError as err:
        if warm is not None:
            warm.close()
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from None
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        runtime = EdgeRuntime(site.site, cfg, rules, screen=screen, lock=lock, plc_process=warm)
    except KeyFileError as err:
        if warm is not None:
            warm.close()
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from None
    runtime.start()
    try:
        done.wait()
    finally:
        runtime.stop()


def _wait_for_lock(lock: EdgeLock, edge_id: str) -> None:
    """Wait as the warm spare until the active edge is gone (SIGTERM meanwhile: exit)."""

    def leave(*_: object) -> None:
        raise SystemExit(0)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, leave)
    # what the imports built is frozen out of the collector now, not during the takeover
    gc.collect()
    gc.freeze()
    log.info("edge %s: warm spare (pid %d) waiting for %s", edge_id, os.getpid(), lock.path)
    lock.acquire(wait=True)
    log.info("edge %s: pid %d is now the active edge", edge_id, os.getpid())


@edge_app.command("desk")
def desk_command(
    config: Path = typer.Option(..., "--config", help="Site file (YAML) with a 'desks' list."),
    desk_id: str | None = typer.Option(None, "--desk", help="Which desk of the file to run."),
    plain: bool = typer.Option(False, "--plain", help="One line per parcel instead of a screen."),
    rules_path: Path | None = typer.Option(None, "--rules", help="Rules YAML (default packaged)."),
) -> None:
    """Run a manual desk: scan, weigh, and see where each parcel goes and why."""
    from devices.mqtt_link import DeviceError
    from edge.desk.runtime import DeskRuntime
    from edge.desk.session import DeskError
    from edge.desk.view import DeskView, plain_line
    from edge.trust import KeyFileError

    try:
        site = load_edge_site(config)
        cfg = site.desk(desk_id)
        rules = load_rules(rules_path)
    except (EdgeConfigError, RulesError) as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from None
    view = DeskView(cfg.desk_id)
    try:
        if plain:
            runtime = DeskRuntime(
                site.site, cfg, rules, on_result=lambda r: typer.echo(plain_line(r))
            )
        else:
            runtime = DeskRuntime(site.site, cfg, rules, on_result=view.show, on_status=view.status)
    except (DeskError, DeviceError, KeyFileError) as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from None
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    runtime.start()
    try:
        if plain:
            done.wait()
        else:
            _live(view, done)
    finally:
        runtime.stop()


def _live(view: DeskView, done: threading.Event) -> None:
    """Redraw the desk screen until ``done``; log lines print above it, not across it."""
    import sys

    from rich.live import Live

    handlers = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    with Live(view.render(), refresh_per_second=4, redirect_stderr=True) as live:
        old = [h.setStream(sys.stderr) for h in handlers]  # the Live's stderr proxy
        try:
            while not done.wait(0.25):
                live.update(view.render())
        finally:
            for h, stream in zip(handlers, old, strict=True):
                if stream is not None:
                    h.setStream(stream)
