"""Hub table of threat image projections (TIP): one fictional threat shown to one inspector."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Table
from sqlmodel import Field, SQLModel

from hub.db.models import UTCDateTime, table_of


def _time(nullable: bool = True, index: bool = False) -> Any:
    """A UTC timestamp column."""
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


class TipProjectionRow(SQLModel, table=True):
    """A threat image projected into a real parcel's image for one inspector, and the answer.

    ``path`` is the projected image in the hub's image store; ``box_*`` where the threat was
    placed (image pixels). ``answer`` is the verdict the inspector gave the projected image
    and ``hit`` whether it found the threat (suspect or hold); neither ever reaches the real
    parcel, whose own verdict is given afterwards on the real image.
    """

    __tablename__ = "tip_projection"
    __table_args__ = (Index("ix_tip_projection_image", "image_id", "inspector"),)

    tip_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    image_id: uuid.UUID
    inspector: str = Field(max_length=64)
    threat: str = Field(max_length=64)
    library_file: str = Field(max_length=200)
    path: str = Field(max_length=400)
    box_x: int = 0
    box_y: int = 0
    box_w: int = 0
    box_h: int = 0
    shown_at: datetime = _time(nullable=False, index=True)
    answered_at: datetime | None = _time(index=True)
    answer: str | None = Field(default=None, max_length=16)
    hit: bool | None = None


TIP_PROJECTION: Table = table_of(TipProjectionRow)
