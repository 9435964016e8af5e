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
from hub.services.errors import Invalid
from hub.web import i18n
from hub.web.file_refusals import file_words
from hub.web.i18n import N_
from hub.web.refusals import record_words
from hub.web.shell import page

router = APIRouter(tags=["pages"])

#: Filers file declarations (and receipts as information); the customs channel files receipts.
Filer = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.FILER, Role.CUSTOMS))]
#: Most files one upload may carry.
MAX_FILES = 20


#: What each file format is, in words (the code stays beside it).
FORMAT_WORDS: dict[str, str] = {
    "CEB311": N_("order"), "CEB411": N_("payment"), "CEB511": N_("waybill"),
    "CEB621": N_("import inventory"), "CEB603": N_("export inventory"),
    "CEB312": N_("order receipt"), "CEB412": N_("payment receipt"),
    "CEB512": N_("waybill receipt"), "CEB622": N_("inventory receipt"),
    "CEB604": N_("export inventory receipt"), "CEB513": N_("logistics status"),
    "CEB623": N_("inventory cancellation"), "CEB624": N_("cancellation receipt"),
    "CEB625": N_("refund request"), "CEB626": N_("refund receipt"),
    "CEB900": N_("message receipt"), "postal-json": N_("postal declarations, JSON"),
    "postal-csv": N_("postal declarations, CSV"), "generic-csv": N_("generic CSV"),
}  # fmt: skip


def format_words(fmt: str) -> str:
    """A file format in words with its code (``进口清单 (CEB621)``); the code when unknown."""
    if not fmt:
        return "—"
    words = FORMAT_WORDS.get(fmt)
    return f"{i18n.gettext(words)} ({fmt})" if words else fmt


def _view(report: FileReport) -> dict[str, object]:
    """What the page shows of one file's import report (in the language being spoken)."""
    return {
        "file": report.file,
        "format": format_words(report.format),
        "read": report.records_read,
        "accepted": report.new + report.updated + report.unchanged,
        "new": report.new,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "receipts": report.receipts_applied,
        "rejections": [(r.index, r.field, record_words(r.reason)) for r in report.rejections[:200]],
        "rejected": len(report.rejections),
        "error": file_words(report.error, report.file) if report.error else None,
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
            try:
                service.save_upload(upload.file, path, settings.max_upload_bytes)
            except Invalid as err:  # too large: this file's report says so, the others go on
                reports.append(FileReport(file=name, error=f"{name}: {err.message}"))
                continue
            with path.open("rb") as stream:
                reports.append(service.import_stream(session, me, stream, name, clock))
    with i18n.speaking(i18n.choose(request)):
        views = [_view(r) for r in reports]
    return page(request, "filing.html", me, reports=views)
