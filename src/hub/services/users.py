"""Users, machine API keys and bearer tokens: creation, login and credential look-up."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from hub.db.auth_models import ApiKey, AuthToken, Role, User, UserCreate
from hub.services.auth import (
    API_KEY_PREFIX,
    TOKEN_PREFIX,
    Principal,
    hash_password,
    new_secret,
    secret_digest,
    unknown_user_hash,
    verify_password,
)
from hub.services.errors import Conflict, Invalid, NotFound, Unauthenticated
from hub.services.passwords import check_password
from hub.settings import DEV_ADMIN_PASSWORD, HubSettings

log = logging.getLogger(__name__)


def _check_enterprise(role: Role, enterprise: str) -> str:
    code = enterprise.strip().upper()
    if role is Role.FILER and not code:
        raise Invalid("a filer needs an enterprise code (--enterprise CODE)", field="enterprise")
    if role is not Role.FILER and code:
        raise Invalid("only a filer is bound to an enterprise", field="enterprise")
    return code


def create_user(
    session: Session, new: UserCreate, now: datetime, *, dev_password: bool = False
) -> User:
    """Store a new user with a scrypt-hashed password; raise Conflict if the name exists.

    The password must pass the policy (:mod:`hub.services.passwords`); ``dev_password``
    lets the dev-mode bootstrap admin through with the built-in dev password.
    """
    if not dev_password:
        check_password(new.password, new.name)
    enterprise = _check_enterprise(Role(new.role), new.enterprise)
    user = User(
        name=new.name,
        role=Role(new.role),
        enterprise=enterprise,
        password_hash=hash_password(new.password),
        created_at=now,
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError as err:
        session.rollback()
        raise Conflict(f"a user named {new.name!r} exists already", field="name") from err
    session.refresh(user)
    log.info("user %s added with role %s", user.name, user.role)
    return user


def ensure_admin(session: Session, settings: HubSettings, now: datetime) -> bool:
    """Create the bootstrap admin when no user exists yet; return whether one was made."""
    if session.exec(select(User.id).limit(1)).first() is not None:
        return False
    create_user(
        session,
        UserCreate(
            name=settings.admin_user, role=Role.ADMIN, password=settings.bootstrap_password()
        ),
        now,
        dev_password=settings.dev,
    )
    log.info("bootstrap admin %s created", settings.admin_user)
    return True


def login(
    session: Session, name: str, password: str, now: datetime, ttl_s: int
) -> tuple[str, datetime]:
    """Check a password and issue a bearer token valid for ``ttl_s`` seconds.

    Returns (token, expiry time). Raises :class:`Unauthenticated` for a wrong name or
    password or a disabled user, with the same message for each.
    """
    user = session.exec(select(User).where(User.name == name)).first()
    stored = user.password_hash if user is not None else unknown_user_hash()
    if not verify_password(password, stored) or user is None or not user.active:
        log.info("failed login for a user name of %s characters", len(name))
        raise Unauthenticated("wrong user name or password")
    token = new_secret(TOKEN_PREFIX)
    expires = now + timedelta(seconds=ttl_s)
    session.add(
        AuthToken(
            token_hash=secret_digest(token), user_id=user.id, created_at=now, expires_at=expires
        )
    )
    session.exec(delete(AuthToken).where(col(AuthToken.expires_at) < now))
    session.commit()
    log.info("user %s logged in", user.name)
    return token, expires


def principal_for(session: Session, secret: str, now: datetime) -> Principal:
    """Return who holds ``secret`` (a bearer token or an API key); raise Unauthenticated."""
    digest = secret_digest(secret)
    if secret.startswith(API_KEY_PREFIX):
        key = session.exec(select(ApiKey).where(ApiKey.key_hash == digest)).first()
        if key is None or key.revoked_at is not None:
            raise Unauthenticated("unknown or revoked API key")
        return Principal("api_key", key.id, key.name, Role(key.role), key.enterprise)
    if secret.startswith(TOKEN_PREFIX):
        row = session.exec(
            select(AuthToken, User)
            .join(User, col(User.id) == col(AuthToken.user_id))
            .where(AuthToken.token_hash == digest)
        ).first()
        if row is not None:
            token, user = row
            if token.expires_at <= now:
                raise Unauthenticated("the token has expired; log in again")
            if user.active:
                return Principal(
                    "user",
                    user.id,
                    user.name,
                    Role(user.role),
                    user.enterprise,
                    language=user.language,
                )
    raise Unauthenticated("unknown token")


def change_password(session: Session, name: str, current: str, new: str, now: datetime) -> None:
    """Set a user's new password after checking the current one; revoke its tokens.

    Raises :class:`Unauthenticated` for a wrong current password and :class:`Invalid`
    when the new one fails the policy or equals the current one.
    """
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None or not verify_password(current, user.password_hash):
        raise Unauthenticated("the current password is wrong")
    if new == current:
        raise Invalid("the new password must differ from the current one", field="password")
    check_password(new, user.name)
    user.password_hash = hash_password(new)
    session.add(user)
    session.exec(delete(AuthToken).where(col(AuthToken.user_id) == user.id))
    session.commit()
    log.info("user %s changed its password; its sessions were ended", user.name)


def set_password(session: Session, name: str, new: str) -> None:
    """Set a user's password without the current one (the hub host's operator); revoke
    its tokens. Raises NotFound for an unknown user and Invalid for a weak password."""
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        raise NotFound(f"no user named {name!r}")
    check_password(new, user.name)
    user.password_hash = hash_password(new)
    session.add(user)
    session.exec(delete(AuthToken).where(col(AuthToken.user_id) == user.id))
    session.commit()
    log.info("password of user %s set on the hub host; its sessions were ended", user.name)


def dev_password_accounts(session: Session) -> list[str]:
    """Return the names of users whose password is still the built-in dev password."""
    users = session.exec(select(User.name, User.password_hash)).all()
    return sorted(name for name, stored in users if verify_password(DEV_ADMIN_PASSWORD, stored))


def revoke_token(session: Session, secret: str) -> None:
    """Delete a bearer token (log out); unknown tokens are ignored."""
    session.exec(delete(AuthToken).where(col(AuthToken.token_hash) == secret_digest(secret)))
    session.commit()


def create_api_key(
    session: Session, name: str, role: Role, now: datetime, enterprise: str = ""
) -> tuple[ApiKey, str]:
    """Store a new machine API key; return the row and the key (shown only this once)."""
    code = _check_enterprise(role, enterprise)
    secret = new_secret(API_KEY_PREFIX)
    key = ApiKey(
        name=name,
        role=role,
        enterprise=code,
        key_hash=secret_digest(secret),
        prefix=secret[:12],
        created_at=now,
    )
    session.add(key)
    try:
        session.commit()
    except IntegrityError as err:
        session.rollback()
        raise Conflict(f"an API key named {name!r} exists already", field="name") from err
    session.refresh(key)
    log.info("API key %s added with role %s", name, role)
    return key, secret


def list_users(session: Session) -> list[User]:
    """Return every user, by name."""
    return list(session.exec(select(User).order_by(col(User.name))))
