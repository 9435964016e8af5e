"""An image the database could not take is tried again with fresh connections, not dropped."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import func, select, text

from devices.mqtt_link import LinkSettings, MqttLink
from hub.db.xray_models import XRAY_IMAGE
from hub.ingest.xray import XrayImageIngest
from hub.ingest.xray_store import ReviewSettings, XrayStore
from tests.hub.helpers_events import Hub, hub
from tests.hub.helpers_review import sample_png

__all__ = ["hub"]


def test_image_write_retried_after_a_database_outage(hub: Hub, tmp_path: Path) -> None:
    """The image table is away for a moment: the image is stored once it is back."""
    store = XrayStore(ReviewSettings(data_dir=tmp_path / "data"))
    link = MqttLink(LinkSettings(url="mqtt://127.0.0.1:1", site="s1", kind="hub", device_id="h"))
    sub = XrayImageIngest(hub.engine, link, store, "s1", clock=hub.clock)
    with hub.engine.begin() as conn:
        conn.execute(text("ALTER TABLE xray_image RENAME TO xray_image_away"))

    def back() -> None:
        time.sleep(0.5)
        with hub.engine.begin() as conn:
            conn.execute(text("ALTER TABLE xray_image_away RENAME TO xray_image"))

    t = threading.Thread(target=back)
    t.start()
    done = sub._store("xr1", 41, sample_png("blade"))  # the worker's step, on this thread
    t.join()
    assert done is not None and not done.duplicate
    assert sub.retries >= 1 and sub.rejected == 0
    with hub.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(XRAY_IMAGE)).scalar_one() == 1


def test_unreadable_image_is_refused_at_once(hub: Hub, tmp_path: Path) -> None:
    """An image that cannot be read is refused without retries."""
    store = XrayStore(ReviewSettings(data_dir=tmp_path / "data"))
    link = MqttLink(LinkSettings(url="mqtt://127.0.0.1:1", site="s1", kind="hub", device_id="h"))
    sub = XrayImageIngest(hub.engine, link, store, "s1", clock=hub.clock)
    assert sub._store("xr1", 42, b"junk" * 20) is None
    assert (sub.rejected, sub.retries) == (1, 0)
