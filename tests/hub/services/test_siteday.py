"""The site's day: China time cuts the days of work lists, statistics and the API (16:00 UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from hub.db.auth_models import Role
from hub.ingest.events import ingest
from hub.services import siteday
from hub.services.parcels import list_parcels
from hub.services.stats import parcel_stats
from hub.settings import HubSettings
from tests.hub.helpers_events import T0, Hub, engine, hub, parcel_story

__all__ = ["engine", "hub"]  # fixtures used below

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: 23:59:59 and 00:00:01 in Beijing on the night of 22 to 23 November (T0 is 08:00 UTC).
LAST_SECOND_S = 8 * 3600 - 1
FIRST_SECOND_S = 8 * 3600 + 1


def _two_parcels(eng: Engine) -> None:
    """One parcel first seen a second before midnight in China, one a second after."""
    ingest(eng, parcel_story(1, "RR000000011CN", start_s=LAST_SECOND_S))
    ingest(
        eng,
        parcel_story(
            2, "RR000000025CN", start_s=FIRST_SECOND_S, outcome="HOLD", reasons=("NOT_DECLARED",)
        ),
    )


def test_a_china_day_runs_from_16_00_to_16_00_utc() -> None:
    """Written out from the zone's offset (UTC+08:00, no daylight saving), not from our code."""
    start, end = siteday.bounds(date(2026, 12, 6), tz=SHANGHAI)
    assert start == datetime(2026, 12, 5, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    start, end = siteday.bounds(date(2026, 12, 1), date(2026, 12, 7), tz=SHANGHAI)
    assert (start, end - start) == (datetime(2026, 11, 30, 16, tzinfo=UTC), timedelta(days=7))
    assert siteday.day_of(datetime(2026, 12, 5, 23, 59, tzinfo=UTC), SHANGHAI) == date(2026, 12, 6)
    assert siteday.day_of(datetime(2026, 12, 5, 15, 59, tzinfo=UTC), SHANGHAI) == date(2026, 12, 5)


def test_an_unknown_zone_is_refused_by_name() -> None:
    """A misspelt zone stops the hub at start with the value and an example."""
    with pytest.raises(ValidationError, match="'Asia/Shanghia' is not an IANA time zone"):
        HubSettings(site_timezone="Asia/Shanghia")
    assert HubSettings().zone() == SHANGHAI
    assert HubSettings(site_timezone="Europe/Berlin").zone().key == "Europe/Berlin"


def test_statistics_count_each_parcel_on_its_china_day(engine: Engine) -> None:
    """The day key comes from the database (SQLite and PostgreSQL) in the site's zone."""
    _two_parcels(engine)
    with Session(engine) as session:
        china = parcel_stats(session, date(2026, 11, 22), date(2026, 11, 23), ["day"])
        utc = parcel_stats(session, date(2026, 11, 22), date(2026, 11, 23), ["day"], zone=UTC)
        only_23 = parcel_stats(session, date(2026, 11, 23), date(2026, 11, 23), ["day"])
    assert {r.keys["day"]: r.parcels for r in china.rows} == {"2026-11-22": 1, "2026-11-23": 1}
    assert {r.keys["day"]: r.parcels for r in utc.rows} == {"2026-11-22": 2}
    assert {r.keys["day"]: r.parcels for r in only_23.rows} == {"2026-11-23": 1}


def test_the_day_and_since_filters_of_the_parcel_list(engine: Engine) -> None:
    """A day is the site's; ``since`` reaches across midnight; a time without zone is refused."""
    _two_parcels(engine)
    with Session(engine) as session:
        day_22 = list_parcels(session, day=date(2026, 11, 22))
        day_23 = list_parcels(session, day=date(2026, 11, 23))
        since = list_parcels(session, since=T0 + timedelta(seconds=LAST_SECOND_S - 60))
        later = list_parcels(session, since=T0 + timedelta(seconds=LAST_SECOND_S + 1))
        with pytest.raises(Exception, match="since must carry its time zone"):
            list_parcels(session, since=datetime(2026, 11, 22, 15, 0))
    assert [p.parcel_code for p in day_22.items] == ["RR000000011CN"]
    assert [p.parcel_code for p in day_23.items] == ["RR000000025CN"]
    assert {p.parcel_code for p in since.items} == {"RR000000011CN", "RR000000025CN"}
    assert [p.parcel_code for p in later.items] == ["RR000000025CN"]


def test_pages_and_api_use_the_site_day_by_default(hub: Hub) -> None:
    """At 16:30 UTC it is already tomorrow in China: the default day follows the site."""
    _two_parcels(hub.engine)
    hub.clock.current = datetime(2026, 11, 22, 16, 30, tzinfo=UTC)
    work = hub.client.get("/work", headers=hub.auth(Role.OPERATOR)).text
    assert "2026-11-23" in work and "RR000000025CN" in work and "RR000000011CN" not in work
    assert "00:00:01" in work  # the time of day is the site's too
    assert "UTC+08:00" in work
    since = "2026-11-22T23:58:00+08:00"
    crossing = hub.client.get("/work", params={"since": since}, headers=hub.auth(Role.OPERATOR))
    assert "RR000000011CN" in crossing.text and "RR000000025CN" in crossing.text
    api = hub.client.get("/api/v1/stats", headers=hub.auth(Role.SUPERVISOR)).json()
    assert api["date_to"] == "2026-11-23"
    days = hub.client.get(
        "/api/v1/parcels", params={"day": "2026-11-22"}, headers=hub.auth(Role.OPERATOR)
    ).json()
    assert [p["parcel_code"] for p in days["items"]] == ["RR000000011CN"]


def test_a_statistics_bar_lists_the_parcels_of_its_whole_period(hub: Hub) -> None:
    """A reason's bar counts the period, so its link lists the period, not its last day."""
    _two_parcels(hub.engine)
    hub.clock.current = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    stats = hub.client.get("/statistics", headers=hub.auth(Role.SUPERVISOR)).text
    assert "/work?reason=NOT_DECLARED&day=2026-11-17&to=2026-11-23" in stats
    both = hub.client.get(
        "/work", params={"day": "2026-11-17", "to": "2026-11-23"}, headers=hub.auth(Role.OPERATOR)
    )
    assert "RR000000011CN" in both.text and "RR000000025CN" in both.text
    assert "2026-11-17 – 2026-11-23" in both.text
    wrong = hub.client.get(
        "/work", params={"day": "2026-11-23", "to": "2026-11-17"}, headers=hub.auth(Role.OPERATOR)
    )
    assert wrong.status_code == 422
    assert "a period runs forward and spans at most 400 days" in wrong.text


def test_every_period_the_statistics_accept_opens_as_a_work_list(hub: Hub) -> None:
    """A report may cover up to 400 days; the links of its bars must open, not fail."""
    _two_parcels(hub.engine)
    hub.clock.current = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    period = {"date_from": "2025-10-25", "date_to": "2026-11-23"}  # 395 days
    stats = hub.client.get("/statistics", params=period, headers=hub.auth(Role.SUPERVISOR))
    link = "/work?reason=NOT_DECLARED&day=2025-10-25&to=2026-11-23"
    assert stats.status_code == 200 and link in stats.text
    opened = hub.client.get(link, headers=hub.auth(Role.OPERATOR))
    assert opened.status_code == 200 and "RR000000025CN" in opened.text
