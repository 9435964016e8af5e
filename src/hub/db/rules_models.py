"""Hub table of stored rule-set versions (the YAML text as a supervisor saved it)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from hub.db.models import UTCDateTime


class RuleVersionBase(SQLModel):
    """What describes a stored rule set."""

    number: int = Field(description="1, 2, 3, ... in the order they were saved.")
    version: str = Field(description="The rules file's own `version` value.")
    digest: str = Field(description="SHA-256 of the YAML text (hex).")
    author: str
    why: str
    created_at: datetime


class RuleVersionPublic(RuleVersionBase):
    """A stored rule-set version without its text."""

    id: uuid.UUID


class RuleVersionFull(RuleVersionPublic):
    """A stored rule-set version with its YAML text."""

    text: str


class RuleVersion(SQLModel, table=True):
    """One saved version of the rules YAML; the highest ``number`` is current."""

    __tablename__ = "rule_version"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    number: int = Field(unique=True, index=True)
    version: str = Field(max_length=128)
    digest: str = Field(max_length=64)
    author: str = Field(max_length=64)
    why: str = Field(sa_type=Text())
    created_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    text: str = Field(sa_type=Text())
