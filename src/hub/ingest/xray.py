"""The hub's subscription to the X-ray machines' images: queued on arrival, stored by a worker."""

from __future__ import annotations

import logging
import queue
import threading

from sqlalchemy.engine import Engine

from contracts.clock import Clock, SystemClock
from contracts.topics import TopicError, parse_xray_image_topic, xray_image_filter
from devices.mqtt_link import DeviceError, Message, MqttLink
from hub.db.engine import StoreError
from hub.ingest.xray_store import XrayStore, XrayStoreError, store_image
from inspection.xray.prescreen import PrescreenConfig

logger = logging.getLogger(__name__)


class XrayImageIngest:
    """Subscribes to every X-ray machine's images of one site and stores them (one worker).

    The caller owns ``link``. Messages are queued (at most ``max_queued``) on the network
    thread and pre-screened and stored on the worker thread, so the broker connection never
    waits for the pre-screen.
    """

    def __init__(
        self,
        engine: Engine,
        link: MqttLink,
        store: XrayStore,
        site: str,
        *,
        config: PrescreenConfig | None = None,
        clock: Clock | None = None,
        max_queued: int = 256,
    ) -> None:
        """Prepare the subscriber; nothing is subscribed before ``start()``."""
        self.engine = engine
        self.link = link
        self.store = store
        self.site = site
        self.config = config or PrescreenConfig()
        self.clock = clock or SystemClock()
        self.topic_filter = xray_image_filter(site)
        self._queue: queue.Queue[tuple[str, int, bytes] | None] = queue.Queue(max_queued)
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self.stored = 0
        self.duplicates = 0
        self.rejected = 0
        self.dropped = 0

    def start(self) -> XrayImageIngest:
        """Start the worker and subscribe (QoS 1)."""
        if self._thread is not None:
            raise XrayStoreError("the X-ray image subscriber is already running")
        self._thread = threading.Thread(target=self._run, name=f"hub-xray-{self.site}", daemon=True)
        self._thread.start()
        self.link.subscribe(self.topic_filter, self._on_message, qos=1)
        logger.info("hub subscribed to X-ray images on %s", self.topic_filter)
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Unsubscribe, store what is queued within ``timeout_s`` s and join the worker."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self.link.unsubscribe(self.topic_filter)
        self._queue.put(None)
        thread.join(timeout_s)
        if thread.is_alive():
            logger.error("X-ray image worker did not stop within %.1f s", timeout_s)

    def counts(self) -> dict[str, int]:
        """Images stored, duplicates, rejected (unreadable) and dropped (bad topic, overload)."""
        return {
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "dropped": self.dropped,
        }

    def wait_stored(self, count: int, timeout_s: float) -> bool:
        """Block until at least ``count`` images are stored; False after ``timeout_s`` s."""
        with self._cond:
            return self._cond.wait_for(lambda: self.stored >= count, timeout_s)

    def _on_message(self, message: Message) -> None:
        """Queue one image (network thread: no pre-screen, no database here)."""
        try:
            where = parse_xray_image_topic(message.topic)
        except TopicError as err:
            self.dropped += 1
            logger.warning("message on %s dropped: %s", message.topic, err)
            return
        limit = self.config.image.max_png_bytes
        if where.site != self.site or len(message.payload) > limit:
            self.dropped += 1
            logger.warning("image on %s dropped: other site or over %s bytes", message.topic, limit)
            return
        try:
            self._queue.put_nowait((where.device_id, where.item_id, message.payload))
        except queue.Full:
            self.dropped += 1
            logger.error("image item_id=%s dropped: review queue full", where.item_id)

    def _run(self) -> None:
        """Worker: pre-screen and store queued images until stopped."""
        while True:
            entry = self._queue.get()
            if entry is None:
                return
            device_id, item_id, png = entry
            try:
                done = store_image(
                    self.engine,
                    self.store,
                    site=self.site,
                    device_id=device_id,
                    item_id=item_id,
                    png=png,
                    received_at=self.clock.now(),
                    config=self.config,
                )
            except (StoreError, DeviceError) as err:
                self.rejected += 1
                logger.warning(
                    "image item_id=%s device_id=%s not stored: %s", item_id, device_id, err
                )
                continue
            with self._cond:
                if done.duplicate:
                    self.duplicates += 1
                else:
                    self.stored += 1
                self._cond.notify_all()
