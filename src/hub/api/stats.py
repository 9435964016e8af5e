"""Statistics by day, customs mode, outcome, reason and enterprise; JSON or CSV."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from hub.deps import SessionDep, SiteDayDep, Sites, Supervisor
from hub.services import stats as service

router = APIRouter(prefix="/api/v1/stats", tags=["stats"])


@router.get(
    "",
    response_model=service.StatsReport,
    summary="Parcel statistics",
    responses={200: {"content": {"text/csv": {}}}},
)
def get_stats(
    *,
    _supervisor: Supervisor,
    sites: Sites,
    session: SessionDep,
    site_day: SiteDayDep,
    date_from: Annotated[
        date | None, Query(description="First site day (default: 6 days ago).")
    ] = None,
    date_to: Annotated[
        date | None, Query(description="Last site day, included (default: today).")
    ] = None,
    group_by: Annotated[
        list[str],
        Query(description=f"Any of {', '.join(service.GROUP_KEYS)}; repeat the parameter."),
    ] = ["day", "outcome"],  # noqa: B006  (FastAPI copies query defaults)
    edge: Annotated[str | None, Query(max_length=64)] = None,
    format: Literal["json", "csv"] = "json",
) -> service.StatsReport | Response:
    """Counts and declared values grouped as asked; ``format=csv`` returns a CSV file."""
    first, last = service.default_period(site_day.today)
    report = service.parcel_stats(
        session,
        date_from or first,
        date_to or last,
        group_by,
        edge=edge,
        scope=sites,
        zone=site_day.zone,
    )
    if format == "csv":
        name = f"clearline-stats-{report.date_from}-{report.date_to}.csv"
        return Response(
            service.to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return report
