"""Web pages of the hub for supervisors: the parcel trace, from first scan to its chute."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse

from hub.db.auth_models import Role
from hub.deps import SessionDep, require_roles
from hub.services import parcels as parcel_service
from hub.services.auth import Principal
from hub.services.errors import NotFound
from hub.services.parcel_schemas import Timeline, TimelineEvent
from hub.services.review_schemas import CATEGORIES
from hub.web import i18n
from hub.web.i18n import N_
from hub.web.names import (
    chute_name,
    country_name,
    currency_name,
    customs_status,
    outcome_badge,
    trade_mode_name,
    unit_name,
)
from hub.web.shell import page
from hub.web.wording import CONFIRM_WORDS, event_summary, verdict_why

router = APIRouter(tags=["pages"])

#: Drawing size of the inline SVG timeline, in px.
SVG_WIDTH = 860
SVG_HEIGHT = 190
_MARGIN = 40
#: Least room between two labels on one side of the axis, px; rows of labels per side.
LABEL_GAP = 6.0
MAX_ROWS = 3

TraceViewer = Annotated[
    Principal, Depends(require_roles(Role.SUPERVISOR, Role.INSPECTOR, Role.OPERATOR))
]

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
    "requested": "divert",
}
#: Event kinds in words.
KIND_WORDS: dict[str, str] = {
    "parcel_seen": N_("inducted"),
    "code_read": N_("code read"),
    "weighed": N_("weighed"),
    "imaged": N_("X-ray image"),
    "requested": N_("sorter asked"),
    "decided": N_("decided"),
    "diverted": N_("chute sent"),
    "confirmed": N_("confirmed"),
    "verdict_applied": N_("verdict applied"),
    "alarm": N_("alarm"),
    "device_state": N_("device state"),
}


@dataclass(frozen=True, slots=True)
class Mark:
    """One event on the SVG timeline: x in px, label above or below the axis."""

    x: float
    label: str
    css: str
    above: bool
    title: str
    row: int = 1


def timeline_marks(events: list[TimelineEvent]) -> list[Mark]:
    """Place events along the SVG axis in proportion to their time since the first one.

    Labels alternate above and below the axis; a label that would overlap the previous one on
    its side (closer than LABEL_GAP px) moves one row further out, so labels never overlap.
    """
    if not events:
        return []
    first, last = events[0].at, events[-1].at
    span_s = max((last - first).total_seconds(), 1e-9)
    usable = SVG_WIDTH - 2 * _MARGIN
    marks = []
    ends: dict[int, float] = {}  # row (±1, ±2, …) → right end of its last label, px
    for i, ev in enumerate(events):
        offset_s = (ev.at - first).total_seconds()
        x = _MARGIN + (usable * offset_s / span_s if len(events) > 1 else 0.0)
        label = f"{kind_words(ev.kind)} +{offset_s:.2f}s"
        half = _label_px(label) / 2
        side = 1 if i % 2 == 0 else -1
        row = side
        while x - half < ends.get(row, -1e9) + LABEL_GAP and abs(row) < MAX_ROWS:
            row += side
        ends[row] = x + half
        marks.append(
            Mark(
                x=round(x, 1),
                label=label,
                css=_KIND_CLASS.get(ev.kind, "other"),
                above=row > 0,
                title=event_summary(ev.kind, ev.data, ev.item_id, i18n.gettext),
                row=abs(row),
            )
        )
    return marks


def _label_px(label: str) -> float:
    """The drawn width of a label at 11 px: CJK characters are about twice as wide."""
    return sum(11.0 if ord(c) > 0x2E80 else 6.2 for c in label)


def kind_words(kind: str) -> str:
    """An event kind in words, in the page's language."""
    return i18n.gettext(KIND_WORDS.get(kind, kind.replace("_", " ")))


def _clock(at: datetime | None) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS.mmm UTC``."""
    if at is None:
        return "—"
    return at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d} UTC"


def _category(code: str) -> str:
    """A suspect category in words."""
    return i18n.gettext(CATEGORIES[code]) if code in CATEGORIES else code


def trace_context(timeline: Timeline) -> dict[str, object]:
    """What the trace page shows, with words in the language being rendered."""
    first = timeline.events[0].at if timeline.events else None
    tr = i18n.gettext
    rows = [
        {
            "clock": _clock(ev.at),
            "elapsed": f"+{(ev.at - first).total_seconds():.3f} s" if first else "",
            "kind": kind_words(ev.kind),
            "css": _KIND_CLASS.get(ev.kind, "other"),
            "device": ev.device_id or "",
            "where": f"{ev.edge_id} / {tr('item')} {ev.item_id}" if ev.item_id else ev.edge_id,
            "summary": event_summary(ev.kind, ev.data, ev.item_id, tr),
        }
        for ev in timeline.events
    ]
    latest = timeline.passes[-1] if timeline.passes else None
    confirm = timeline.confirmation
    status = (confirm.status or "") if confirm else ""
    return {
        "t": timeline,
        "latest": latest,
        "rows": rows,
        "marks": timeline_marks(timeline.events),
        "svg_width": SVG_WIDTH,
        "svg_height": SVG_HEIGHT,
        "axis_y": SVG_HEIGHT // 2,
        "margin": _MARGIN,
        "clock": _clock,
        "badge": outcome_badge,
        "chute": chute_name,
        "currency": currency_name,
        "country": country_name,
        "customs": customs_status,
        "mode": trade_mode_name,
        "why": lambda text: verdict_why(text, i18n.gettext),
        "unit": unit_name,
        "category": _category,
        "confirm_words": tr(CONFIRM_WORDS[status]) if status in CONFIRM_WORDS else status,
    }


@router.get("/trace/{code}", response_class=HTMLResponse, summary="Parcel trace page")
def trace_page(
    *,
    viewer: TraceViewer,
    request: Request,
    session: SessionDep,
    code: Annotated[str, PathParam(min_length=1, max_length=200)],
) -> HTMLResponse:
    """One parcel's story: times, devices, measured vs declared, reasons, verdicts."""
    try:
        timeline = parcel_service.get_timeline(session, code)
    except NotFound as err:
        return page(request, "not_found.html", viewer, status=404, message=err.message)
    with i18n.speaking(i18n.choose(request)):
        context = trace_context(timeline)
    context["desk"] = viewer.allowed(frozenset({Role.INSPECTOR, Role.SUPERVISOR}))
    return page(request, "trace.html", viewer, **context)  # type: ignore[arg-type]
