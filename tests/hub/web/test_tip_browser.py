"""Threat image projection in headless Chromium: a test threat is projected into the first
image an inspector opens, the inspector misses it (clear), is told it was a test image, gives
the real image its own verdict, and the inspectors page counts the miss. The parcel's verdict
is the real one: the answer on the test image never left the hub. Each run, in Chinese and in
English, writes its screenshots to docs/images/ (``review-tip-*.png``, ``inspectors-*.png``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlmodel import Session

from contracts.events import VerdictKind
from contracts.messages import Verdict
from hub.db.engine import make_engine
from hub.db.tip_models import TIP_PROJECTION
from hub.db.xray_models import XRAY_IMAGE
from hub.ingest.xray_store import XrayStore
from simulators.xray.physics import load_profiles
from simulators.xray.tip_library import build_library
from tests.hub.waits import until
from tests.hub.web.test_review_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    FOCUSED,
    PASSWORD,
    WAIT_S,
    Site,
    _scan_and_image,
    site,
)

__all__ = ["site"]  # fixture used below

DOCS = Path(__file__).resolve().parents[3] / "docs" / "images"
#: The browser's locale, and how the page says a test threat was missed, per page language.
LOCALE = {"zh": "zh-CN", "en": "en-US"}
MISSED = {"zh": "漏判", "en": "missed"}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium")


def _with_tip(site: Site, library: Path) -> None:
    """Every image an inspector opens gets a projected threat first (rate 1)."""
    app = site.server.server.config.app
    assert isinstance(app, FastAPI)
    old: XrayStore = app.state.xray_store
    update = {"tip_rate": 1.0, "tip_library": library}
    app.state.xray_store = XrayStore(old.settings.model_copy(update=update))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_missed_test_threat_is_counted_and_never_reaches_the_parcel(
    site: Site, tmp_path: Path, lang: str
) -> None:
    """A projected gun answered "clear" is scored as missed and sends nothing to the line."""
    tip_shot, stats_shot = DOCS / f"review-tip-{lang}.png", DOCS / f"inspectors-{lang}.png"
    sync_api = pytest.importorskip("playwright.sync_api")
    library = tmp_path / "tip-library"
    build_library(load_profiles()["eff-60-100"], library, per_class=1, classes=("gun",))
    _scan_and_image(site)
    _with_tip(site, library)
    app = site.server.server.config.app
    assert isinstance(app, FastAPI)
    db_url = str(app.state.settings.database_url)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 800}, locale=LOCALE[lang])
            page.set_default_timeout(WAIT_S * 1000)
            page.goto(f"{site.server.url}/login?next=/review")
            page.wait_for_function(FOCUSED.format("username"))
            page.keyboard.type("ins1")
            page.keyboard.press("Tab")
            page.keyboard.type(PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_url("**/review")
            page.wait_for_selector("#panel .flag")
            page.wait_for_function(
                "() => document.getElementById('img').src.includes('g=0') && "
                "document.getElementById('img').complete && "
                "document.getElementById('img').naturalWidth === 512"
            )
            first = page.locator("li.sel").get_attribute("data-image-id")
            assert first is not None
            engine = make_engine(db_url)
            try:
                with Session(engine) as s:
                    tips = s.connection().execute(select(TIP_PROJECTION)).mappings().all()
                assert len(tips) == 1 and tips[0]["image_id"].hex == first.replace("-", "")
                assert tips[0]["threat"] == "gun" and tips[0]["answered_at"] is None
                shown = page.request.get(
                    f"{site.server.url}/api/v1/review/{first}/image?view=grey&g=0"
                ).body()

                page.keyboard.press("c")  # the inspector misses the projected gun
                page.wait_for_function(
                    "() => getComputedStyle(document.getElementById('tipnote')).display === 'block'"
                )
                assert MISSED[lang] in page.inner_text("#tipnote").lower()
                page.wait_for_selector("#boxes rect.tip")  # where the threat was
                page.screenshot(path=str(tmp_path / tip_shot.name))
                with Session(engine) as s:
                    conn = s.connection()
                    tip = conn.execute(select(TIP_PROJECTION)).mappings().one()
                    image = conn.execute(
                        select(XRAY_IMAGE).where(XRAY_IMAGE.c.verdict.is_not(None))
                    ).all()
                assert tip["answer"] == "clear" and tip["hit"] is False
                assert image == []  # the parcel's image has no verdict from the test answer
                assert site.verdicts == []  # and nothing went to the line

                page.keyboard.press("Enter")  # back to the real image
                page.wait_for_function(
                    "() => getComputedStyle(document.getElementById('tipnote')).display === 'none'"
                    " && document.getElementById('img').src.includes('g=1')"
                    " && document.getElementById('img').complete"
                )
                page.keyboard.press("m")  # measure across half the image's width
                box = page.locator("#img").bounding_box()
                assert box is not None
                y = box["y"] + box["height"] / 2
                page.mouse.click(box["x"] + box["width"] * 0.25, y)
                page.mouse.click(box["x"] + box["width"] * 0.75, y)
                page.wait_for_selector("#boxes line.measure", state="attached")
                shown_mm = float(page.inner_text("#measure").split()[0])
                assert shown_mm == pytest.approx(256 * 0.6, abs=2.0)  # 256 px at 0.6 mm
                page.keyboard.press("m")
                real = page.request.get(
                    f"{site.server.url}/api/v1/review/{first}/image?view=grey&g=1"
                ).body()
                assert real != shown  # the real image, without the projected gun
                page.keyboard.press("s")
                page.keyboard.press("1")
                page.wait_for_selector(f"#toast:has-text('{site.codes[0]}')")
                until(lambda: len(site.verdicts) >= 1, "the real verdict to reach the edge", WAIT_S)
                got = Verdict.model_validate_json(site.verdicts[0].payload)
                assert (got.parcel_code, got.verdict) == (site.codes[0], VerdictKind.SUSPECT)
            finally:
                engine.dispose()

            page.goto(f"{site.server.url}/review/inspectors")
            row = page.locator("#inspector-days tr[data-inspector='ins1']")
            assert row.locator("[data-k=tip_shown]").inner_text() == "1"
            assert row.locator("[data-k=tip_misses]").inner_text() == "1"
            assert row.locator("[data-k=tip_hits]").inner_text() == "0"
            assert row.locator("[data-k=tip_hit_rate]").inner_text() == "0 %"
            assert row.locator("[data-k=images]").inner_text() == "1"
            assert row.locator("[data-k=alarms]").inner_text() == "1"
            page.screenshot(path=str(tmp_path / stats_shot.name), full_page=True)
            stats = page.request.get(f"{site.server.url}/api/v1/review/inspectors").json()
            (mine,) = [r for r in stats["rows"] if r["inspector"] == "ins1"]
            assert (mine["tip_shown"], mine["tip_misses"], mine["tip_hit_rate"]) == (1, 1, 0.0)
        finally:
            browser.close()
    assert len(site.verdicts) == 1  # one verdict in all: the real one
    DOCS.mkdir(parents=True, exist_ok=True)
    for shot in (tip_shot, stats_shot):
        shutil.copyfile(tmp_path / shot.name, shot)
