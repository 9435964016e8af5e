"""Declarations: upload files, file one as JSON, list (masked), show one with its history."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from hub.api.declaration_schemas import (
    DeclarationCreate,
    DeclarationDetail,
    DeclarationFiled,
    DeclarationPage,
    DeclarationSummary,
    HistoryPublic,
    ImportReportPublic,
    LinePublic,
    NoticePublic,
    ReceiptPublic,
)
from hub.db.models import DeclarationRow
from hub.deps import ClockDep, Filer, Reader, ReceiptFiler, SessionDep, SettingsDep
from hub.services import declarations as service
from hub.services import masking
from hub.services.auth import Principal
from hub.services.declarations import MAX_LIMIT
from hub.services.errors import Invalid
from inspection.masking import scrub
from inspection.model import DocKind

router = APIRouter(prefix="/api/v1/declarations", tags=["declarations"])

#: Most files in one upload.
MAX_FILES = 20


def _masked(values: dict[str, Any]) -> dict[str, Any]:
    return masking.mask_fields(values)


def _summary(row: DeclarationRow) -> DeclarationSummary:
    values = {name: getattr(row, name) for name in DeclarationSummary.model_fields}
    return DeclarationSummary.model_validate(_masked(values))


def _sees_personal_data(principal: Principal) -> bool:
    return masking.sees_personal_data(principal)


@router.post(
    "/upload",
    response_model=list[ImportReportPublic],
    summary="Upload declaration or receipt files (CEB XML, postal JSON/CSV, generic CSV)",
)
def upload(
    *,
    principal: ReceiptFiler,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    files: Annotated[list[UploadFile], File(description="One or more files.")],
    format: Annotated[
        str | None, Form(max_length=32, description="Claimed format, e.g. ceb, postal-json.")
    ] = None,
) -> list[ImportReportPublic]:
    """Import each file; the answer is one import report per file, in order.

    Receipts set a customs status only when the ``customs`` role uploads them (it files
    receipts only); a filer files only as its own enterprise.
    """
    if not files or len(files) > MAX_FILES:
        raise Invalid(f"send between 1 and {MAX_FILES} files", field="files")
    reports = []
    for upload_file in files:
        name = Path(upload_file.filename or "upload").name[:200]
        with tempfile.TemporaryDirectory(prefix="clearline-upload-") as tmp:
            path = Path(tmp) / "data"
            service.save_upload(upload_file.file, path, settings.max_upload_bytes)
            with path.open("rb") as stream:
                report = service.import_stream(
                    session, principal, stream, name, clock, claimed_format=format
                )
        reports.append(ImportReportPublic.model_validate(report.as_json()))
    return reports


@router.post(
    "",
    response_model=DeclarationFiled,
    status_code=201,
    summary="File one declaration as JSON",
    responses={200: {"model": DeclarationFiled, "description": "Updated or unchanged"}},
)
def file_declaration(
    principal: Filer,
    session: SessionDep,
    clock: ClockDep,
    body: DeclarationCreate,
    response: Response,
) -> DeclarationFiled:
    """Store (or amend) one declaration; 201 when new, 200 when updated or unchanged."""
    report, row = service.file_one(session, principal, body.to_domain(), clock)
    outcome = "new" if report.new else "updated" if report.updated else "unchanged"
    if outcome != "new":
        response.status_code = 200
    return DeclarationFiled(
        id=row.id, outcome=outcome, report=ImportReportPublic.model_validate(report.as_json())
    )


@router.get("", response_model=DeclarationPage, summary="List declarations (personal data masked)")
def list_declarations(
    *,
    principal: Reader,
    session: SessionDep,
    kind: DocKind | None = None,
    trade_mode: Annotated[str, Query(max_length=8)] = "",
    enterprise: Annotated[str, Query(max_length=32, description="Any enterprise code.")] = "",
    customs_status: Annotated[int | None, Query(ge=-999, le=999)] = None,
    code: Annotated[
        str, Query(max_length=64, description="Business key, order, waybill or list number.")
    ] = "",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> DeclarationPage:
    """Return declarations, most recently changed first; a filer sees only its own."""
    flt = service.DeclarationFilter(kind, trade_mode, enterprise, customs_status, code)
    rows, total = service.list_declarations(session, principal, flt, offset, limit)
    return DeclarationPage(
        items=[_summary(r) for r in rows], total=total, offset=offset, limit=limit
    )


@router.get("/{declaration_id}", response_model=DeclarationDetail, summary="One declaration")
def get_declaration(
    principal: Reader, session: SessionDep, declaration_id: uuid.UUID
) -> DeclarationDetail:
    """Return the declaration with its goods lines, status history and receipts."""
    record = service.get_declaration(session, principal, declaration_id)
    values = record.row.model_dump(exclude={"extra", "content_hash"})
    masked = not _sees_personal_data(principal)
    return DeclarationDetail(
        id=record.row.id,
        masked=masked,
        fields=_masked(values) if masked else values,
        extra=masking.mask_extra(record.extra()) if masked else record.extra(),
        lines=[_line(x, masked) for x in record.lines],
        history=[HistoryPublic.model_validate(h, from_attributes=True) for h in record.history],
        receipts=[_receipt(r, masked) for r in record.receipts],
        notices=[_notice(n, masked) for n in record.notices],
    )


def _notice(row: Any, masked: bool) -> NoticePublic:
    notice = NoticePublic.model_validate(row, from_attributes=True)
    return notice.model_copy(update={"info": scrub(notice.info)}) if masked else notice


def _line(row: Any, masked: bool) -> LinePublic:
    line = LinePublic.model_validate(row, from_attributes=True)
    return LinePublic.model_validate(masking.mask_line(line.model_dump())) if masked else line


def _receipt(row: Any, masked: bool) -> ReceiptPublic:
    receipt = ReceiptPublic.model_validate(row, from_attributes=True)
    return (
        receipt.model_copy(update={"return_info": scrub(receipt.return_info)})
        if masked
        else receipt
    )
