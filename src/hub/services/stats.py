"""Parcel statistics: counts and declared values by day, customs mode, outcome, reason, enterprise.

Grouping happens in the database. A parcel counts once per group; when ``reason`` is a group
key it counts once per reason it has (``""`` for a parcel with none). Declared values (the
goods value, else the sum of the goods lines) are summed per currency (``currency`` is always
a group key), never converted. Days are the site's own (``siteday``: China time by default).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, literal, select, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from hub.db.event_models import PARCEL
from hub.db.models import DECLARATION, DECLARATION_LINE
from hub.services import siteday
from hub.services.errors import Invalid
from hub.services.sites import ALL, SiteScope
from inspection.formats.csvutil import spreadsheet_safe

#: Keys a report may group by, in their column order.
GROUP_KEYS = ("day", "trade_mode", "outcome", "reason", "ebc_code", "site", "edge")
#: Longest period one report may cover, in days.
MAX_DAYS = siteday.MAX_PERIOD_DAYS


class StatsRow(BaseModel):
    """One group: its keys (those asked for), parcels, declared value in ``currency``."""

    keys: dict[str, str] = Field(description="Group key values, e.g. {'day': '2026-11-22'}.")
    currency: str = Field(description="Currency of declared_value (CEB code, e.g. 142 = CNY).")
    parcels: int = Field(description="Parcel passes in the group.")
    declared_value: Decimal = Field(description="Sum of declared goods values, in currency.")


class StatsReport(BaseModel):
    """A statistics report over a period of site days (both ends included)."""

    date_from: date
    date_to: date
    group_by: list[str]
    total_parcels: int
    rows: list[StatsRow]


def check_group_by(group_by: Sequence[str]) -> list[str]:
    """Return the group keys in canonical order; raise Invalid naming an unknown one."""
    unknown = [g for g in group_by if g not in GROUP_KEYS]
    if unknown:
        raise Invalid(
            f"cannot group by {unknown}; choose from {list(GROUP_KEYS)}", field="group_by"
        )
    return [g for g in GROUP_KEYS if g in group_by]


def parcel_stats(
    session: Session,
    date_from: date,
    date_to: date,
    group_by: Sequence[str] = ("day", "outcome"),
    *,
    site: str | None = None,
    edge: str | None = None,
    scope: SiteScope = ALL,
    zone: tzinfo = siteday.DEFAULT_ZONE,
) -> StatsReport:
    """Count parcels (of the scope's sites) first seen between two site days of ``zone``
    (inclusive) and sum declared values."""
    keys = check_group_by(group_by)
    if date_to < date_from:
        raise Invalid("date_to is before date_from", field="date_to")
    if (date_to - date_from).days >= MAX_DAYS:
        raise Invalid(f"a report covers at most {MAX_DAYS} days", field="date_to")
    conn = session.connection()
    dialect = conn.dialect.name
    start, end = siteday.bounds(date_from, date_to, tz=zone)
    joined = PARCEL.outerjoin(
        DECLARATION,
        and_(
            DECLARATION.c.kind == PARCEL.c.declaration_kind,
            DECLARATION.c.business_key == PARCEL.c.declaration_key,
        ),
    )
    columns: dict[str, ColumnElement[Any]] = {
        "day": siteday.day_sql(PARCEL.c.first_seen, dialect, zone, start),
        "trade_mode": func.coalesce(DECLARATION.c.trade_mode, ""),
        "outcome": func.coalesce(PARCEL.c.outcome, ""),
        "ebc_code": func.coalesce(DECLARATION.c.ebc_code, ""),
        "site": PARCEL.c.site,
        "edge": PARCEL.c.edge_id,
    }
    if "reason" in keys:
        if dialect == "postgresql":
            each = func.json_array_elements_text(PARCEL.c.reasons).table_valued("value").lateral()
        else:
            each = func.json_each(PARCEL.c.reasons).table_valued("value")
        joined = joined.outerjoin(each, true())
        columns["reason"] = func.coalesce(each.c.value, "")
    picked = [columns[k].label(k) for k in keys]
    currency = func.coalesce(DECLARATION.c.currency, "").label("currency")
    stmt = (
        select(
            *picked,
            currency,
            func.count().label("parcels"),
            func.coalesce(func.sum(_declared_value()), literal(0)).label("value"),
        )
        .select_from(joined)
        .where(PARCEL.c.first_seen >= start, PARCEL.c.first_seen < end)
        .group_by(*[columns[k] for k in keys], DECLARATION.c.currency)
        .order_by(*[columns[k] for k in keys], DECLARATION.c.currency)
    )
    stmt = stmt.where(scope.clause(PARCEL.c.site))
    if site is not None:
        stmt = stmt.where(PARCEL.c.site == site)
    if edge is not None:
        stmt = stmt.where(PARCEL.c.edge_id == edge)
    rows = [
        StatsRow(
            keys={k: str(r[k]) for k in keys},
            currency=str(r["currency"]),
            parcels=int(r["parcels"]),
            declared_value=Decimal(str(r["value"])).quantize(Decimal("0.00001")),
        )
        for r in conn.execute(stmt).mappings()
    ]
    total_stmt = select(func.count()).where(PARCEL.c.first_seen >= start, PARCEL.c.first_seen < end)
    total_stmt = total_stmt.where(scope.clause(PARCEL.c.site))
    if site is not None:
        total_stmt = total_stmt.where(PARCEL.c.site == site)
    if edge is not None:
        total_stmt = total_stmt.where(PARCEL.c.edge_id == edge)
    total = int(conn.execute(total_stmt.select_from(PARCEL)).scalar_one())
    return StatsReport(
        date_from=date_from, date_to=date_to, group_by=keys, total_parcels=total, rows=rows
    )


def _declared_value() -> ColumnElement[Any]:
    """A declaration's goods value; the sum of its lines' totals when the head has none."""
    lines = (
        select(func.sum(DECLARATION_LINE.c.total_price))
        .where(DECLARATION_LINE.c.declaration_id == DECLARATION.c.id)
        .scalar_subquery()
    )
    return func.coalesce(DECLARATION.c.goods_value, lines)


def to_csv(report: StatsReport) -> str:
    """Render a report as CSV: the group keys, currency, parcels, declared_value.

    Text cells (codes and ids filed by others) are made safe against formula injection.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*report.group_by, "currency", "parcels", "declared_value"])
    for row in report.rows:
        writer.writerow(
            [
                *[spreadsheet_safe(row.keys[k]) for k in report.group_by],
                spreadsheet_safe(row.currency),
                row.parcels,
                f"{row.declared_value:f}",
            ]
        )
    return out.getvalue()


def default_period(today: date) -> tuple[date, date]:
    """The default report period: the last seven site days up to ``today``."""
    return today - timedelta(days=6), today
