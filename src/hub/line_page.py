"""The line page for operators: a live view of every sorting line, and the JSON summary it polls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from hub.auth import Principal
from hub.auth_models import Role
from hub.deps import ClockDep, SessionDep, SettingsDep, require_roles
from hub.pages import environment
from hub.services import line_stats
from hub.services.line_stats import MAX_WINDOW_MIN, LinePageSettings, LineSummary

router = APIRouter(tags=["line page"])

#: Path of the JSON summary the page polls.
SUMMARY_PATH = "/api/v1/lines/summary"

LineViewer = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.SUPERVISOR))]
WindowMin = Annotated[
    int,
    Query(ge=1, le=MAX_WINDOW_MIN, description="Chart window ending now, in minutes."),
]
SiteParam = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="Site id (default: this hub's site)."),
]


def line_settings(request: Request) -> LinePageSettings:
    """Line page thresholds: ``app.state.line_page_settings``, else from the environment."""
    found = getattr(request.app.state, "line_page_settings", None)
    if not isinstance(found, LinePageSettings):
        found = LinePageSettings()
        request.app.state.line_page_settings = found
    return found


LineSettingsDep = Annotated[LinePageSettings, Depends(line_settings)]


@router.get(SUMMARY_PATH, response_model=LineSummary, summary="Live summary of every line")
def lines_summary(
    *,
    _viewer: LineViewer,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    thresholds: LineSettingsDep,
    window_min: WindowMin = 60,
    site: SiteParam = None,
) -> LineSummary:
    """Per line: parcels per minute, per chute/reason/outcome, latency, devices, open alarms."""
    return line_stats.line_summary(
        session,
        clock.now(),
        window_min=window_min,
        thresholds=thresholds,
        site=site or settings.site_id,
    )


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
    html = (
        environment()
        .get_template("line.html")
        .render(
            site=the_site,
            window_min=window_min,
            summary=summary.model_dump(mode="json"),
            summary_path=SUMMARY_PATH,
            poll_ms=int(thresholds.poll_interval_s * 1000),
        )
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
