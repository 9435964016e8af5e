"""``clearline sim xray`` (the X-ray machine over MQTT) and ``clearline sim broker``."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import typer

from devices.errors import DeviceError
from devices.mqtt_link import LinkSettings, MqttLink
from simulators.broker import BrokerError, EmbeddedBroker
from simulators.faults import profile_named
from simulators.xray.generator import GeneratorConfig, XrayGenerator
from simulators.xray.sim import XraySimSpec, XraySimulator

logger = logging.getLogger(__name__)

_CONNECT_WAIT_S = 10.0


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on Ctrl-C or SIGTERM while inside; restore the old handlers after."""

    def handler(signum: int, frame: FrameType | None) -> None:
        del frame
        logger.info("signal %s: stopping", signum)
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def xray_command(
    *,
    mqtt_url: str = typer.Option(
        "mqtt://127.0.0.1:1883", "--mqtt-url", envvar="CLEARLINE_MQTT_URL", help="Broker URL."
    ),
    site: str = typer.Option("site1", "--site", help="Site id (second topic level)."),
    device_id: str = typer.Option("xray1", "--device-id", help="Machine id in the topics."),
    seed: int = typer.Option(0, "--seed", help="Seed of contents, poses, noise and faults."),
    fault: str = typer.Option("none", "--fault", help="Fault profile (none, slow, drop, ...)."),
    rate: float = typer.Option(1.0, "--rate", min=0.01, help="Items scanned per second."),
    count: int | None = typer.Option(None, "--count", min=1, help="Stop after N items."),
    first_item_id: int = typer.Option(1, "--first-item-id", min=0, help="First item_id."),
    threat_rate: float = typer.Option(
        0.1, "--threat-rate", min=0.0, max=1.0, help="Share of parcels with a threat."
    ),
    width: int = typer.Option(1024, "--width", min=64, max=4096, help="Image width, pixels."),
    height: int = typer.Option(768, "--height", min=64, max=8192, help="Image height, pixels."),
    png_compression: int = typer.Option(
        0, "--png-compression", min=0, max=9, help="zlib level of the PNG (0 fastest to decode)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Also write {item_id}.png and {item_id}.json ground truth here."
    ),
) -> None:
    """Simulate an X-ray machine: publish a dual-energy PNG per item to its MQTT topic."""
    try:
        profile = profile_named(fault)
        spec = XraySimSpec(
            site=site,
            device_id=device_id,
            seed=seed,
            threat_rate=threat_rate,
            png_compression=png_compression,
        )
        link = MqttLink(LinkSettings(url=mqtt_url, site=site, kind="xray", device_id=device_id))
    except (ValueError, DeviceError) as err:
        raise typer.BadParameter(str(err)) from err
    generator = XrayGenerator(GeneratorConfig(width_px=width, height_px=height))
    stop = threading.Event()
    with _stop_on_signals(stop), link:
        try:
            link.wait_connected(_CONNECT_WAIT_S)
        except DeviceError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from err
        sim = XraySimulator(spec, link, generator=generator, fault=profile, out_dir=out)
        typer.echo(f"xray {device_id} publishing on {mqtt_url} at {rate} items/s", err=True)
        done = sim.run(rate, stop, count=count, first_item_id=first_item_id)
    typer.echo(f"{done} items scanned", err=True)


def broker_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(1883, "--port", min=0, max=65535, help="TCP port (0: a free one)."),
) -> None:
    """Run the embedded MQTT 3.1.1 broker until Ctrl-C."""
    stop = threading.Event()
    try:
        broker = EmbeddedBroker(host, port).start()
    except BrokerError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err
    typer.echo(f"MQTT broker listening on {broker.url} (Ctrl-C to stop)", err=True)
    with _stop_on_signals(stop):
        try:
            while not stop.wait(0.5):
                pass
        finally:
            broker.stop()


def register(app: typer.Typer) -> None:
    """Attach ``xray`` and ``broker`` to ``app``."""
    app.command("xray")(xray_command)
    app.command("broker")(broker_command)
