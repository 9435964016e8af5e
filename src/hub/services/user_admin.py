"""User administration: disable or enable a login, reset its password, change its role.

Every change is recorded in the audit log with who did it; disabling a user or resetting
its password ends its open sessions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, delete, select

from hub.db.auth_models import AuthToken, Role, User
from hub.services import audit
from hub.services.auth import Principal, hash_password
from hub.services.errors import Invalid, NotFound

#: Shortest password an administrator may set.
MIN_PASSWORD = 8


def find_user(session: Session, name: str) -> User:
    """The user ``name``; raise NotFound."""
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        raise NotFound(f"no user named {name!r}")
    return user


def record(
    session: Session,
    by: Principal | None,
    at: datetime,
    action: str,
    name: str,
    **details: Any,
) -> None:
    """Append a change to user ``name`` to the audit log (``by`` None: the command line on
    the hub host); ``details`` are the entry's ``why`` and ``data``."""
    audit.append(
        session,
        at=at,
        actor=by.name if by is not None else "hub-cli",
        role=by.role.value if by is not None else "admin",
        action=action,
        subject=name,
        **details,
    )


def _end_sessions(session: Session, user: User) -> None:
    """Delete every bearer token of ``user``."""
    session.exec(delete(AuthToken).where(col(AuthToken.user_id) == user.id))


def set_active(
    session: Session, name: str, active: bool, at: datetime, by: Principal | None = None
) -> User:
    """Enable or disable a login; disabling ends its sessions."""
    user = find_user(session, name)
    if by is not None and by.name == name and not active:
        raise Invalid("you cannot disable yourself", field="name")
    user.active = active
    session.add(user)
    if not active:
        _end_sessions(session, user)
    record(session, by, at, "user_enable" if active else "user_disable", name)
    session.commit()
    session.refresh(user)
    return user


def reset_password(
    session: Session, name: str, password: str, at: datetime, by: Principal | None = None
) -> User:
    """Set a new password and end the user's sessions."""
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"a password has at least {MIN_PASSWORD} characters", field="password")
    user = find_user(session, name)
    user.password_hash = hash_password(password)
    session.add(user)
    _end_sessions(session, user)
    record(session, by, at, "user_password_reset", name)
    session.commit()
    session.refresh(user)
    return user


def set_role(
    session: Session,
    name: str,
    role: Role,
    at: datetime,
    enterprise: str = "",
    by: Principal | None = None,
) -> User:
    """Give the user another role (a filer needs its enterprise; no other role has one)."""
    code = enterprise.strip().upper()
    if role is Role.EDGE:
        raise Invalid("edges are machines: give them an API key, not a login", field="role")
    if role is Role.FILER and not code:
        raise Invalid("a filer needs an enterprise code", field="enterprise")
    user = find_user(session, name)
    user.role = role
    user.enterprise = code if role is Role.FILER else ""
    session.add(user)
    _end_sessions(session, user)
    record(session, by, at, "user_role", name)
    session.commit()
    session.refresh(user)
    return user


#: Page languages a user may have set ('' = none: the browser's language decides).
LANGUAGES = ("", "zh", "en")


def set_language(
    session: Session, name: str, language: str, at: datetime, by: Principal | None = None
) -> User:
    """Set the page language of a user ('' clears it); recorded in the audit log."""
    code = language.strip().lower()
    if code in ("default", "none", "-"):
        code = ""
    if code not in LANGUAGES:
        raise Invalid("a language is zh, en or default", field="language")
    user = find_user(session, name)
    old = user.language
    user.language = code
    session.add(user)
    record(session, by, at, "user_language", name, data={"old": old, "new": code})
    session.commit()
    session.refresh(user)
    return user
