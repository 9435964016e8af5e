"""The line page in a real browser (Debian chromium via Playwright): two lines, live polling.

The screenshot stays with the run (``tmp_path``); ``docs/images/line-page-*.png`` come from the
journeys (``test_journeys.py``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from contracts.events import EdgeEvent
from hub.db.auth_models import Role, UserCreate
from hub.ingest.events import ingest
from hub.services import users
from hub.services.line_stats import LinePageSettings
from tests.hub.helpers_events import Hub, hub
from tests.hub.web.test_lines import NOW, device, parcel_pass, two_lines

__all__ = ["hub"]  # fixture used below

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ORIGIN = "http://hub.test"
REASONS = ("NOT_DECLARED", "CUSTOMS_PENDING", "WEIGHT_DEVIATION", "XRAY_SUSPECT", "NO_READ")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is not installed (Debian: apt-get install chromium); browser test skipped",
)


def busy_hour(edge: str, per_minute: int, seed: int) -> list[EdgeEvent]:
    """An hour of traffic on ``edge`` before the last ten minutes, about ``per_minute``/min."""
    rng = random.Random(seed)
    events: list[EdgeEvent] = []
    item = 1000
    for minute in range(59, 10, -1):
        start = NOW - timedelta(minutes=minute)
        for k in range(max(0, per_minute + rng.randint(-3, 3) - (6 if 30 < minute < 36 else 0))):
            item += 1
            kw: dict[str, Any] = {"latency_ms": round(rng.lognormvariate(1.0, 0.5), 2)}
            roll = rng.random()
            if roll < 0.12:
                reason = rng.choice(REASONS)
                outcome = {"WEIGHT_DEVIATION": "INSPECT", "XRAY_SUSPECT": "INSPECT"}.get(
                    reason, "REJECT" if reason == "NO_READ" else "HOLD"
                )
                chute = {"HOLD": 3, "INSPECT": 2, "REJECT": 9}[outcome]
                kw.update(outcome=outcome, reasons=(reason,), chute=chute)
                if reason == "NO_READ":
                    kw.update(read="NOREAD")
            else:
                kw.update(chute=1 + (k % 2) * 4)  # release chutes 1 and 5
            offset = timedelta(seconds=60 * k / max(per_minute, 1))
            events += parcel_pass(edge, item, start + offset, **kw)
    return events


@pytest.fixture
def browser_page(hub: Hub) -> Iterator[Any]:
    """A chromium page whose requests to ORIGIN are answered by the hub app in process."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    hub.app.state.line_page_settings = LinePageSettings(poll_interval_s=2.0)
    with Session(hub.engine) as session:
        users.create_user(
            session,
            UserCreate(name="op-browser", role=Role.OPERATOR, password="operator-password-2"),
            hub.clock.now(),
        )
    token = hub.client.post(
        "/api/v1/auth/token", data={"username": "op-browser", "password": "operator-password-2"}
    ).json()["access_token"]

    def answer(route: Any) -> None:
        req = route.request
        if not req.url.startswith(ORIGIN):
            route.abort()  # the page must fetch nothing from elsewhere
            return
        keep = ("cookie", "accept-language")
        headers = {k: v for k, v in req.all_headers().items() if k.lower() in keep}
        resp = hub.client.request(req.method, req.url[len(ORIGIN) :], headers=headers)
        route.fulfill(status=resp.status_code, headers=dict(resp.headers), body=resp.content)

    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
            context.add_cookies([{"name": "clearline_session", "value": token, "url": ORIGIN}])
            context.route("**/*", answer)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            yield page
            assert errors == [], errors
        finally:
            browser.close()


def test_line_page_in_chromium(hub: Hub, browser_page: Any, tmp_path: Path) -> None:
    """Two panels with charts and alarms; a device coming back clears its alarm live."""
    ingest(hub.engine, busy_hour("e1", 14, 1) + busy_hour("e2", 9, 2) + two_lines())
    page = browser_page
    page.goto(f"{ORIGIN}/lines")
    page.wait_for_selector("section.line >> nth=1")
    panels = page.locator("section.line")
    assert panels.count() == 2
    assert panels.nth(0).get_attribute("data-edge") == "e1"
    assert panels.nth(1).get_attribute("data-edge") == "e2"
    for i in range(2):
        panel = panels.nth(i)
        assert panel.locator("polyline.series").count() == 1
        assert panel.locator("rect.bar").count() >= 3
        assert panel.locator(".dev").count() >= 2
    e1_alarms = panels.nth(0).locator(".alarms li")
    assert "device_offline" in [
        e1_alarms.nth(i).get_attribute("data-code") for i in range(e1_alarms.count())
    ]
    critical = panels.nth(1).locator(".alarms li.critical")
    assert critical.count() == 1
    assert "without a RELEASE decision" in critical.inner_text()
    # the two panels sit side by side at 1366 px, and nothing overflows sideways
    box0, box1 = panels.nth(0).bounding_box(), panels.nth(1).bounding_box()
    assert box0["y"] == box1["y"] and box0["x"] + box0["width"] <= box1["x"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366

    shot = tmp_path / "line-page.png"
    page.screenshot(path=str(shot))

    # the scanner comes back online: the next poll clears the alarm without a reload
    ingest(hub.engine, [device("e1", "tunnel-e1", "scanner", True, at=NOW - timedelta(seconds=30))])
    gone = "section.line[data-edge='e1'] .alarms li[data-code='device_offline']"
    page.wait_for_selector(gone, state="detached", timeout=10_000)
    assert page.locator("section.line[data-edge='e1'] .dev.off").count() == 0
    assert "Updated" in page.locator("#status").inner_text()
