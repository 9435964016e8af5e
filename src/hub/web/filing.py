"""The filing page: upload declaration or receipt files and read the import report."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import HTMLResponse

from hub.db.auth_models import Role
from hub.deps import ClockDep, SessionDep, SettingsDep, require_roles
from hub.importing.importer import FileReport
from hub.services import declarations as service
from hub.services.auth import Principal
from hub.web.shell import page

router = APIRouter(tags=["pages"])

#: Filers file declarations (and receipts as information); the customs channel files receipts.
Filer = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.FILER, Role.CUSTOMS))]
#: Most files one upload may carry.
MAX_FILES = 20


def _view(report: FileReport) -> dict[str, object]:
    """What the page shows of one file's import report."""
    return {
        "file": report.file,
        "format": report.format or "—",
        "read": report.records_read,
        "accepted": report.new + report.updated + report.unchanged,
        "new": report.new,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "receipts": report.receipts_applied,
        "rejections": [(r.index, r.field, r.reason) for r in report.rejections[:200]],
        "rejected": len(report.rejections),
        "error": report.error,
    }


@router.get("/filing", response_class=HTMLResponse, summary="Filing page")
def filing_page(me: Filer, request: Request) -> HTMLResponse:
    """The upload form (a filer files for its own enterprise)."""
    return page(request, "filing.html", me, reports=[])


@router.post("/filing", response_class=HTMLResponse, summary="Upload files from the filing page")
def filing_upload(
    me: Filer,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    files: Annotated[list[UploadFile], File(description="One or more files.")],
) -> HTMLResponse:
    """Import each file and show its report: format, records read, accepted and rejected."""
    reports = []
    for upload in files[:MAX_FILES]:
        name = Path(upload.filename or "upload").name[:200]
        with tempfile.TemporaryDirectory(prefix="clearline-upload-") as tmp:
            path = Path(tmp) / "data"
            service.save_upload(upload.file, path, settings.max_upload_bytes)
            with path.open("rb") as stream:
                reports.append(_view(service.import_stream(session, me, stream, name, clock)))
    return page(request, "filing.html", me, reports=reports)
