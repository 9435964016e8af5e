"""The registry of enrolled edges: enrolment, key rotation, revocation and the bound API key."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, update
from sqlmodel import Session

from devices.signing import generate_key, public_text
from hub.db.auth_models import ApiKey, Role
from hub.db.trust_models import EDGE_REGISTRY
from hub.services import users
from hub.services.auth import Principal
from hub.services.broker import password_hash
from hub.services.errors import Conflict, Forbidden, Invalid, NotFound

logger = logging.getLogger(__name__)

#: Edge ids, broker user names and device ids: what an MQTT topic level and an ACL line allow.
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: How long the old key of a rotated edge is still accepted, by default.
ROTATION_GRACE = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Enrolment:
    """Everything an edge receives once, at enrolment: shown here and never stored in clear."""

    edge_id: str
    site: str
    broker_user: str
    broker_password: str
    api_key: str | None
    signing_key: Ed25519PrivateKey


def check_id(value: str, what: str) -> str:
    """Return ``value`` if it is a safe id for topics and ACL lines; raise Invalid otherwise."""
    if not ID_PATTERN.match(value):
        raise Invalid(f"{what} {value!r} must be 1-64 letters, digits, '.', '_' or '-'")
    return value


def enrol(
    session: Session,
    edge_id: str,
    site: str,
    now: datetime,
    *,
    devices: list[str] | None = None,
    with_api_key: bool = True,
) -> Enrolment:
    """Enrol ``edge_id``: a signing key, broker credentials and an API key bound to it.

    Raises Conflict when the edge is enrolled already (rotate or revoke it instead).
    """
    check_id(edge_id, "edge id")
    for device in devices or []:
        check_id(device, "device id")
    if (
        session.connection()
        .execute(select(EDGE_REGISTRY.c.edge_id).where(EDGE_REGISTRY.c.edge_id == edge_id))
        .first()
    ):
        raise Conflict(f"edge {edge_id!r} is enrolled already; use --rotate to issue new keys")
    key = generate_key()
    api_secret: str | None = None
    api_key_id = None
    if with_api_key:
        row, api_secret = users.create_api_key(session, f"edge-{edge_id}", Role.EDGE, now)
        api_key_id = row.id
    user = f"edge-{edge_id}"
    password = secrets.token_urlsafe(24)
    session.connection().execute(
        EDGE_REGISTRY.insert().values(
            edge_id=edge_id,
            site=site,
            public_key=public_text(key),
            broker_user=user,
            broker_hash=password_hash(password),
            api_key_id=api_key_id,
            devices=",".join(devices or []),
            enrolled_at=now,
        )
    )
    session.commit()
    logger.info("edge %s enrolled for site %s", edge_id, site)
    return Enrolment(edge_id, site, user, password, api_secret, key)


def rotate(
    session: Session, edge_id: str, now: datetime, grace: timedelta = ROTATION_GRACE
) -> Enrolment:
    """Issue ``edge_id`` a new signing key and broker password; the old key lives ``grace``."""
    row = _row(session, edge_id)
    key = generate_key()
    password = secrets.token_urlsafe(24)
    session.connection().execute(
        update(EDGE_REGISTRY)
        .where(EDGE_REGISTRY.c.edge_id == edge_id)
        .values(
            public_key=public_text(key),
            previous_key=row["public_key"],
            previous_until=now + grace,
            broker_hash=password_hash(password),
            revoked_at=None,
        )
    )
    session.commit()
    logger.info("edge %s: keys rotated; the old one is accepted until %s", edge_id, now + grace)
    return Enrolment(edge_id, row["site"], row["broker_user"], password, None, key)


def revoke(session: Session, edge_id: str, now: datetime) -> None:
    """Refuse every further event and API call of ``edge_id`` (its API key is deleted too)."""
    row = _row(session, edge_id)
    conn = session.connection()
    conn.execute(
        update(EDGE_REGISTRY)
        .where(EDGE_REGISTRY.c.edge_id == edge_id)
        .values(revoked_at=now, previous_key=None, previous_until=None)
    )
    if row["api_key_id"] is not None:
        conn.execute(delete(ApiKey).where(ApiKey.id == row["api_key_id"]))
    session.commit()
    logger.info("edge %s revoked", edge_id)


def _row(session: Session, edge_id: str) -> dict[str, Any]:
    """The registry row of ``edge_id``; raise NotFound when it is not enrolled."""
    found = (
        session.connection()
        .execute(select(EDGE_REGISTRY).where(EDGE_REGISTRY.c.edge_id == edge_id))
        .mappings()
        .first()
    )
    if found is None:
        raise NotFound(f"edge {edge_id!r} is not enrolled")
    return dict(found)


def registry(session: Session) -> list[dict[str, Any]]:
    """Every enrolled edge, by edge id."""
    rows = session.connection().execute(select(EDGE_REGISTRY).order_by(EDGE_REGISTRY.c.edge_id))
    return [dict(r) for r in rows.mappings()]


def bound_edge(session: Session, principal: Principal) -> str | None:
    """The edge an API key is bound to (None: not bound); raise Forbidden if it was revoked."""
    if principal.kind != "api_key":
        return None
    found = (
        session.connection()
        .execute(
            select(EDGE_REGISTRY.c.edge_id, EDGE_REGISTRY.c.revoked_at).where(
                EDGE_REGISTRY.c.api_key_id == principal.id
            )
        )
        .first()
    )
    if found is None:
        return None
    if found[1] is not None:
        raise Forbidden(f"edge {found[0]!r} was revoked")
    return str(found[0])
