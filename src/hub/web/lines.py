"""The line page for operators: a live view of every sorting line."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from hub.api.lines import (
    SUMMARY_PATH,
    LineSettingsDep,
    LineViewer,
    SiteParam,
    WindowMin,
)
from hub.deps import ClockDep, SessionDep, SettingsDep
from hub.services import line_stats
from hub.web.templates import render

router = APIRouter(tags=["line page"])


@router.get("/lines", response_class=HTMLResponse, summary="Line page (live)")
def lines_page(
    *,
    _viewer: LineViewer,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    thresholds: LineSettingsDep,
    window_min: WindowMin = 60,
    site: SiteParam = None,
) -> HTMLResponse:
    """The operators' line page: first drawn from an embedded summary, then polled live."""
    the_site = site or settings.site_id
    summary = line_stats.line_summary(
        session, clock.now(), window_min=window_min, thresholds=thresholds, site=the_site
    )
    html = render(
        "line.html",
        site=the_site,
        window_min=window_min,
        summary=summary.model_dump(mode="json"),
        summary_path=SUMMARY_PATH,
        poll_ms=int(thresholds.poll_interval_s * 1000),
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
