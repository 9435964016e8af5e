"""``clearline hub user list|disable|enable|reset-password|role|sites``: user administration."""

from __future__ import annotations

import json

import typer
from sqlmodel import Session

from contracts.clock import SystemClock
from hub.cli.commands import _DB_HELP, _database, _fail, _read_password, user_app
from hub.db.auth_models import Role
from hub.services import sites as site_service
from hub.services import user_admin, users
from hub.services.errors import ServiceError


@user_app.command("list")
def user_list(
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Every user with role, enterprise and whether it may log in."""
    with _database(db) as engine, Session(engine) as session:
        limited = site_service.sites_by_user(session)
        people = [
            {
                "name": u.name,
                "role": Role(u.role).value,
                "enterprise": u.enterprise,
                "active": u.active,
                "sites": limited.get(u.name, []),
            }
            for u in users.list_users(session)
        ]
    if as_json:
        typer.echo(json.dumps(people, ensure_ascii=False, indent=2))
        return
    for p in people:
        state = "active" if p["active"] else "DISABLED"
        sites = ",".join(p["sites"]) or "all sites"  # type: ignore[arg-type]
        typer.echo(
            f"{p['name']:<24} {p['role']:<11} {p['enterprise'] or '-':<20} {state:<9} {sites}"
        )


def _change(db: str | None, what: str, change: object) -> None:
    """Run one change against the hub database, failing in words."""
    with _database(db) as engine, Session(engine) as session:
        try:
            change(session)  # type: ignore[operator]
        except ServiceError as err:
            raise _fail(err.message) from err
    typer.echo(what)


@user_app.command("disable")
def user_disable(
    name: str = typer.Argument(..., help="Login name."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Stop a user from logging in and end its sessions."""
    now = SystemClock().now()
    _change(db, f"user {name} disabled", lambda s: user_admin.set_active(s, name, False, now))


@user_app.command("enable")
def user_enable(
    name: str = typer.Argument(..., help="Login name."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Let a disabled user log in again."""
    now = SystemClock().now()
    _change(db, f"user {name} enabled", lambda s: user_admin.set_active(s, name, True, now))


@user_app.command("reset-password")
def user_reset_password(
    name: str = typer.Argument(..., help="Login name."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Set a new password (prompted for, or from stdin) and end the user's sessions."""
    password = _read_password(password_stdin)
    now = SystemClock().now()
    _change(
        db,
        f"password of {name} reset",
        lambda s: user_admin.reset_password(s, name, password, now),
    )


@user_app.command("role")
def user_role(
    name: str = typer.Argument(..., help="Login name."),
    role: Role = typer.Argument(..., help="operator, inspector, supervisor, filer, admin, ..."),
    enterprise: str = typer.Option("", "--enterprise", help="Enterprise code (filers only)."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Give a user another role."""
    now = SystemClock().now()
    _change(
        db,
        f"user {name} is now {role.value}",
        lambda s: user_admin.set_role(s, name, role, now, enterprise),
    )


@user_app.command("sites")
def user_sites(
    name: str = typer.Argument(..., help="Login name."),
    sites: list[str] = typer.Argument(
        None, help="Site ids the user may see (none, or --all: every site)."
    ),
    every: bool = typer.Option(False, "--all", help="Let the user see every site again."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Limit a user to some sites (pages, lists, counts, exports and the API), or --all."""
    chosen = [] if every else list(sites or [])
    if not chosen and not every:
        raise _fail("give the user's sites, or --all for every site")
    now = SystemClock().now()
    what = f"user {name} sees " + (", ".join(sorted(set(chosen))) if chosen else "every site")
    _change(db, what, lambda s: site_service.set_user_sites(s, name, chosen, now))
