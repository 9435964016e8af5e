"""``clearline sim line``: one line of a site file on simulators, every device on its transport."""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import typer

from contracts.topics import TopicError, check_segment
from devices.errors import DeviceError
from devices.mqtt_link import parse_mqtt_url
from simulators.faults import PROFILES, profile_named
from simulators.line.config import LineConfig, LineConfigError, load_site

log = logging.getLogger(__name__)

#: How often the command checks whether a scenario is finished, seconds.
_POLL_S = 0.2


def with_overrides(cfg: LineConfig, **options: Any) -> LineConfig:
    """Return ``cfg`` with command-line overrides applied and validated again.

    Keys: ``host`` (every device), ``port`` (PLC), ``checkweigher_port``, ``scanner_port``,
    ``rate`` (parcels/s), ``xray_width`` (px); None leaves the site file's value.
    """
    data = cfg.model_dump()
    places = {
        "port": ("plc", "port"),
        "checkweigher_port": ("checkweigher", "port"),
        "scanner_port": ("scanner", "port"),
        "xray_width": ("xray", "width_px"),
    }
    for name, value in options.items():
        if value is None:
            continue
        if name == "rate":
            data["induction"]["rate_per_h"] = value * 3600.0
        elif name == "host":
            for section in ("plc", "checkweigher", "scanner"):
                data[section]["host"] = value
        else:
            section, key = places[name]
            data[section][key] = value
    return LineConfig.model_validate(data)


def line_command(
    *,
    config: Path = typer.Option(..., "--config", exists=True, dir_okay=False, help="Site YAML."),
    line: str | None = typer.Option(None, "--line", help="Line name (default: the first)."),
    scenario: Path | None = typer.Option(
        None,
        "--scenario",
        exists=True,
        file_okay=False,
        help="Scenario folder (clearline scenario generate): induct its parcels.jsonl in order, "
        "then stop when every parcel has left the belt. Default: random parcels until Ctrl-C.",
    ),
    rate: float | None = typer.Option(
        None, "--rate", min=0.01, help="Override the induction rate, parcels per second."
    ),
    results: Path | None = typer.Option(
        None, "--results", dir_okay=False, help="Write every item's disposition here (JSONL)."
    ),
    host: str | None = typer.Option(
        None,
        "--host",
        help="Override the listen address of every device (PLC, checkweigher, scanner).",
    ),
    port: int | None = typer.Option(None, "--port", min=0, max=65535, help="Override PLC port."),
    checkweigher_port: int | None = typer.Option(
        None, "--checkweigher-port", min=0, max=65535, help="Override the checkweigher's port."
    ),
    scanner_port: int | None = typer.Option(
        None, "--scanner-port", min=0, max=65535, help="Override the tunnel scanner's TCP port."
    ),
    mqtt_url: str | None = typer.Option(
        None, "--mqtt-url", help="Broker for X-ray images, mqtt://HOST:PORT (default: site file)."
    ),
    site: str | None = typer.Option(None, "--site", help="Override the site id of the topics."),
    xray_width: int | None = typer.Option(
        None, "--xray-width", min=64, max=4096, help="Override the X-ray image width, px."
    ),
    no_xray: bool = typer.Option(False, "--no-xray", help="Run without the X-ray machine."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice (reproducible runs)."),
    fault: str = typer.Option(
        "none", "--fault", help=f"Fault profile for every device: {', '.join(PROFILES)}."
    ),
    speed: float = typer.Option(1.0, "--speed", min=0.01, max=1000, help="Simulated s per wall s."),
    wait_for_edge: float = typer.Option(
        0.0,
        "--wait-for-edge",
        min=0,
        max=600,
        help="Hold the belt until a host connects to the scanner (at most this many seconds).",
    ),
) -> None:
    """The whole line: PLC and checkweigher (Modbus TCP), tunnel scanner (TCP), X-ray (MQTT)."""
    from simulators.site.simulation import SiteSimulation
    from simulators.site.spec import SiteFaults, SiteSimError

    try:
        site_cfg = load_site(config)
        cfg = with_overrides(
            site_cfg.line(line),
            host=host,
            port=port,
            checkweigher_port=checkweigher_port,
            scanner_port=scanner_port,
            rate=rate,
            xray_width=xray_width,
        )
    except (LineConfigError, ValueError) as err:
        raise typer.BadParameter(str(err), param_hint="--config") from None
    try:
        faults = SiteFaults.everywhere(profile_named(fault))
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--fault") from None
    broker = None if no_xray else (mqtt_url or site_cfg.broker_url)
    try:
        if broker is not None:
            parse_mqtt_url(broker)
        site_id = check_segment(site or site_cfg.site, "site")
    except (DeviceError, TopicError) as err:
        raise typer.BadParameter(str(err)) from None
    sim = SiteSimulation(
        cfg,
        site=site_id,
        broker_url=broker,
        scenario=scenario,
        seed=seed,
        faults=faults,
        speed=speed,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            sim.start(belt=wait_for_edge <= 0)
        except SiteSimError as err:
            raise typer.BadParameter(str(err)) from None
        if wait_for_edge > 0:
            end = time.monotonic() + wait_for_edge
            while sim.scanner_clients == 0 and time.monotonic() < end and not stop.is_set():
                stop.wait(0.05)
            stop.wait(0.5)  # let the host's Modbus polling start too
            sim.start_belt()
        typer.echo(
            f"line {cfg.name}: plc {cfg.plc.host}:{sim.plc_port}, checkweigher "
            f"{cfg.checkweigher.host}:{sim.checkweigher_port}, "
            f"scanner {sim.scanner_url}, x-ray {broker or 'off'}"
        )
        while not stop.is_set():
            if scenario is not None and sim.wait_done(_POLL_S):
                break
            stop.wait(_POLL_S)
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if results is not None:
        written = sim.write_results(results)
        typer.echo(f"{written} item results written to {results}")
    s = sim.stats()
    typer.echo(
        f"inducted {s['inducted']}, finished {s['finished']}, answered in time "
        f"{s.get('answered_in_time', 0)}, no answer {s.get('no_answer', 0)}, late replies "
        f"{s.get('replies_late', 0)}, recirculated {s.get('recirculated', 0)}, aborted "
        f"{s.get('aborted', 0)}, scanner frames {s['frames_sent']} (lost {s['frames_lost']}), "
        f"images {s['images_published']} (failed {s['images_failed']})"
    )
