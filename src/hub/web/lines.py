"""The line page for operators: a live view of every sorting line."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from hub.api.lines import SUMMARY_PATH, LineViewDep
from hub.web.templates import render

router = APIRouter(tags=["line page"])


@router.get("/lines", response_class=HTMLResponse, summary="Line page (live)")
def lines_page(view: LineViewDep) -> HTMLResponse:
    """The operators' line page: first drawn from an embedded summary, then polled live."""
    html = render(
        "line.html",
        site=view.site,
        window_min=view.window_min,
        summary=view.summary.model_dump(mode="json"),
        summary_path=SUMMARY_PATH,
        poll_ms=int(view.thresholds.poll_interval_s * 1000),
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
