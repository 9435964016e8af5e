"""``clearline hub edge …`` (enrol, rotate, revoke, list) and ``clearline hub broker-config``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from sqlmodel import Session

from contracts.clock import SystemClock
from devices.signing import KeyFileError, key_id
from hub.cli.commands import _database, _fail
from hub.ingest.trust import load_hub_key
from hub.services import edges
from hub.services.enrol_files import write_broker_config, write_enrolment
from hub.services.errors import ServiceError
from hub.settings import HubSettings

edge_app = typer.Typer(
    help="Edges enrolled at this hub (keys, broker users).", no_args_is_help=True
)

_DB_HELP = "Database URL (default: CLEARLINE_DATABASE_URL)."


@edge_app.callback()
def _edges() -> None:
    """Enrol edges, rotate and revoke their keys."""


@edge_app.command("enrol")
def enrol(
    edge_id: str = typer.Argument(..., help="The edge id (its topic level)."),
    out: Path | None = typer.Option(None, "--out", help="Directory for its files (enrol-EDGE_ID)."),
    site: str | None = typer.Option(None, "--site", help="Site id (default: CLEARLINE_SITE_ID)."),
    device: list[str] = typer.Option([], "--device", help="A device the edge publishes for."),
    broker_url: str = typer.Option(
        "mqtts://127.0.0.1:8883", "--broker-url", help="The broker as the edge reaches it."
    ),
    rotate: bool = typer.Option(False, "--rotate", help="New keys for an enrolled edge."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Issue an edge its signing key, broker user and password, an API key bound to it."""
    settings = HubSettings()
    target = out or Path(f"enrol-{edge_id}")
    now = SystemClock().now()
    try:
        hub_key = load_hub_key(settings.signing_key_path)
    except KeyFileError as err:
        raise _fail(str(err)) from err
    with _database(db) as engine, Session(engine) as session:
        try:
            if rotate:
                done = edges.rotate(session, edge_id, now)
            else:
                done = edges.enrol(
                    session, edge_id, site or settings.site_id, now, devices=list(device)
                )
        except ServiceError as err:
            raise _fail(str(err)) from err
    files = write_enrolment(done, target, hub_key, broker_url)
    typer.echo(f"edge {edge_id} {'re-keyed' if rotate else 'enrolled'} for site {done.site}")
    typer.echo(f"  signing key   {files.signing_key} (key id {key_id(done.signing_key)})")
    typer.echo(f"  hub key       {files.hub_public_key} (key id {key_id(hub_key)})")
    typer.echo(f"  broker user   {done.broker_user}, password in {files.broker_password}")
    if files.api_key is not None:
        typer.echo(f"  API key       {files.api_key} (bound to edge {edge_id})")
    typer.echo(f"  site file     {files.site_snippet}")
    typer.echo("Run `clearline hub broker-config` again so the broker knows the new password.")


@edge_app.command("revoke")
def revoke(
    edge_id: str = typer.Argument(..., help="The edge id."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Refuse the edge's events and API calls from now on (and drop its broker user)."""
    with _database(db) as engine, Session(engine) as session:
        try:
            edges.revoke(session, edge_id, SystemClock().now())
        except ServiceError as err:
            raise _fail(str(err)) from err
    typer.echo(f"edge {edge_id} revoked; run `clearline hub broker-config` to drop its user")


@edge_app.command("list")
def list_edges(
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """The registry of enrolled edges."""
    with _database(db) as engine, Session(engine) as session:
        rows = edges.registry(session)
    shown = [
        {
            "edge_id": r["edge_id"],
            "site": r["site"],
            "broker_user": r["broker_user"],
            "devices": r["devices"],
            "enrolled_at": str(r["enrolled_at"]),
            "revoked": r["revoked_at"] is not None,
            "rotating": r["previous_key"] is not None,
        }
        for r in rows
    ]
    if as_json:
        typer.echo(json.dumps(shown))
        return
    for r in shown:
        state = "revoked" if r["revoked"] else ("rotating" if r["rotating"] else "active")
        typer.echo(f"{r['edge_id']:<20} {r['site']:<12} {r['broker_user']:<24} {state}")


@edge_app.command("alarms")
def alarms(
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="Newest N alarms."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Messages refused at the trust boundary (forged, unsigned, foreign, conflicting)."""
    from sqlalchemy import select

    from hub.db.trust_models import TRUST_ALARM

    with _database(db) as engine, engine.connect() as conn:
        rows = conn.execute(
            select(TRUST_ALARM).order_by(TRUST_ALARM.c.at.desc()).limit(limit)
        ).mappings()
        shown = [
            {k: str(v) if v is not None else None for k, v in r.items() if k != "alarm_id"}
            for r in rows
        ]
    if as_json:
        typer.echo(json.dumps(shown))
        return
    for r in shown:
        typer.echo(f"{r['at']}  {r['kind']:<10} edge {r['edge_id']:<16} {r['detail']}")


def broker_config(
    out: Path = typer.Option(..., "--out", help="Directory for passwd, acl, mosquitto.conf."),
    hub_password_file: Path | None = typer.Option(
        None, "--hub-password-file", help="The hub's broker password (made when missing)."
    ),
    device: list[str] = typer.Option([], "--device", help="A lone device account to add."),
    port: int = typer.Option(8883, "--port", help="The TLS listener's port."),
    certfile: str = typer.Option("", "--certfile", help="Server certificate (DIR/server.crt)."),
    keyfile: str = typer.Option("", "--keyfile", help="Server key (DIR/server.key)."),
    cafile: str = typer.Option("", "--cafile", help="CA certificate (DIR/ca.crt)."),
    site: str | None = typer.Option(None, "--site", help="Site id (default: CLEARLINE_SITE_ID)."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Write the Mosquitto password file, ACL and TLS listener from the registry of edges."""
    settings = HubSettings()
    with _database(db) as engine, Session(engine) as session:
        done = write_broker_config(
            session,
            out,
            site or settings.site_id,
            hub_password_file=hub_password_file,
            devices=list(device),
            port=port,
            tls=(certfile, keyfile, cafile),
        )
    typer.echo(f"broker files in {out}: passwd, acl, mosquitto.conf ({len(done['users'])} users)")
    typer.echo(
        f"the hub connects as {done['hub_user']}; its password is in {done['hub_password_file']}"
    )


def register(hub_app: typer.Typer) -> None:
    """Add ``edge`` and ``broker-config`` to ``clearline hub``."""
    hub_app.add_typer(edge_app, name="edge")
    hub_app.command("broker-config")(broker_config)
