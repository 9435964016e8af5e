"""The line page: two lines against one hub, their figures, alarms, clearing, access, speed."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from lxml import html as lxml_html
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.events import EdgeEvent, EventKind
from hub.db.auth_models import Role, UserCreate
from hub.db.event_models import EVENT
from hub.ingest.events import ingest, refresh_parcels
from hub.ingest.projection import parcel_key
from hub.services import users
from hub.services.errors import Invalid
from hub.services.line_stats import LinePageSettings, LineStats, LineSummary, line_summary
from tests.hub.helpers_events import T0, Hub, engine, hub

__all__ = ["engine", "hub"]  # fixtures used below

logger = logging.getLogger(__name__)

#: The hub's time in these tests (the ``hub`` fixture's clock): 09:00 UTC.
NOW = T0 + timedelta(hours=1)
SUMMARY = "/api/v1/lines/summary"
ID_NUMBER = "110101199003071234"


def _ev(
    kind: EventKind,
    edge: str,
    at: datetime,
    data: dict[str, Any],
    item_id: int | None = None,
    *,
    code: str | None = None,
) -> EdgeEvent:
    return EdgeEvent(
        event_id=uuid.uuid4(),
        site="s1",
        edge_id=edge,
        kind=kind,
        at=at,
        item_id=item_id,
        parcel_code=code,
        data=data,
    )


def parcel_pass(
    edge: str,
    item: int,
    start: datetime,
    *,
    outcome: str = "RELEASE",
    reasons: tuple[str, ...] = (),
    chute: int = 1,
    latency_ms: float = 2.0,
    deadline_ms: int = 50,
    read: str = "OK",
    confirm: str = "diverted",
    confirmed_chute: int | None = None,
) -> list[EdgeEvent]:
    """The six events of one pass of a parcel on line ``edge``, starting at ``start``."""
    code = f"RR{item:08d}{edge[-1]}CN"
    codes = [code] if read == "OK" else []
    decided = {
        "outcome": outcome,
        "reasons": list(reasons),
        "rule_set_version": "2026.11-1",
        "chute": chute,
        "latency_ms": latency_ms,
        "deadline_ms": deadline_ms,
    }
    return [
        _ev(EventKind.PARCEL_SEEN, edge, start, {"device_id": f"plc-{edge}"}, item),
        _ev(
            EventKind.CODE_READ,
            edge,
            start + timedelta(seconds=0.4),
            {"device_id": f"tunnel-{edge}", "status": read, "codes": codes},
            item,
        ),
        _ev(
            EventKind.WEIGHED,
            edge,
            start + timedelta(seconds=0.9),
            {"device_id": f"cw-{edge}", "weight_kg": 1.2, "stable": True},
            item,
        ),
        _ev(EventKind.DECIDED, edge, start + timedelta(seconds=1.6), decided, item, code=code),
        _ev(
            EventKind.DIVERTED,
            edge,
            start + timedelta(seconds=1.61),
            {"chute": chute, "reason": 0},
            item,
        ),
        _ev(
            EventKind.CONFIRMED,
            edge,
            start + timedelta(seconds=6),
            {"chute": confirmed_chute if confirmed_chute is not None else chute, "status": confirm},
            item,
        ),
    ]


def device(
    edge: str, device_id: str, kind: str, online: bool, *, at: datetime, detail: str = ""
) -> EdgeEvent:
    """A device_state event of line ``edge``."""
    data = {"device_id": device_id, "device_kind": kind, "online": online, "detail": detail}
    return _ev(EventKind.DEVICE_STATE, edge, at, data)


def alarm(edge: str, name: str, at: datetime, item: int | None, detail: str) -> EdgeEvent:
    """An alarm event raised by line ``edge``."""
    return _ev(EventKind.ALARM, edge, at, {"alarm": name, "detail": detail}, item)


def line_one(now: datetime = NOW) -> list[EdgeEvent]:
    """Line e1: 21 parcels in the last 10 minutes, one mismatch, one no-answer, a scanner down."""
    t0 = now - timedelta(minutes=10)
    events: list[EdgeEvent] = []
    for i in range(1, 22):
        kw: dict[str, Any] = {"latency_ms": float(i)}
        if 15 <= i <= 17:
            kw.update(outcome="HOLD", reasons=("NOT_DECLARED",), chute=3)
        elif i in (18, 19):
            kw.update(outcome="INSPECT", reasons=("WEIGHT_DEVIATION", "RANDOM_SELECTION"), chute=2)
        elif i == 21:
            kw.update(
                outcome="REJECT", reasons=("NO_READ",), chute=9, read="NOREAD", latency_ms=0.5
            )
        if i == 5:
            kw.update(confirmed_chute=4)  # the sorter put it into another chute
        if i == 20:
            kw.update(confirm="no_answer", confirmed_chute=9)
        events += parcel_pass("e1", i, t0 + timedelta(seconds=25 * (i - 1)), **kw)
    events += parcel_pass("e1", 100, now - timedelta(minutes=90))  # before the window
    events.append(
        alarm("e1", "confirm_mismatch", t0 + timedelta(seconds=106), 5, "answered 1, went 4")
    )
    hour_ago = now - timedelta(hours=1)
    events += [
        device("e1", "plc-e1", "plc", True, at=hour_ago),
        device("e1", "cw-e1", "checkweigher", True, at=hour_ago),
        device("e1", "tunnel-e1", "scanner", True, at=hour_ago),
        device(
            "e1",
            "tunnel-e1",
            "scanner",
            False,
            at=now - timedelta(minutes=5),
            detail="no answer on port",
        ),
    ]
    return events


def line_two(now: datetime = NOW) -> list[EdgeEvent]:
    """Line e2: 25 parcels, a no-read burst (5 of 25), one late decision, a critical alarm."""
    t0 = now - timedelta(minutes=10)
    events: list[EdgeEvent] = []
    for i in range(1, 26):
        kw: dict[str, Any] = {}
        if i >= 21:
            kw.update(outcome="REJECT", reasons=("NO_READ",), chute=9, read="NOREAD")
        if i == 10:
            kw.update(latency_ms=100.0, deadline_ms=40)
        events += parcel_pass("e2", i, t0 + timedelta(seconds=20 * (i - 1)), **kw)
    hour_ago = now - timedelta(hours=1)
    events += [
        device("e2", "tunnel-e2", "scanner", True, at=hour_ago),
        device("e2", "xr-e2", "xray", True, at=hour_ago),
        alarm(
            "e2",
            "release_without_decision",
            now - timedelta(minutes=3),
            3,
            "release chute 1, no answer",
        ),
        alarm("e2", "lost_track", now - timedelta(minutes=30), None, "PLC lost track"),
    ]
    return events


def two_lines(now: datetime = NOW) -> list[EdgeEvent]:
    """Both lines' events."""
    return line_one(now) + line_two(now)


def _line(summary: LineSummary, edge: str) -> LineStats:
    (found,) = [ln for ln in summary.lines if ln.edge_id == edge]
    return found


def _counts(items: list[Any]) -> dict[str, int]:
    return {c.key: c.count for c in items}


def _alarms(line: LineStats) -> dict[str, Any]:
    return {a.code: a for a in line.alarms}


def _summary(engine: Engine, now: datetime = NOW, **kw: Any) -> LineSummary:
    with Session(engine) as session:
        return line_summary(session, now, thresholds=LinePageSettings(), site="s1", **kw)


def test_two_lines_counts_and_latency(engine: Engine) -> None:
    """Both lines appear with their own counts, breakdowns and nearest-rank percentiles."""
    events = two_lines()
    report = ingest(engine, events)
    assert (report.rejected, report.stored) == ([], len(events))
    s = _summary(engine)
    assert [ln.edge_id for ln in s.lines] == ["e1", "e2"]
    assert s.window_min == 60
    assert s.window_start == NOW - timedelta(minutes=59)

    one = _line(s, "e1")
    assert (one.parcels, one.decided) == (21, 21)  # the pass 90 minutes ago is outside
    assert _counts(one.by_outcome) == {"RELEASE": 15, "HOLD": 3, "INSPECT": 2, "REJECT": 1}
    assert [(c.key, c.count) for c in one.by_chute] == [("1", 15), ("2", 2), ("3", 3), ("9", 1)]
    assert _counts(one.by_reason) == {
        "NOT_DECLARED": 3,
        "WEIGHT_DEVIATION": 2,
        "RANDOM_SELECTION": 2,
        "NO_READ": 1,
    }
    # latencies 0.5, 1, 2, ... 20 ms: ranks 11, 20, 21 of 21
    lat = one.latency
    assert (lat.count, lat.p50_ms, lat.p95_ms, lat.p99_ms, lat.max_ms) == (
        21,
        10.0,
        19.0,
        20.0,
        20.0,
    )
    assert len(one.per_minute) == 60
    assert sum(m.parcels for m in one.per_minute) == 21
    by_minute = {m.minute: m.parcels for m in one.per_minute}
    assert by_minute[NOW - timedelta(minutes=10)] == 3  # at +0, +25 and +50 s
    assert by_minute[NOW - timedelta(minutes=20)] == 0
    assert (one.no_read.parcels_read, one.no_read.no_reads) == (21, 1)

    two = _line(s, "e2")
    assert (two.parcels, two.decided) == (25, 25)
    assert _counts(two.by_outcome) == {"RELEASE": 20, "REJECT": 5}
    assert _counts(two.by_chute) == {"1": 20, "9": 5}
    assert _counts(two.by_reason) == {"NO_READ": 5}
    lat = two.latency
    assert (lat.count, lat.p50_ms, lat.p95_ms, lat.p99_ms, lat.max_ms) == (
        25,
        2.0,
        2.0,
        100.0,
        100.0,
    )
    assert two.no_read.rate_pct == 20.0


def test_alarms_open_and_clear(engine: Engine) -> None:
    """Late answers, a mismatch, a no-read burst, a device outage; then each clears."""
    ingest(engine, two_lines())
    s = _summary(engine)
    one, two = _alarms(_line(s, "e1")), _alarms(_line(s, "e2"))

    assert set(one) == {"late_reply", "confirm_mismatch", "device_offline"}
    assert one["late_reply"].count == 1  # the no-answer confirmation of item 20
    assert one["confirm_mismatch"].count == 1  # the edge's own alarm is not counted again
    assert "tunnel-e1" in one["device_offline"].detail
    assert "no answer on port" in one["device_offline"].detail
    assert "no_read_rate" not in one  # 1 of 21 = 4.8 % is under 5 %

    assert set(two) == {"release_without_decision", "late_reply", "no_read_rate"}
    first = _line(s, "e2").alarms[0]
    assert (first.code, first.severity) == ("release_without_decision", "critical")
    assert two["late_reply"].count == 1  # item 10: 100 ms against a 40 ms deadline
    assert two["no_read_rate"].count == 5
    assert "20.0 %" in two["no_read_rate"].detail
    devices = {d.device_id: d.online for d in _line(s, "e1").devices}
    assert devices == {"plc-e1": True, "cw-e1": True, "tunnel-e1": False}

    # the scanner comes back: its alarm clears, the others stay
    ingest(engine, [device("e1", "tunnel-e1", "scanner", True, at=NOW - timedelta(minutes=1))])
    s = _summary(engine)
    assert set(_alarms(_line(s, "e1"))) == {"late_reply", "confirm_mismatch"}
    assert all(d.online for d in _line(s, "e1").devices)

    # eleven quiet minutes later every event alarm has aged out of its 10-minute window
    s = _summary(engine, NOW + timedelta(minutes=11))
    assert [a.code for ln in s.lines for a in ln.alarms] == []
    # a lower threshold turns line one's single no-read into an alarm
    with Session(engine) as session:
        strict = LinePageSettings(no_read_threshold_pct=4.0)
        s = line_summary(session, NOW, thresholds=strict, site="s1")
    assert "no_read_rate" in _alarms(_line(s, "e1"))


def test_window_and_site_filters(engine: Engine) -> None:
    """A short window counts only its minutes; another site sees nothing; bad windows refused."""
    ingest(engine, two_lines())
    s = _summary(engine, window_min=5)
    assert len(_line(s, "e1").per_minute) == 5
    assert _line(s, "e1").parcels == sum(m.parcels for m in _line(s, "e1").per_minute)
    assert _line(s, "e1").parcels < 21
    with Session(engine) as session:
        assert line_summary(session, NOW, thresholds=LinePageSettings(), site="other").lines == []
        for bad in (0, 1441):
            with pytest.raises(Invalid, match="window_min"):
                line_summary(session, NOW, window_min=bad, site="s1")


def test_thresholds_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLEARLINE_LINE_* variables set the thresholds; an unknown value is refused."""
    monkeypatch.setenv("CLEARLINE_LINE_NO_READ_THRESHOLD_PCT", "2.5")
    monkeypatch.setenv("CLEARLINE_LINE_DEADLINE_MS", "80")
    got = LinePageSettings()
    assert (got.no_read_threshold_pct, got.deadline_ms) == (2.5, 80.0)
    monkeypatch.setenv("CLEARLINE_LINE_NO_READ_THRESHOLD_PCT", "150")
    with pytest.raises(ValueError, match="no_read_threshold_pct"):
        LinePageSettings()


def _by_id(doc: Any, element_id: str) -> str:
    """The text of the element with ``element_id``."""
    (found,) = doc.xpath(f'//*[@id="{element_id}"]')
    return str(found.text_content())


def _post(h: Hub, events: list[EdgeEvent]) -> None:
    body = [json.loads(e.model_dump_json()) for e in events]
    resp = h.client.post("/api/v1/events", json=body, headers=h.auth(Role.EDGE))
    assert resp.status_code == 200, resp.text
    assert resp.json()["rejected"] == 0, resp.text


def test_summary_api_and_page_for_an_operator(hub: Hub) -> None:
    """Over HTTP: the JSON summary and the page show both lines; nothing unmasked or injected."""
    events = two_lines()
    events.append(
        alarm(
            "e2",
            "recirculation_limit",
            NOW - timedelta(minutes=2),
            7,
            f"<script>alert(1)</script> buyer {ID_NUMBER}",
        )
    )
    _post(hub, events)
    resp = hub.client.get(SUMMARY, params={"window_min": 30}, headers=hub.auth(Role.OPERATOR))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["window_min"] == 30
    assert [ln["edge_id"] for ln in body["lines"]] == ["e1", "e2"]
    assert ID_NUMBER not in resp.text

    page = hub.client.get("/lines", headers=hub.auth(Role.OPERATOR))
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    doc = lxml_html.fromstring(page.text)
    embedded = json.loads(_by_id(doc, "line-summary"))
    assert [ln["edge_id"] for ln in embedded["lines"]] == ["e1", "e2"]
    assert {a["code"] for a in embedded["lines"][1]["alarms"]} >= {"recirculation_limit"}
    config = json.loads(_by_id(doc, "line-config"))
    shown = {k: config[k] for k in ("url", "window_min", "site", "poll_ms")}
    assert shown == {"url": SUMMARY, "window_min": 60, "site": "s1", "poll_ms": 2000}
    assert config["alarms"]["late_reply"] == "对分拣机的应答迟到或缺失"  # Chinese by default
    # self-contained: inline script only, nothing fetched from elsewhere, nothing injected
    assert doc.xpath("//*[@src]|//link|//img|//iframe") == []
    assert "<script>alert" not in page.text
    assert ID_NUMBER not in page.text
    assert hub.client.get("/lines", headers=hub.auth(Role.SUPERVISOR)).status_code == 200


def test_access_rules(hub: Hub) -> None:
    """Filers get 403, anonymous callers 401; a browser session cookie is accepted."""
    with Session(hub.engine) as session:
        _, filer = users.create_api_key(session, "filer-1", Role.FILER, hub.clock.now(), "E1")
        users.create_user(
            session,
            UserCreate(name="op1", role=Role.OPERATOR, password="operator-password-1"),
            hub.clock.now(),
        )
    for path in ("/lines", SUMMARY):
        assert hub.client.get(path).status_code == 401
        assert hub.client.get(path, headers={"X-API-Key": filer}).status_code == 403
        assert hub.client.get(path, headers=hub.auth(Role.INSPECTOR)).status_code == 403
    assert (
        hub.client.get(
            SUMMARY, params={"window_min": 0}, headers=hub.auth(Role.OPERATOR)
        ).status_code
        == 422
    )
    token = hub.client.post(
        "/api/v1/auth/token", data={"username": "op1", "password": "operator-password-1"}
    ).json()["access_token"]
    hub.client.cookies.set("clearline_session", token)
    try:
        assert hub.client.get("/lines").status_code == 200
        assert hub.client.get(SUMMARY).status_code == 200
    finally:
        hub.client.cookies.clear()


def _bulk(engine: Engine, events: list[EdgeEvent]) -> None:
    """Store events with one executemany and fold their parcels (the ingest's own fold)."""
    rows: list[dict[str, Any]] = []
    for e in events:
        rows.append(
            {
                "event_id": e.event_id,
                "site": e.site,
                "edge_id": e.edge_id,
                "kind": e.kind.value,
                "at": e.at,
                "item_id": e.item_id,
                "parcel_code": e.parcel_code,
                "parcel_key": parcel_key(e.site, e.edge_id, e.kind, e.item_id, e.parcel_code),
                "data": e.data,
                "received_at": e.at,
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(EVENT), rows)
        keys = {r["parcel_key"]: r for r in rows if r["parcel_key"]}
        refresh_parcels(conn, keys, NOW)


@pytest.fixture
def big_engine(engine: Engine) -> Iterator[Engine]:
    """The database holding 50,000+ events of two lines over the last hour."""
    events: list[EdgeEvent] = []
    for edge in ("e1", "e2"):
        for i in range(1, 4168):  # 4,167 passes × 6 events per line
            start = NOW - timedelta(minutes=59) + timedelta(seconds=0.84 * i)
            events += parcel_pass(
                edge, i, start, latency_ms=float(i % 97), read="NOREAD" if i % 50 == 0 else "OK"
            )
    assert len(events) >= 50_000
    _bulk(engine, events)
    yield engine


def test_summary_is_fast_on_50000_events(big_engine: Engine) -> None:
    """The summary of two busy lines is a few grouped queries, not a loop over the events."""
    started = time.perf_counter()
    s = _summary(big_engine)
    took_s = time.perf_counter() - started
    assert [ln.parcels for ln in s.lines] == [4167, 4167]
    assert _line(s, "e1").latency.max_ms == 96.0
    logger.info("line summary over %s events: %.0f ms", 50_000, took_s * 1000)
    assert took_s < 5.0  # generous on a shared machine; typically well under a second
