"""Each role's journey through the hub pages in headless Chromium, in Chinese and in English.

operator: line page → alarm → its parcels → trace; inspector: review by keyboard → verdict →
the trace shows it; supervisor: statistics → CSV, and rules change → audit log; filer: upload
→ import report → check of the held parcel (and, in Chinese, the person's own language
setting). Every journey saves its screenshots to ``docs/images/`` (``<page>-<lang>.png``),
which the docs show.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from contracts.events import EdgeEvent, EventKind
from hub.app import create_app
from hub.db.auth_models import Role, UserCreate
from hub.db.engine import make_engine
from hub.ingest.events import ingest
from hub.ingest.xray_store import ReviewSettings, XrayStore, store_image
from hub.services import siteday, users
from hub.settings import HubSettings
from inspection.formats.ceb_write import write_ceb
from simulators.sample_declarations import parcel_sets
from tests.hub.helpers_events import T0, file_declarations, make_event, story_for
from tests.hub.helpers_review import sample_png
from tests.hub.web.test_review_browser import CHROMIUM, CHROMIUM_ARGS, WAIT_S, Server

IMAGES = Path(__file__).resolve().parents[3] / "docs" / "images"
PASSWORD = "journey-password-7"
LANGS = ("zh", "en")
#: What each language calls a few things the journeys look for.
WORDS = {
    "zh": {
        "late": "对分拣机的应答迟到或缺失",
        "held": "扣留",
        "verdict": "放行",
        "report": "导入报告",
        "saved": "已保存为第 2 版规则",
        "rules_change": "修改了规则",
        "intact": "链条完好",
        "pending": "海关尚未放行",
        "users": "用户",
    },
    "en": {
        "late": "Late or missing answers to the sorter",
        "held": "Held",
        "verdict": "clear",
        "report": "Import report",
        "saved": "Saved as rules version 2",
        "rules_change": "changed the rules",
        "intact": "The chain is intact",
        "pending": "Customs has not decided yet",
        "users": "Users",
    },
}
LOCALES = {"zh": "zh-CN", "en": "en-US"}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium")


@dataclass
class Scene:
    """The served hub and what it holds."""

    url: str
    codes: dict[str, str]
    waiting: list[str]
    enterprise: str
    upload: Path
    uploaded: str
    held_day: str


def _now_s() -> float:
    """Seconds from T0 (the helpers' origin) to now: events of the scene happen now."""
    return (datetime.now(UTC) - T0).total_seconds()


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    """A hub with decided parcels (one late), two images waiting for review and one person
    per role."""
    tmp = tmp_path
    settings = HubSettings(dev=True, database_url=f"sqlite:///{tmp / 'hub.db'}", site_id="s1")
    engine = make_engine(settings.database_url)
    app = create_app(settings, engine=engine)
    store = XrayStore(ReviewSettings(data_dir=tmp / "data", review_budget_s=3600.0))
    app.state.xray_store = store
    sets = file_declarations(engine, 8, seed=21)
    now = _now_s()
    stories = [
        ("released", "RELEASE", (), 1),
        ("weight", "INSPECT", ("WEIGHT_DEVIATION",), 6),
        ("held", "HOLD", ("CUSTOMS_PENDING",), 8),
        ("late", "REJECT", ("LATE_DECISION",), 9),
        ("random", "INSPECT", ("RANDOM_SELECTION",), 6),
    ]
    codes: dict[str, str] = {}
    events: list[EdgeEvent] = []
    for n, (name, outcome, reasons, chute) in enumerate(stories):
        ps = sets[n]
        codes[name] = ps.inventory.logistics_no
        events += story_for(
            ps, 10 + n, start_s=now - 300 + 20 * n, outcome=outcome, reasons=reasons, chute=chute
        )
    waiting = []
    for n in (5, 6):
        code = sets[n].inventory.logistics_no
        waiting.append(code)
        item = 10 + n
        events.append(
            make_event(EventKind.PARCEL_SEEN, {"device_id": "plc1"}, item_id=item, at_s=now - 5)
        )
        read = {"device_id": "tunnel1", "status": "OK", "codes": [f"]C1{code}"]}
        events.append(make_event(EventKind.CODE_READ, read, item_id=item, at_s=now - 4))
    report = ingest(engine, events)
    assert not report.rejected, report.rejected
    for n, kind in ((5, "battery"), (6, "blade")):
        png = sample_png(kind, seed=4, width=512, height=384)
        store_image(
            engine, store, site="s1", device_id="xr1", item_id=10 + n, png=png,
            received_at=datetime.now(UTC),
        )  # fmt: skip
    enterprise = sets[0].inventory.ebc_code
    with Session(engine) as session:
        for role in ("operator", "inspector", "supervisor", "filer", "admin"):
            users.create_user(
                session,
                UserCreate(
                    name=f"{role}-j",
                    role=Role(role),
                    password=PASSWORD,
                    enterprise=enterprise if role == "filer" else "",
                ),
                datetime.now(UTC),
            )
    upload = tmp / "CEB621-inventories.xml"
    filed = [ps.inventory for ps in parcel_sets(4, seed=77, start=500)]
    own = enterprise  # three lists filed by the declaring enterprise itself, one naming others
    filed[:3] = [
        replace(
            d, agent_code=own, ebp_code=own, logistics_code=own,
            business_key=f"{own}:{d.business_key.split(':', 1)[1]}",
        )
        for d in filed[:3]
    ]  # fmt: skip
    with upload.open("wb") as f:
        write_ceb(f, "CEB621", filed)
    server = Server(app)
    server.start()
    try:
        held_at = T0 + timedelta(seconds=now - 300 + 20 * 2)  # the site's day of the held parcel
        held_day = siteday.day_of(held_at, settings.zone()).isoformat()
        yield Scene(server.url, codes, waiting, enterprise, upload, filed[0].logistics_no, held_day)
    finally:
        server.stop()
        engine.dispose()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's; never a downloaded one)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _log_in(browser: Any, scene: Scene, role: str, lang: str) -> Any:
    """A page in ``lang`` whose person has logged in through the form; lands on its home."""
    context = browser.new_context(
        viewport={"width": 1366, "height": 860}, locale=LOCALES[lang], accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(WAIT_S * 1000)
    page.goto(f"{scene.url}/login")
    page.fill("#username", f"{role}-j")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def _shot(page: Any, name: str, lang: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / f"{name}-{lang}.png"), full_page=False)


@pytest.mark.parametrize("lang", LANGS)
def test_operator_follows_an_alarm_to_the_parcel(browser: Any, scene: Scene, lang: str) -> None:
    """Home is the line page; the late-answer alarm leads to its parcels and to the trace."""
    page = _log_in(browser, scene, "operator", lang)
    assert page.url.endswith("/lines")
    page.wait_for_selector("section.line")
    alarm = page.locator(".alarms li[data-code=late_reply]")
    assert WORDS[lang]["late"] in alarm.inner_text()
    _shot(page, "line-page", lang)
    alarm.locator("a").click()
    page.wait_for_selector("#parcels table")
    assert scene.codes["late"] in page.inner_text("#parcels")
    assert scene.codes["released"] not in page.inner_text("#parcels")
    _shot(page, "work-list", lang)
    page.click(f"a[href='/trace/{scene.codes['late']}']")
    page.wait_for_selector("#summary")
    assert scene.codes["late"] in page.inner_text("header")
    _shot(page, "trace", lang)
    page.close()


@pytest.mark.parametrize("lang", LANGS)
def test_inspector_reviews_by_keyboard_and_the_trace_shows_it(
    browser: Any, scene: Scene, lang: str
) -> None:
    """Home is the review station; views by number keys, clear with C; the trace lists it."""
    page = _log_in(browser, scene, "inspector", lang)
    assert page.url.endswith("/review")
    page.wait_for_selector("#queue li[data-image-id]")
    page.wait_for_selector("#panel table")
    code = page.inner_text("#queue li.sel .code").strip()
    assert code in scene.waiting
    page.keyboard.press("4")  # inorganic view
    page.keyboard.press("+")
    _shot(page, "review-station", lang)
    page.keyboard.press("c")
    page.wait_for_selector("#toast", state="visible")
    assert code in page.inner_text("#toast")
    page.keyboard.press("Tab")  # the history: the reviewed image is there, not in the queue
    page.wait_for_selector(f"#queue li[data-image-id] >> text={code}")
    page.goto(f"{scene.url}/trace/{code}")
    verdicts = page.inner_text("#verdicts")
    assert WORDS[lang]["verdict"] in verdicts and "inspector-j" in verdicts
    _shot(page, "trace-verdict", lang)
    page.click("#summary a[href^='/desk']")  # on to the inspection desk
    page.wait_for_selector("#why b")
    assert code in page.inner_text("#why")
    _shot(page, "desk", lang)
    page.close()


@pytest.mark.parametrize("lang", LANGS)
def test_supervisor_reads_statistics_and_takes_the_csv(
    browser: Any, scene: Scene, lang: str
) -> None:
    """Home is the statistics page: charts drawn inline, the CSV holds the same counts."""
    page = _log_in(browser, scene, "supervisor", lang)
    assert page.url.endswith("/statistics")
    bars = page.locator("#per-day svg rect")
    assert bars.count() >= 3
    _shot(page, "statistics", lang)
    with page.expect_download() as got:
        page.click("#csv-day")
    text = Path(got.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    by_outcome: dict[str, int] = {}
    for row in rows:
        by_outcome[row["outcome"]] = by_outcome.get(row["outcome"], 0) + int(row["parcels"])
    assert by_outcome.get("INSPECT") == 2 and by_outcome.get("HOLD") == 1, by_outcome
    page.goto(f"{scene.url}/work?outcome=HOLD&day={scene.held_day}")
    assert scene.codes["held"] in page.inner_text("#parcels")
    assert WORDS[lang]["held"] in page.inner_text("#parcels")
    _shot(page, "hold-cage", lang)
    page.close()


@pytest.mark.parametrize("lang", LANGS)
def test_filer_uploads_and_reads_the_import_report(browser: Any, scene: Scene, lang: str) -> None:
    """Home is the filing page; an upload gives the report: format, read, accepted, rejected."""
    page = _log_in(browser, scene, "filer", lang)
    assert page.url.endswith("/filing")
    page.set_input_files("input[type=file]", str(scene.upload))
    page.click("#upload button[type=submit]")
    page.wait_for_selector("section.report")
    report = page.inner_text("section.report")
    assert WORDS[lang]["report"] in report and scene.upload.name in report
    read = int(page.inner_text("section.report td.accepted")) + int(
        page.inner_text("section.report td.rejected")
    )
    assert read == 4  # every record is accounted for: accepted or rejected with its reason
    assert page.inner_text("section.report td.accepted") == "3"
    _shot(page, "filing", lang)
    page.click("nav.shell a[href='/check']")  # on to the check of one parcel just filed
    page.fill("#check input[name=code]", scene.uploaded)
    page.click("#check button[type=submit]")
    page.wait_for_selector("#outcome")
    outcome = page.inner_text("#outcome")
    assert "o-HOLD" in (page.get_attribute("#outcome .outcome", "class") or "")  # no receipt yet
    assert WORDS[lang]["pending"] in outcome, outcome
    _shot(page, "check", lang)
    if lang == "zh":  # the person's own setting: English in every browser from now on
        page.click("nav.shell a.who")
        page.wait_for_selector("#language")
        _shot(page, "account", "zh")
        page.check("#language input[value=en]")
        page.click("#language button[type=submit]")
        page.wait_for_selector("#saved")
        assert "My account" in page.inner_text("header")
        _shot(page, "account", "en")
    page.close()


@pytest.mark.parametrize("lang", LANGS)
def test_supervisor_changes_a_threshold_and_finds_it_in_the_audit_log(
    browser: Any, scene: Scene, lang: str
) -> None:
    """The rules page changes one threshold under a new version with a reason; the audit log
    shows who, when, why and the key's old and new value, and its chain checks out."""
    page = _log_in(browser, scene, "supervisor", lang)
    page.click("nav.shell a[href='/rules']")
    page.fill("#t_weight-abs_g", "60")
    page.fill("#thresholds input[name=why]", "new scales on line 1")
    page.click("#thresholds button[type=submit]")
    page.wait_for_selector("#note")
    assert WORDS[lang]["saved"] in page.inner_text("#note")
    _shot(page, "rules", lang)
    page.click("#current a[href^='/audit']")
    row = page.locator("#entries tr[data-action='rules.change']").first
    text = row.inner_text()
    assert WORDS[lang]["rules_change"] in text and "supervisor-j" in text, text
    assert "new scales on line 1" in text and "weight.abs_g" in text
    assert row.locator("del").first.inner_text() in ("50", "default-2026.1")
    assert "60" in row.locator("ins").all_inner_texts()
    page.click("#verify")
    page.wait_for_selector("#chain")
    assert WORDS[lang]["intact"] in page.inner_text("#chain")
    _shot(page, "audit", lang)
    page.close()


@pytest.mark.parametrize("lang", LANGS)
def test_administrator_logs_in_and_sees_every_user(browser: Any, scene: Scene, lang: str) -> None:
    """The login form, then the user administration: every account with its role."""
    context = browser.new_context(viewport={"width": 1366, "height": 860}, locale=LOCALES[lang])
    login = context.new_page()
    login.goto(f"{scene.url}/login")
    login.wait_for_selector("#login")
    _shot(login, "login", lang)
    context.close()
    page = _log_in(browser, scene, "admin", lang)
    page.goto(f"{scene.url}/admin/users")
    page.wait_for_selector("table")
    text = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
    assert WORDS[lang]["users"] in page.inner_text("body")
    for role in ("operator", "inspector", "supervisor", "filer", "admin"):
        assert f"{role}-j" in text, role
    _shot(page, "users", lang)
    page.close()
