"""The demo's people: one login per role, with a fresh password each run."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import Session

from hub.db.auth_models import Role, UserCreate
from hub.db.engine import make_engine
from hub.db.models import DECLARATION
from hub.services.users import create_user

#: The roles a person logs in with, in the order the banner lists them.
PEOPLE = ("operator", "inspector", "supervisor", "filer", "customs")


@dataclass(frozen=True)
class Account:
    """One demo login: user name, role, password and, for a filer, its enterprise."""

    name: str
    role: str
    password: str
    enterprise: str = ""


def _enterprise(session: Session) -> str:
    """An e-commerce enterprise of the scenario, for the filer to file as."""
    code = (
        session.connection()
        .execute(select(DECLARATION.c.ebc_code).where(DECLARATION.c.ebc_code != "").limit(1))
        .scalar()
    )
    return str(code or "DEMO-ENTERPRISE")


def create_accounts(db_url: str) -> list[Account]:
    """Create one user per role this hub knows (``customs`` only where it exists)."""
    known = {r.value for r in Role}
    engine = make_engine(db_url)
    out: list[Account] = []
    try:
        with Session(engine) as session:
            enterprise = _enterprise(session)
            for role in PEOPLE:
                if role not in known:
                    continue
                password = secrets.token_urlsafe(9)
                ent = enterprise if role == "filer" else ""
                new = UserCreate(
                    name=f"demo-{role}", role=Role(role), password=password, enterprise=ent
                )
                create_user(session, new, datetime.now(UTC))
                out.append(Account(f"demo-{role}", role, password, ent))
    finally:
        engine.dispose()
    return out
