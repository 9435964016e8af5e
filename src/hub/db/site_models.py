"""Hub tables for many sites: the sites a user may see, and review deadlines fired once."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Table
from sqlmodel import Field, SQLModel

from hub.db.models import UTCDateTime, table_of


def _time(nullable: bool = True, index: bool = False) -> Any:
    """A UTC timestamp column."""
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


class UserSiteRow(SQLModel, table=True):
    """One site a user may see; a user with no row here sees every site."""

    __tablename__ = "user_site"

    user_id: uuid.UUID = Field(foreign_key="app_user.id", ondelete="CASCADE", primary_key=True)
    site: str = Field(primary_key=True, max_length=64)


class ReviewDeadlineRow(SQLModel, table=True):
    """An X-ray image whose review deadline passed with no verdict: recorded once.

    The primary key on ``image_id`` makes the firing happen once however many hub processes
    see the deadline pass; ``fired_by`` names the process that recorded it.
    """

    __tablename__ = "review_deadline"

    image_id: uuid.UUID = Field(primary_key=True)
    site: str = Field(max_length=64, index=True)
    item_id: int = Field(sa_type=BigInteger())
    parcel_code: str | None = Field(default=None, max_length=64)
    deadline: datetime = _time(nullable=False)
    deadline_source: str = Field(default="budget", max_length=16)
    fired_at: datetime = _time(nullable=False, index=True)
    fired_by: str = Field(default="", max_length=64)


USER_SITE: Table = table_of(UserSiteRow)
REVIEW_DEADLINE: Table = table_of(ReviewDeadlineRow)
