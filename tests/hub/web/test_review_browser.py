"""The review station in headless Chromium: log in, review two images by keyboard alone,
and see both verdicts reach the edge over a real broker; then record a result at the desk.
Screenshots of both pages stay with the run; the documentation's come from the journeys
(``test_journeys.py``)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from sqlmodel import Session

from contracts.events import EdgeEvent, EventKind, VerdictKind
from contracts.messages import Verdict
from contracts.topics import edge_event_topic, verdict_topic, xray_image_topic
from devices.mqtt_link import LinkSettings, Message, MqttLink
from hub.app import create_app
from hub.db.auth_models import Role, UserCreate
from hub.db.engine import make_engine
from hub.ingest.mqtt import MqttIngest
from hub.ingest.spool import EventSpool
from hub.ingest.xray import XrayImageIngest
from hub.ingest.xray_store import ReviewSettings, XrayStore
from hub.services import users
from hub.settings import HubSettings
from simulators.broker import EmbeddedBroker, free_port
from tests.hub.helpers_events import file_declarations
from tests.hub.helpers_review import sample_png
from tests.hub.waits import poke_until, until

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
SCREENSHOT = Path("review-station.png")  # under the run's tmp_path
DESK_SHOT = Path("desk.png")
WAIT_S = 30.0  # generous: the machine running the suite may be busy
PASSWORD = "inspector-password"
#: A page condition: the field with this id has the keyboard focus.
FOCUSED = "() => document.activeElement && document.activeElement.id === '{}'"
IMG_VIEW = "() => document.getElementById('img').src.includes('view={}')"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian chromium is not installed at /usr/bin/chromium "
    "(as root: apt-get install -y chromium, or scripts/system-deps.sh)",
)


class Server:
    """uvicorn serving ``app`` on 127.0.0.1 in a background thread."""

    def __init__(self, app: FastAPI) -> None:
        """Pick a free port; nothing listens before ``start()``."""
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="review-uvicorn", daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve, and wait until the server accepts requests."""
        self.thread.start()
        until(lambda: self.server.started, "uvicorn to start", WAIT_S)

    def stop(self) -> None:
        """Stop serving and join the thread."""
        self.server.should_exit = True
        self.thread.join(WAIT_S)


@dataclass
class Site:
    """A hub with its MQTT side on an embedded broker, and the edge's view of the verdicts."""

    server: Server
    verdicts: list[Message]
    codes: list[str]
    edge: MqttLink
    xray: MqttLink
    ingest: MqttIngest
    images: XrayImageIngest


def _event(kind: EventKind, item_id: int, data: dict[str, Any]) -> bytes:
    event = EdgeEvent(
        event_id=uuid.uuid4(),
        site="s1",
        edge_id="e1",
        kind=kind,
        at=datetime.now(UTC),
        item_id=item_id,
        data=data,
    )
    return event.model_dump_json().encode()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """Hub (uvicorn) + broker + edge and X-ray publishers; two parcels scanned and imaged."""
    settings = HubSettings(dev=True, database_url=f"sqlite:///{tmp_path / 'hub.db'}", site_id="s1")
    engine = make_engine(settings.database_url)
    app = create_app(settings, engine=engine)
    store = XrayStore(ReviewSettings(data_dir=tmp_path / "data", review_budget_s=900.0))
    app.state.xray_store = store
    with Session(engine) as session:
        users.create_user(
            session,
            UserCreate(name="ins1", role=Role.INSPECTOR, password=PASSWORD),
            datetime.now(UTC),
        )
    sets = file_declarations(engine, 2, seed=11)
    codes = [ps.inventory.logistics_no for ps in sets]
    verdicts: list[Message] = []
    with EmbeddedBroker() as broker:
        tag = uuid.uuid4().hex[:6]

        def link(kind: str) -> MqttLink:
            return MqttLink(
                LinkSettings(url=broker.url, site="s1", kind=kind, device_id=kind + tag)
            )

        hub_link, edge, xray = link("hub"), link("edge"), link("xray")
        spool = EventSpool(tmp_path / "spool.db")
        ingest = MqttIngest(engine, hub_link, spool, "s1", settings=None)
        images = XrayImageIngest(engine, hub_link, store, "s1")
        server = Server(app)
        app.state.hub_mqtt = ingest
        edge.subscribe(verdict_topic("s1"), verdicts.append)
        try:
            for each in (hub_link, edge, xray):
                each.start().wait_connected(WAIT_S)
            ingest.start()
            images.start()
            server.start()
            yield Site(server, verdicts, codes, edge, xray, ingest, images)
        finally:
            server.stop()
            images.stop()
            ingest.stop()
            for each in (xray, edge, hub_link):
                each.stop()
            spool.close()
            engine.dispose()


def _scan_and_image(site: Site) -> None:
    """Both parcels inducted and read (edge events over MQTT), then imaged (X-ray topic)."""
    topic = edge_event_topic("s1", "e1")
    poke_until(  # until the hub's subscription is live
        lambda: site.edge.publish(topic, _event(EventKind.PARCEL_SEEN, 1, {"device_id": "plc1"})),
        lambda: site.ingest.counts()["stored"] > 0,
        "hub ingest to start",
        WAIT_S,
    )
    for item, code in ((1, site.codes[0]), (2, site.codes[1])):
        if item == 2:
            site.edge.publish(topic, _event(EventKind.PARCEL_SEEN, item, {"device_id": "plc1"}))
        read = {"device_id": "tunnel1", "status": "OK", "codes": [f"]C1{code}"]}
        site.edge.publish(topic, _event(EventKind.CODE_READ, item, read))
    assert site.ingest.wait_for(lambda i: i.stored >= 4, WAIT_S), site.ingest.counts()
    for item, kind in ((1, "battery"), (2, "blade")):
        png = sample_png(kind, seed=4, width=512, height=384)
        site.xray.publish(xray_image_topic("s1", "xr1", item), png)
        assert site.images.wait_stored(item, WAIT_S), site.images.counts()


def test_inspector_reviews_two_images_by_keyboard(site: Site, tmp_path: Path) -> None:
    """Log in, change views, zoom and pan, clear one, mark the other suspect (weapon)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    _scan_and_image(site)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 800}, locale="en-US")
            page.set_default_timeout(WAIT_S * 1000)
            page.goto(f"{site.server.url}/login?next=/review")
            page.wait_for_function(FOCUSED.format("username"))
            page.keyboard.type("ins1")
            page.keyboard.press("Tab")
            page.keyboard.type(PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_url("**/review")
            page.wait_for_function(
                "() => document.querySelectorAll('li[data-image-id]').length === 2"
            )
            first = page.locator("li.sel").get_attribute("data-image-id")
            page.wait_for_selector("#panel .flag")
            assert site.codes[0] in page.inner_text("#panel")
            assert "battery" in page.inner_text("#panel")  # the flag, named in words

            page.keyboard.press("2")
            assert page.get_attribute("#toolbar .v.on", "data-view") == "grey"
            page.wait_for_function("() => document.getElementById('img').src.includes('view=grey')")
            page.wait_for_function("() => document.getElementById('img').naturalWidth === 512")
            page.keyboard.press("+")
            page.keyboard.press("+")
            assert page.inner_text("#zoom") == "156 %"
            before = page.get_attribute("#stage", "style") or ""
            page.keyboard.press("ArrowRight")
            assert page.get_attribute("#stage", "style") != before
            page.keyboard.press("0")
            page.keyboard.press("1")
            assert page.inner_text("#zoom") == "100 %"
            page.keyboard.press("c")
            page.wait_for_selector("#toast:has-text('clear')")
            page.wait_for_function(
                f"() => document.querySelector('li.sel') && "
                f"document.querySelector('li.sel').dataset.imageId !== '{first}'"
            )
            page.wait_for_selector("#panel .flag:has-text('BLADE')")
            page.wait_for_function("() => document.getElementById('img').naturalWidth === 512")
            page.wait_for_selector("#boxes rect.alarm")
            panel = page.inner_text("#panel")
            assert site.codes[1] in panel and "goods lines" in panel.lower()
            page.keyboard.press("5")
            page.wait_for_function(IMG_VIEW.format("density"))
            page.keyboard.press("1")
            page.wait_for_function(IMG_VIEW.format("colour"))
            page.wait_for_function("() => document.getElementById('img').complete")
            page.screenshot(path=str(tmp_path / SCREENSHOT.name))

            page.keyboard.press("s")
            assert page.is_visible("#cats")
            page.keyboard.press("2")
            page.wait_for_selector("#toast:has-text('weapon')")
            page.wait_for_selector("li.empty")

            page.goto(f"{site.server.url}/desk")  # the desk, by keyboard too
            page.wait_for_load_state("load")
            page.wait_for_function(FOCUSED.format("code"))
            page.keyboard.type(f"]C1{site.codes[1].lower()}")
            page.keyboard.press("Enter")
            page.wait_for_selector("#why .outcome")
            page.wait_for_selector("#image img")
            page.keyboard.press("3")
            page.keyboard.type("a kitchen knife under the toys")
            page.keyboard.press("Control+Enter")
            page.wait_for_selector("#msg.ok:has-text('Seized')")
            page.wait_for_selector("#results:has-text('kitchen knife')")
            why = page.inner_text("#why")
            assert "held" in why and "CUSTOMS_DETAINED" in why
            page.screenshot(path=str(tmp_path / DESK_SHOT.name), full_page=True)
        finally:
            browser.close()
    until(lambda: len(site.verdicts) >= 2, "the verdicts to reach the edge", WAIT_S)
    got = [Verdict.model_validate_json(m.payload) for m in site.verdicts]
    assert [(v.parcel_code, v.verdict, v.category) for v in got] == [
        (site.codes[0], VerdictKind.CLEAR, ""),
        (site.codes[1], VerdictKind.SUSPECT, "weapon"),
    ]
    assert {v.inspector for v in got} == {"ins1"} and [v.item_id for v in got] == [1, 2]
    assert (tmp_path / SCREENSHOT.name).stat().st_size > 10_000
