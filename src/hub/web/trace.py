"""Web pages of the hub for supervisors: the parcel trace, from first scan to its chute."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse

from hub.db.auth_models import Role
from hub.deps import SessionDep, require_roles
from hub.services import parcels as parcel_service
from hub.services.auth import Principal
from hub.services.errors import NotFound
from hub.services.parcel_schemas import Timeline, TimelineEvent
from hub.web.templates import environment
from hub.web.wording import CONFIRM_WORDS

router = APIRouter(tags=["pages"])

#: Drawing size of the inline SVG timeline, in px.
SVG_WIDTH = 860
SVG_HEIGHT = 150
_MARGIN = 40

TraceViewer = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.INSPECTOR))]

_KIND_CLASS = {
    "parcel_seen": "seen",
    "code_read": "read",
    "weighed": "weigh",
    "imaged": "xray",
    "decided": "decide",
    "diverted": "divert",
    "confirmed": "confirm",
    "verdict_applied": "verdict",
    "alarm": "alarm",
    "device_state": "device",
}


@dataclass(frozen=True, slots=True)
class Mark:
    """One event on the SVG timeline: x in px, label above or below the axis."""

    x: float
    label: str
    css: str
    above: bool
    title: str


def timeline_marks(events: list[TimelineEvent]) -> list[Mark]:
    """Place events along the SVG axis in proportion to their time since the first one."""
    if not events:
        return []
    first, last = events[0].at, events[-1].at
    span_s = max((last - first).total_seconds(), 1e-9)
    usable = SVG_WIDTH - 2 * _MARGIN
    marks = []
    for i, ev in enumerate(events):
        offset_s = (ev.at - first).total_seconds()
        x = _MARGIN + (usable * offset_s / span_s if len(events) > 1 else 0.0)
        marks.append(
            Mark(
                x=round(x, 1),
                label=f"{ev.kind.replace('_', ' ')} +{offset_s:.2f}s",
                css=_KIND_CLASS.get(ev.kind, "other"),
                above=i % 2 == 0,
                title=ev.summary,
            )
        )
    return marks


def _clock(at: datetime | None) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS.mmm UTC``."""
    if at is None:
        return "—"
    return at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d} UTC"


def render_trace(timeline: Timeline) -> str:
    """Render the trace page of one parcel as a self-contained HTML document."""
    first = timeline.events[0].at if timeline.events else None
    rows = [
        {
            "clock": _clock(ev.at),
            "elapsed": f"+{(ev.at - first).total_seconds():.3f} s" if first else "",
            "kind": ev.kind.replace("_", " "),
            "css": _KIND_CLASS.get(ev.kind, "other"),
            "device": ev.device_id or "",
            "where": f"{ev.edge_id} / item {ev.item_id}" if ev.item_id else ev.edge_id,
            "summary": ev.summary,
        }
        for ev in timeline.events
    ]
    latest = timeline.passes[-1] if timeline.passes else None
    confirm = timeline.confirmation
    return (
        environment()
        .get_template("trace.html")
        .render(
            t=timeline,
            latest=latest,
            rows=rows,
            marks=timeline_marks(timeline.events),
            svg_width=SVG_WIDTH,
            svg_height=SVG_HEIGHT,
            axis_y=SVG_HEIGHT // 2,
            margin=_MARGIN,
            clock=_clock,
            confirm_words=CONFIRM_WORDS.get(confirm.status or "", confirm.status)
            if confirm
            else None,
        )
    )


@router.get("/trace/{code}", response_class=HTMLResponse, summary="Parcel trace page")
def trace_page(
    *,
    _viewer: TraceViewer,
    session: SessionDep,
    code: Annotated[str, PathParam(min_length=1, max_length=200)],
) -> HTMLResponse:
    """A supervisor's view of one parcel: times, devices, measured vs declared, reasons."""
    try:
        timeline = parcel_service.get_timeline(session, code)
    except NotFound as err:
        html = environment().get_template("not_found.html").render(message=err.message)
        return HTMLResponse(html, status_code=404)
    return HTMLResponse(render_trace(timeline))
