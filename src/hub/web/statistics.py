"""The statistics page: parcels per day by outcome, reasons and enterprises, as inline SVG
charts (no script, no CDN), with the same figures as CSV."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from hub.db.auth_models import Role
from hub.deps import SessionDep, SiteDayDep, Sites, require_roles
from hub.services import enterprises
from hub.services import rules as rules_service
from hub.services import stats as stats_service
from hub.services.auth import Principal
from hub.services.errors import ServiceError
from hub.web import i18n
from hub.web.names import currency_name, outcome_badge
from hub.web.shell import page
from hub.web.wording import reason_words
from inspection.rules import RulesError, parse_rules

router = APIRouter(tags=["pages"])

Supervisor = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR))]
#: Outcomes in the order the stacked bars draw them, with their colours.
COLOURS = {
    "RELEASE": "#2e7d32",
    "INSPECT": "#e0a800",
    "HOLD": "#c62828",
    "RETURN": "#6a1b9a",
    "REJECT": "#616161",
    "": "#9aa3b1",
}
#: Size of the per-day chart, px.
CHART_W, CHART_H, PAD_L, PAD_B = 760, 220, 44, 30


def day_bars(by_day: dict[str, dict[str, int]]) -> dict[str, object]:
    """Stacked bars, one per day, in px of the chart's viewBox."""
    days = sorted(by_day)
    top = max([sum(v.values()) for v in by_day.values()] + [1])
    slot = (CHART_W - PAD_L - 10) / max(len(days), 1)
    width = min(48.0, slot * 0.7)
    bars = []
    for i, day in enumerate(days):
        x = PAD_L + slot * i + (slot - width) / 2
        y = float(CHART_H - PAD_B)
        for outcome, colour in COLOURS.items():
            n = by_day[day].get(outcome, 0)
            if not n:
                continue
            h = (CHART_H - PAD_B - 10) * n / top
            y -= h
            bars.append(
                {"x": round(x, 1), "y": round(y, 1), "w": round(width, 1), "h": round(h, 1),
                 "colour": colour, "title": f"{day} {outcome_badge(outcome or None)}: {n}"}
            )  # fmt: skip
    labels = [
        {"x": round(PAD_L + slot * i + slot / 2, 1), "text": d[5:]} for i, d in enumerate(days)
    ]
    return {"bars": bars, "labels": labels, "top": top}


@router.get("/statistics", response_class=HTMLResponse, summary="Statistics page")
def statistics_page(
    me: Supervisor,
    sites: Sites,
    request: Request,
    session: SessionDep,
    site_day: SiteDayDep,
    date_from: date | None = None,
    date_to: date | None = None,
) -> HTMLResponse:
    """Parcels per day by outcome, the reasons and the enterprises of a period; CSV links."""
    today, zone = site_day.today, site_day.zone
    start, end = date_from or today - timedelta(days=6), date_to or today
    by_day_report = stats_service.parcel_stats(
        session, start, end, ("day", "outcome"), scope=sites, zone=zone
    )
    reason_report = stats_service.parcel_stats(
        session, start, end, ("reason",), scope=sites, zone=zone
    )
    ebc_report = stats_service.parcel_stats(
        session, start, end, ("ebc_code",), scope=sites, zone=zone
    )
    by_day: dict[str, dict[str, int]] = defaultdict(dict)
    outcomes: dict[str, int] = defaultdict(int)
    for row in by_day_report.rows:
        o = row.keys.get("outcome", "")
        by_day[row.keys["day"]][o] = by_day[row.keys["day"]].get(o, 0) + row.parcels
        outcomes[o] += row.parcels
    day = start
    while day <= end:
        by_day.setdefault(day.isoformat(), {})
        day += timedelta(days=1)
    with i18n.speaking(i18n.choose(request)):
        chart = day_bars(by_day)
        reasons = _ranked(reason_report.rows, "reason", lambda r: reason_words(r, i18n.gettext))
        ebcs = _ranked(ebc_report.rows, "ebc_code", _enterprise_words(session, ebc_report.rows))
        legend = [(COLOURS[o], outcome_badge(o or None), outcomes.get(o, 0)) for o in COLOURS]
        values = [
            (
                currency_name(r.currency) or i18n.gettext("no declaration"),
                r.declared_value,
                r.parcels,
            )
            for r in ebc_report.rows
        ]
    query = {"date_from": start.isoformat(), "date_to": end.isoformat(), "format": "csv"}
    if sites.chosen:
        query["site"] = sites.chosen
    csv_links = {
        key: "/api/v1/stats?" + urlencode({**query, "group_by": groups}, doseq=True)
        for key, groups in (
            ("day", ["day", "outcome"]),
            ("reason", ["reason"]),
            ("ebc", ["ebc_code"]),
        )
    }
    totals: dict[str, list[object]] = defaultdict(lambda: [0, 0])
    for name, value, n in values:
        totals[name][0] = totals[name][0] + value  # type: ignore[operator]
        totals[name][1] = totals[name][1] + n  # type: ignore[operator]
    return page(
        request,
        "statistics.html",
        me,
        date_from=start.isoformat(),
        date_to=end.isoformat(),
        total=by_day_report.total_parcels,
        chart=chart,
        chart_w=CHART_W,
        chart_h=CHART_H,
        pad_l=PAD_L,
        pad_b=PAD_B,
        legend=legend,
        reasons=reasons,
        ebcs=ebcs,
        values=sorted(totals.items()),
        csv=csv_links,
    )


def _enterprise_words(
    session: SessionDep, rows: list[stats_service.StatsRow]
) -> Callable[[str], str]:
    """An enterprise code in words: its name (from the declarations) and its credit grade
    under the current rules."""
    known = enterprises.names(session, (r.keys.get("ebc_code", "") for r in rows))
    try:
        rules = parse_rules(rules_service.current(session).text, "rules (hub)")
    except (ServiceError, RulesError):
        rules = None

    def words(code: str) -> str:
        grade = i18n.gettext(str(rules.grade_of(code))) if rules is not None else ""
        return " · ".join(w for w in (known.get(code, ""), grade) if w)

    return words


def _ranked(
    rows: list[stats_service.StatsRow], key: str, words: Callable[[str], str]
) -> list[dict[str, object]]:
    """Rows summed per key value, largest first, with bar widths in % of the largest."""
    sums: dict[str, int] = defaultdict(int)
    for row in rows:
        sums[row.keys.get(key, "")] += row.parcels
    ranked = sorted(sums.items(), key=lambda kv: -kv[1])[:12]
    top = max([n for _, n in ranked] + [1])
    return [
        {"code": k, "words": words(k) if k else "—", "n": n, "pct": round(100 * n / top, 1)}
        for k, n in ranked
    ]
