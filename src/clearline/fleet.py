"""``clearline sim fleet``: enrol N simulated edges at the hub and publish their signed events."""

from __future__ import annotations

import logging

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.clock import SystemClock
from hub.db import migrate
from hub.db.engine import StoreError, make_engine
from hub.services import edges
from hub.services.errors import Conflict
from hub.settings import HubSettings
from simulators.fleet import EVENTS_PER_PARCEL, Fleet

logger = logging.getLogger(__name__)


def fleet_ids(site: str, count: int) -> list[str]:
    """The edge ids of a fleet of ``count`` edges at ``site``."""
    return [f"{site}-fleet{n + 1}" for n in range(count)]


def enrol_fleet(engine: Engine, site: str, count: int) -> dict[str, Ed25519PrivateKey]:
    """Enrol (or re-key) the fleet's edges in the hub registry; return their signing keys."""
    keys: dict[str, Ed25519PrivateKey] = {}
    now = SystemClock().now()
    with Session(engine) as session:
        for edge_id in fleet_ids(site, count):
            try:
                done = edges.enrol(session, edge_id, site, now, with_api_key=False)
            except Conflict:
                session.rollback()
                done = edges.rotate(session, edge_id, now)
            keys[edge_id] = done.signing_key
    return keys


def fleet_command(
    edges_n: int = typer.Option(4, "--edges", min=1, max=500, help="Simulated edges."),
    parcels: int = typer.Option(60, "--parcels", min=1, help="Parcels each edge sends."),
    rate: float = typer.Option(
        1.0, "--rate", min=0, help="Parcels a second per edge (a line's pace); 0: flat out."
    ),
    site: str | None = typer.Option(None, "--site", help="Site id (default: CLEARLINE_SITE_ID)."),
    broker: str | None = typer.Option(
        None, "--broker", help="mqtt://HOST:PORT (default: CLEARLINE_MQTT_URL)."
    ),
    db: str | None = typer.Option(None, "--db", help="Hub database (to enrol the edges)."),
) -> None:
    """Enrol N edges at the hub and publish their signed parcel events at a line's pace."""
    settings = HubSettings()
    url = broker or settings.mqtt_url
    if not url:
        typer.echo("error: give --broker or set CLEARLINE_MQTT_URL", err=True)
        raise typer.Exit(2)
    the_site = site or settings.site_id
    try:
        engine = make_engine(db or settings.database_url)
        migrate.upgrade(engine)
        keys = enrol_fleet(engine, the_site, edges_n)
        engine.dispose()
    except StoreError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err
    fleet = Fleet(url, the_site, keys, parcels_per_s=rate)
    report = fleet.run(parcels)
    expected = edges_n * parcels * EVENTS_PER_PARCEL
    typer.echo(
        f"{report.events} of {expected} events sent by {edges_n} edges in "
        f"{report.seconds:.1f} s ({report.events / max(report.seconds, 1e-9):.0f} events/s)"
    )
    if report.events != expected:
        raise typer.Exit(1)
