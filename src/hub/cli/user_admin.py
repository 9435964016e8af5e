"""``clearline hub user list|disable|enable|reset-password|role|language``: user administration.

Human output follows the terminal's language (``CLEARLINE_LANG``, else the POSIX locale;
:func:`hub.web.i18n.cli_language`); ``--json`` never changes with it.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.clock import SystemClock
from hub.cli.commands import _DB_HELP, _database, _fail, _read_password, user_app
from hub.db.auth_models import Role
from hub.services import user_admin, users
from hub.services.audit_key import AuditKeyError, bind_key, read_key
from hub.services.errors import ServiceError
from hub.settings import HubSettings
from hub.web import i18n
from hub.web.i18n import N_


def _tr(message: str) -> str:
    """``message`` in the terminal's language."""
    return i18n.translator(i18n.cli_language())(message)


@user_app.command("list")
def user_list(
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Every user with role, enterprise and whether it may log in."""
    with _database(db) as engine, Session(engine) as session:
        people = [
            {
                "name": u.name,
                "role": Role(u.role).value,
                "enterprise": u.enterprise,
                "active": u.active,
                "language": u.language,
            }
            for u in users.list_users(session)
        ]
    if as_json:
        typer.echo(json.dumps(people, ensure_ascii=False, indent=2))
        return
    heads = (N_("User"), N_("Role"), N_("Enterprise"), N_("Language"), N_("State"))
    typer.echo("\t".join(_tr(h) for h in heads))
    for p in people:
        state = _tr(N_("active")) if p["active"] else _tr(N_("DISABLED"))
        language = i18n.NAMES.get(str(p["language"]), "-")
        role = _tr(str(p["role"]))
        typer.echo(f"{p['name']}\t{role}\t{p['enterprise'] or '-'}\t{language}\t{state}")


def _bind_audit_key(engine: Engine) -> None:
    """Bind the hub's audit key (``CLEARLINE_AUDIT_KEY_PATH``) to ``engine``: every change is
    audited. The key is read, never made here (the hub makes it at its first start)."""
    try:
        bind_key(engine, read_key(Path(HubSettings().audit_key_file())))
    except AuditKeyError as err:
        raise _fail(str(err)) from err


def _change(db: str | None, what: str, change: object, **names: str) -> None:
    """Run one change against the hub database, failing in words; say ``what`` was done
    (a message with ``{name}``-style fields, in the terminal's language)."""
    with _database(db) as engine, Session(engine) as session:
        _bind_audit_key(engine)
        try:
            change(session)  # type: ignore[operator]
        except ServiceError as err:
            raise _fail(err.message) from err
    typer.echo(_tr(what).format(**names))


@user_app.command("disable")
def user_disable(
    name: str = typer.Argument(..., help="Login name."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Stop a user from logging in and end its sessions."""
    now = SystemClock().now()
    _change(
        db, N_("user {name} disabled"), lambda s: user_admin.set_active(s, name, False, now),
        name=name,
    )  # fmt: skip


@user_app.command("enable")
def user_enable(
    name: str = typer.Argument(..., help="Login name."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Let a disabled user log in again."""
    now = SystemClock().now()
    _change(
        db, N_("user {name} enabled"), lambda s: user_admin.set_active(s, name, True, now),
        name=name,
    )  # fmt: skip


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
        N_("password of {name} reset"),
        lambda s: user_admin.reset_password(s, name, password, now),
        name=name,
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
        N_("user {name} is now {role}"),
        lambda s: user_admin.set_role(s, name, role, now, enterprise),
        name=name,
        role=_tr(role.value),
    )


@user_app.command("language")
def user_language(
    name: str = typer.Argument(..., help="Login name."),
    language: str = typer.Argument(..., help="zh, en, or default (the browser's language)."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Set the language of a user's pages (before Accept-Language, after the page switch)."""
    now = SystemClock().now()
    _change(
        db,
        N_("pages of {name} now speak {language}"),
        lambda s: user_admin.set_language(s, name, language, now),
        name=name,
        language=i18n.NAMES.get(language.strip().lower(), _tr(N_("as the browser asks"))),
    )
