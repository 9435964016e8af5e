"""Hub table of notices: CEB513 logistics status, CEB623-626 cancellations and returns."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from hub.db.models import UTCDateTime, table_of


class NoticeRow(SQLModel, table=True):
    """One notice as filed, linked to the declaration whose history it joins once known.

    ``business_key`` is the list's ``agentCode:copNo`` (CEB623-626) or the waybill's
    ``logisticsCode:logisticsNo`` (CEB513); ``status`` is the logistics status or the
    receipt's ``returnStatus`` as text; ``fields`` every field of the record as JSON.
    """

    __tablename__ = "notice"
    __table_args__ = (Index("ix_notice_business_key", "business_key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    message_type: str
    business_key: str
    invt_no: str = ""
    order_no: str = ""
    logistics_no: str = ""
    status: str = ""
    time: datetime | None = Field(default=None, sa_type=UTCDateTime())
    info: str = ""
    fields: str = Field(default="{}", sa_type=Text())
    content_hash: str = Field(unique=True)
    declaration_id: uuid.UUID | None = Field(
        default=None, foreign_key="declaration.id", ondelete="SET NULL", index=True
    )
    received_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    source_file: str = ""


NOTICE = table_of(NoticeRow)
