"""Hub tables for people and machines: users, machine API keys and bearer tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from hub.db.models import UTCDateTime


class Role(StrEnum):
    """What a principal may do; ``admin`` passes every role check."""

    OPERATOR = "operator"
    INSPECTOR = "inspector"
    SUPERVISOR = "supervisor"
    FILER = "filer"
    CUSTOMS = "customs"
    EDGE = "edge"
    ADMIN = "admin"


class UserBase(SQLModel):
    """Fields of a user that anyone allowed to see users may see."""

    name: str = Field(min_length=1, max_length=64, index=True, unique=True)
    role: Role = Field(sa_type=String(16))
    enterprise: str = Field(
        default="", max_length=64, description="Enterprise code a filer files for."
    )


class UserCreate(UserBase):
    """A new user as given to ``clearline hub user add``."""

    password: str = Field(min_length=8, max_length=256)


class UserPublic(UserBase):
    """A user as returned by the API."""

    id: uuid.UUID
    active: bool
    created_at: datetime


class User(UserBase, table=True):
    """A person who logs in with a password (hashed with scrypt and a per-user salt)."""

    __tablename__ = "app_user"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    password_hash: str = Field(max_length=256)
    active: bool = True
    language: str = Field(
        default="", max_length=8, description="Page language chosen for the user; '' = none."
    )
    created_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)


class ApiKeyBase(SQLModel):
    """Fields of a machine API key that may be shown."""

    name: str = Field(min_length=1, max_length=64, index=True, unique=True)
    role: Role = Field(sa_type=String(16))
    enterprise: str = Field(default="", max_length=64)


class ApiKeyPublic(ApiKeyBase):
    """An API key as listed (never the key itself)."""

    id: uuid.UUID
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKey(ApiKeyBase, table=True):
    """A machine credential (an edge, say); only the SHA-256 of the key is stored."""

    __tablename__ = "api_key"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    key_hash: str = Field(index=True, unique=True, max_length=64)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime(), nullable=True)


class AuthToken(SQLModel, table=True):
    """An opaque bearer token issued at login; only its SHA-256 is stored."""

    __tablename__ = "auth_token"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime(), nullable=False, index=True)
