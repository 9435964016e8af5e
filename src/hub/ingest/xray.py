"""The hub's subscription to the X-ray machines' images: queued on arrival, stored by a worker."""

from __future__ import annotations

import logging
import queue
import threading

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from contracts.backoff import Backoff
from contracts.clock import Clock, SystemClock
from contracts.topics import TopicError, parse_xray_image_topic, xray_image_filter
from devices.mqtt_link import DeviceError, Message, MqttLink
from hub.db.engine import StoreError
from hub.ingest.xray_store import (
    StoredImage,
    XrayImageUnreadableError,
    XrayStore,
    XrayStoreError,
    store_image,
)
from inspection.xray.prescreen import PrescreenConfig

logger = logging.getLogger(__name__)

#: How often one image is tried before it is given up (a minute of capped back-off).
MAX_ATTEMPTS = 15


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
        self.retries = 0  # store attempts repeated after a database or disk error
        self._stopping = threading.Event()

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
        self._stopping.set()
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
            "retries": self.retries,
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
            done = self._store(device_id, item_id, png)
            if done is None:
                continue
            with self._cond:
                if done.duplicate:
                    self.duplicates += 1
                else:
                    self.stored += 1
                self._cond.notify_all()

    def _store(self, device_id: str, item_id: int, png: bytes) -> StoredImage | None:
        """Store one image, retrying a database or disk error with fresh connections."""
        received_at = self.clock.now()
        backoff = Backoff(0.2, 5.0)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return store_image(
                    self.engine, self.store, site=self.site, device_id=device_id,
                    item_id=item_id, png=png, received_at=received_at, config=self.config,
                )  # fmt: skip
            except XrayImageUnreadableError as err:
                self.rejected += 1
                logger.warning("image item_id=%s device_id=%s refused: %s", item_id, device_id, err)
                return None
            except (StoreError, DeviceError, SQLAlchemyError) as err:
                if attempt == MAX_ATTEMPTS or self._stopping.is_set():
                    self.rejected += 1
                    logger.error("image item_id=%s not stored after %d tries: %s",
                                 item_id, attempt, err)  # fmt: skip
                    return None
                self.retries += 1
                logger.warning("image item_id=%s not stored yet (%s); retrying", item_id, err)
                if self.engine.url.database not in (None, "", ":memory:"):  # keep a memory DB
                    self.engine.dispose()  # a connection left read-only is not used again
                self._stopping.wait(backoff.next_delay())
        return None
