"""Customs receipts: file as JSON, list."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query

from hub.api.declaration_schemas import (
    ImportReportPublic,
    ReceiptCreate,
    ReceiptPage,
    ReceiptPublic,
)
from hub.deps import ClockDep, Reader, ReceiptFiler, SessionDep
from hub.services import declarations as declaration_service
from hub.services import masking
from hub.services import receipts as service
from hub.services.declarations import MAX_LIMIT
from inspection.masking import scrub

router = APIRouter(prefix="/api/v1/receipts", tags=["receipts"])

#: Most receipts in one JSON request.
MAX_RECEIPTS = 10_000


@router.post("", response_model=ImportReportPublic, summary="File customs receipts as JSON")
def file_receipts(
    principal: ReceiptFiler,
    session: SessionDep,
    clock: ClockDep,
    receipts: Annotated[list[ReceiptCreate], Body(min_length=1, max_length=MAX_RECEIPTS)],
) -> ImportReportPublic:
    """Store receipts; only the ``customs`` role's set the customs status.

    Anyone else's (a filer's, for its own declarations only; a supervisor's) are stored
    as information and counted in ``receipts_information``.
    """
    report = declaration_service.import_items(
        session, principal, [r.to_domain() for r in receipts], "api", clock
    )
    return ImportReportPublic.model_validate(report.as_json())


@router.get("", response_model=ReceiptPage, summary="List receipts")
def list_receipts(
    *,
    principal: Reader,
    session: SessionDep,
    business_key: Annotated[str, Query(max_length=128)] = "",
    return_status: Annotated[int | None, Query(ge=-999, le=999)] = None,
    declaration_id: uuid.UUID | None = None,
    pending: bool | None = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> ReceiptPage:
    """Return receipts, newest first; ``pending=true`` lists those without a declaration."""
    flt = service.ReceiptFilter(business_key, return_status, declaration_id, pending)
    rows, total = service.list_receipts(session, principal, flt, offset, limit)
    items = [ReceiptPublic.model_validate(r, from_attributes=True) for r in rows]
    if not masking.sees_personal_data(principal):  # customs' free text may quote an id
        items = [i.model_copy(update={"return_info": scrub(i.return_info)}) for i in items]
    return ReceiptPage(items=items, total=total, offset=offset, limit=limit)
