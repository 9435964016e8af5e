"""Hub tables for received X-ray images (with their review) and manual-inspection results."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.db.models import UTCDateTime, table_of


def _time(nullable: bool = True, index: bool = False) -> Any:
    """A UTC timestamp column."""
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


class XrayImageRow(SQLModel, table=True):
    """One X-ray image as the hub received it, its pre-screen result and its review.

    ``path`` is relative to the hub's image store; ``sha256`` of the PNG makes a redelivered
    image a duplicate. ``state`` is the hub's pre-screen state
    (CLEARED, SUSPECT or PENDING); ``prescreen`` the full result (flags with regions in
    high-energy image pixels). ``opened_*`` says who first opened it for review, ``verdict*``
    and ``reviewed_*`` the verdict given on it.
    """

    __tablename__ = "xray_image"
    __table_args__ = (
        UniqueConstraint("site", "device_id", "item_id", "sha256", name="uq_xray_image_item"),
        Index("ix_xray_image_site_item", "site", "item_id"),
        Index("ix_xray_image_review", "verdict", "received_at"),
    )

    image_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    site: str = Field(max_length=64)
    device_id: str = Field(max_length=64)
    item_id: int = Field(sa_type=BigInteger())
    parcel_code: str | None = Field(default=None, max_length=64, index=True)
    received_at: datetime = _time(nullable=False)
    path: str = Field(max_length=400)
    sha256: str = Field(max_length=64)
    size_bytes: int = 0
    width: int = 0
    height: int = 0
    state: str = Field(max_length=16)
    risk: float = 0.0
    prescreen: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    opened_by: str | None = Field(default=None, max_length=64)
    opened_at: datetime | None = _time()
    verdict: str | None = Field(default=None, max_length=16)
    category: str = Field(default="", max_length=64)
    verdict_id: uuid.UUID | None = None
    reviewed_by: str | None = Field(default=None, max_length=64)
    reviewed_at: datetime | None = _time(index=True)


class InspectionResultRow(SQLModel, table=True):
    """One manual-inspection result recorded at the desk (also in the audit log)."""

    __tablename__ = "inspection_result"

    result_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    site: str = Field(max_length=64)
    parcel_code: str = Field(max_length=64, index=True)
    parcel_key: str = Field(default="", max_length=200)
    result: str = Field(max_length=32)
    outcome: str = Field(max_length=16)
    why: str = Field(default="", max_length=1000)
    inspector: str = Field(max_length=64)
    at: datetime = _time(nullable=False, index=True)


class XrayBlobRow(SQLModel, table=True):
    """The PNG bytes of one X-ray image, when the hub keeps its images in the database.

    ``path`` is the image's ``xray_image.path`` (the same name the file store would use), so
    every hub process reads an image the way it reads any other row.
    """

    __tablename__ = "xray_blob"

    path: str = Field(max_length=400, primary_key=True)
    site: str = Field(max_length=64)
    stored_at: datetime = _time(nullable=False, index=True)
    png: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


XRAY_IMAGE: Table = table_of(XrayImageRow)
INSPECTION_RESULT: Table = table_of(InspectionResultRow)
XRAY_BLOB: Table = table_of(XrayBlobRow)
