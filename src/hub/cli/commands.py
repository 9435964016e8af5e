"""``clearline hub`` (serve, user add/passwd, apikey add) and ``clearline audit``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from contracts.clock import SystemClock
from hub.db import migrate
from hub.db.auth_models import Role, UserCreate
from hub.db.engine import StoreError, make_engine
from hub.services import users
from hub.services.errors import ServiceError
from hub.settings import HubSettings, HubSettingsError

hub_app = typer.Typer(help="The central hub service.", no_args_is_help=True)
user_app = typer.Typer(help="Hub users (people who log in).", no_args_is_help=True)
apikey_app = typer.Typer(help="Machine API keys (edges).", no_args_is_help=True)
audit_app = typer.Typer(help="The HMAC-chained audit log.", no_args_is_help=True)
hub_app.add_typer(user_app, name="user")
hub_app.add_typer(apikey_app, name="apikey")


@user_app.callback()
def _users() -> None:
    """Hub users (people who log in)."""


@apikey_app.callback()
def _apikeys() -> None:
    """Machine API keys (edges)."""


@audit_app.callback()
def _audit() -> None:
    """The HMAC-chained audit log."""


_DB_HELP = "Database URL (default: CLEARLINE_DATABASE_URL or sqlite:///var/clearline.db)."


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _database(db: str | None) -> Iterator[Engine]:
    """Open and migrate the hub database named by ``db`` or the settings, and bind the audit
    key (the changes made here are audited like those made in the pages)."""
    from hub.app import open_audit_key

    settings = HubSettings()
    url = db or settings.database_url
    try:
        engine = make_engine(url)
        migrate.upgrade(engine)
        open_audit_key(engine, settings)
    except (StoreError, HubSettingsError) as err:
        raise _fail(str(err)) from err
    try:
        yield engine
    finally:
        engine.dispose()


@hub_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port to listen on."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
    dev: bool = typer.Option(False, "--dev", help="Dev/demo mode: allows the dev admin password."),
    workers: int = typer.Option(
        1,
        "--workers",
        help="Hub processes on ports PORT..PORT+N-1 (PostgreSQL only), restarted if they die.",
    ),
) -> None:
    """Migrate the database and serve the hub API, pages and /metrics over HTTP."""
    import uvicorn

    from hub.app import create_app
    from hub.cli import workers as multi

    overrides: dict[str, object] = {"dev": True} if dev else {}
    if db:
        overrides["database_url"] = db
    try:
        settings = HubSettings(**overrides)  # type: ignore[arg-type]
        multi.check_workers(workers, settings.database_url)
        app = create_app(settings)  # migrates and prepares the database once, before any fork
    except (HubSettingsError, StoreError, ServiceError, multi.WorkersError) as err:
        raise _fail(str(err)) from err
    if workers > 1:
        app.state.engine.dispose()
        if settings.mqtt_url:  # made once here, not raced for by the processes
            from hub.ingest.trust import load_hub_key

            load_hub_key(settings.signing_key_path)
        cmds = [multi.worker_command(host, port + i, db, dev) for i in range(workers)]
        raise typer.Exit(multi.supervise(cmds, multi.worker_env(bool(settings.mqtt_url))))
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)


@hub_app.command("xray-purge")
def xray_purge(
    days: float | None = typer.Option(
        None, "--days", help="Purge images older than this (default CLEARLINE_XRAY_RETENTION_DAYS)."
    ),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Delete the X-ray images received more than DAYS ago (their review records stay)."""
    from datetime import timedelta

    from hub.db.jobs import run_exclusive
    from hub.ingest.xray_blobs import purge_before
    from hub.ingest.xray_store import ReviewSettings, XrayStore

    settings = ReviewSettings()
    keep = days if days is not None else settings.xray_retention_days
    if keep <= 0:
        raise _fail("give --days or set CLEARLINE_XRAY_RETENTION_DAYS (days to keep, > 0)")
    before = SystemClock().now() - timedelta(days=keep)
    with _database(db) as engine:
        store = XrayStore(settings, engine)
        ran, count = run_exclusive(
            engine,
            "xray-purge",
            lambda: purge_before(engine, store.root, before, in_database=store.engine is not None),
        )
    if not ran:
        raise _fail("another hub process is purging X-ray images right now", 1)
    typer.echo(f"{count} X-ray images received before {before:%Y-%m-%d %H:%M} UTC purged")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="Login name."),
    role: Role = typer.Option(..., "--role", help="operator, inspector, supervisor, filer, ..."),
    enterprise: str = typer.Option("", "--enterprise", help="Enterprise code (filers only)."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Add a user; the password is prompted for (or read from stdin)."""
    password = _read_password(password_stdin)
    with _database(db) as engine, Session(engine) as session:
        try:
            new = UserCreate(name=name, role=role, enterprise=enterprise, password=password)
            user = users.create_user(session, new, SystemClock().now())
        except (ServiceError, ValueError) as err:
            raise _fail(str(err)) from err
    typer.echo(f"user {user.name} added (role {user.role}, id {user.id})")


@user_app.command("passwd")
def user_passwd(
    name: str = typer.Argument(..., help="Login name."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the new password from the first line of stdin."
    ),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Set a user's password (run on the hub's host); its sessions end."""
    password = _read_password(password_stdin)
    with _database(db) as engine, Session(engine) as session:
        try:
            users.set_password(session, name, password)
        except ServiceError as err:
            raise _fail(str(err)) from err
    typer.echo(f"password of {name} changed; its sessions were ended")


@apikey_app.command("add")
def apikey_add(
    name: str = typer.Argument(..., help="Key name, e.g. the edge id."),
    role: Role = typer.Option(Role.EDGE, "--role", help="Role of the machine (usually edge)."),
    enterprise: str = typer.Option("", "--enterprise", help="Enterprise code (filer keys)."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Add a machine API key and print it once (it is stored only as a hash)."""
    with _database(db) as engine, Session(engine) as session:
        try:
            key, secret = users.create_api_key(session, name, role, SystemClock().now(), enterprise)
        except ServiceError as err:
            raise _fail(str(err)) from err
    typer.echo(f"API key {key.name} added (role {key.role}); send it as X-API-Key:")
    typer.echo(secret)


_KEY_HELP = "Audit key file (default: CLEARLINE_AUDIT_KEY_PATH, or var/audit.key with --dev)."


def _audit_engine(db: str | None, key_file: str | None) -> tuple[Engine, bytes]:
    """Open the database (unmigrated) and read the audit key (never made here)."""
    from hub.services.audit_key import AuditKeyError, read_key

    settings = HubSettings()
    try:
        key = read_key(Path(key_file or settings.audit_key_file()))
        engine = make_engine(db or settings.database_url)
    except (AuditKeyError, StoreError) as err:
        raise _fail(str(err)) from err
    return engine, key


@audit_app.command("verify")
def audit_verify(
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
    key_file: str | None = typer.Option(None, "--key", help=_KEY_HELP),
    anchor_file: Path | None = typer.Option(
        None, "--anchor", help="The last anchor (from audit anchor): catches a cut tail."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Check the keyed chain, the anchor and the audited tables; exit 1 naming what is bad."""
    from hub.services import audit

    anchor: Any = None
    if anchor_file is not None:
        try:
            anchor = json.loads(anchor_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise _fail(f"{anchor_file}: cannot read the anchor ({err})") from err
    engine, key = _audit_engine(db, key_file)
    try:
        report = audit.verify(engine, key=key, anchor=anchor)
    except SQLAlchemyError as err:
        raise _fail(f"cannot read the audit log: {type(err).__name__}") from err
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(report.as_json()))
    elif report.ok:
        typer.echo(f"audit log intact: {report.rows} rows, last seq {report.last_seq}")
        typer.echo(f"head hash {report.last_hash}")
        if report.anchor_seq is not None:
            typer.echo(f"row {report.anchor_seq} matches the anchor")
    else:
        where = f" at seq {report.first_bad_seq}" if report.first_bad_seq else ""
        typer.echo(f"audit log TAMPERED{where}: {report.problem}")
        for line in report.mismatches:
            typer.echo(f"  {line}")
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("anchor")
def audit_anchor(
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
    key_file: str | None = typer.Option(None, "--key", help=_KEY_HELP),
    out: Path | None = typer.Option(None, "--out", help="Write the anchor here (else stdout)."),
) -> None:
    """Export the head of the log (seq, hash, time, MAC) to keep away from the hub."""
    from hub.services import audit_check

    engine, key = _audit_engine(db, key_file)
    try:
        anchor = audit_check.make_anchor(engine, key, SystemClock().now())
    except SQLAlchemyError as err:
        raise _fail(f"cannot read the audit log: {type(err).__name__}") from err
    finally:
        engine.dispose()
    text = json.dumps(anchor, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as err:
        raise _fail(f"{out}: cannot write the anchor ({err.strerror})") from err
    typer.echo(f"anchor of row {anchor['seq']} written to {out}", err=True)
