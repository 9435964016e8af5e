"""The live summary of every sorting line, as JSON (the line page polls it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from hub.db.auth_models import Role
from hub.deps import ClockDep, SessionDep, SettingsDep, Sites, require_roles
from hub.services import line_stats
from hub.services.auth import Principal
from hub.services.line_stats import MAX_WINDOW_MIN, LinePageSettings, LineSummary

router = APIRouter(tags=["lines"])

#: Path of the JSON summary the page polls.
SUMMARY_PATH = "/api/v1/lines/summary"

LineViewer = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.SUPERVISOR))]
WindowMin = Annotated[
    int,
    Query(ge=1, le=MAX_WINDOW_MIN, description="Chart window ending now, in minutes."),
]


def line_settings(request: Request) -> LinePageSettings:
    """Line page thresholds: ``app.state.line_page_settings``, else from the environment."""
    found = getattr(request.app.state, "line_page_settings", None)
    if not isinstance(found, LinePageSettings):
        found = LinePageSettings()
        request.app.state.line_page_settings = found
    return found


LineSettingsDep = Annotated[LinePageSettings, Depends(line_settings)]


@dataclass(frozen=True, slots=True)
class LineView:
    """One request's summary of the lines, with the site, window and thresholds it used."""

    site: str
    window_min: int
    thresholds: LinePageSettings
    summary: LineSummary


def line_view(
    *,
    _viewer: LineViewer,
    sites: Sites,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    thresholds: LineSettingsDep,
    window_min: WindowMin = 60,
) -> LineView:
    """Summarise every line of the chosen site (``site``, the site picker, else this hub's,
    else the first of the caller's sites) over the last ``window_min``."""
    the_site = sites.chosen or settings.site_id
    if not sites.allows(the_site):
        the_site = sorted(sites.sites or {the_site})[0]
    summary = line_stats.line_summary(
        session, clock.now(), window_min=window_min, thresholds=thresholds, site=the_site
    )
    return LineView(the_site, window_min, thresholds, summary)


LineViewDep = Annotated[LineView, Depends(line_view)]


@router.get(SUMMARY_PATH, response_model=LineSummary, summary="Live summary of every line")
def lines_summary(view: LineViewDep) -> LineSummary:
    """Per line: parcels per minute, per chute/reason/outcome, latency, devices, open alarms."""
    return view.summary
