"""X-ray machine adapter: image messages on MQTT become ``ImageCaptured``, presence is tracked."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

from contracts.clock import Clock, SystemClock
from contracts.messages import Availability, AvailabilityError, decode_availability
from contracts.topics import (
    TopicError,
    availability_topic,
    parse_xray_image_topic,
    xray_image_filter,
)
from devices.adapters.base import StateSink
from devices.errors import ProtocolError
from devices.events import DeviceStateChanged, ImageCaptured
from devices.mqtt_link import Message, MqttLink
from devices.xray_image import DEFAULT_LIMITS, ImageLimits, check_header

log = logging.getLogger(__name__)

ImageSink = Callable[[ImageCaptured], None]

_RECENT = 256  # item_ids remembered to drop QoS 1 redeliveries of the same image


class XrayAdapter:
    """Listens to one X-ray machine through a shared ``MqttLink`` (which it does not own).

    Each valid image becomes an ``ImageCaptured`` for ``on_image``; invalid images (foreign
    topic, not a 16-bit stacked PNG, oversized) are logged and counted in ``rejected``.
    The machine's retained availability, and the loss of the broker link, become
    ``DeviceStateChanged`` events for ``on_state``. Callbacks run on the link's thread.
    """

    kind = "xray"

    def __init__(
        self,
        link: MqttLink,
        site: str,
        device_id: str,
        *,
        on_image: ImageSink,
        on_state: StateSink | None = None,
        clock: Clock | None = None,
        limits: ImageLimits = DEFAULT_LIMITS,
    ) -> None:
        """Prepare the subscriptions; call ``start()`` to listen."""
        self.link = link
        self.site = site
        self.device_id = device_id
        self.clock: Clock = clock or SystemClock()
        self.limits = limits
        self.rejected = 0
        self._on_image = on_image
        self._on_state = on_state
        self._image_filter = xray_image_filter(site, device_id)
        self._availability = availability_topic(site, self.kind, device_id)
        self._lock = threading.Lock()
        self._online: bool | None = None
        self._recent: OrderedDict[int, bytes] = OrderedDict()
        self._active = False

    @property
    def online(self) -> bool | None:
        """Last known availability of the machine (None until it has announced itself)."""
        return self._online

    def start(self) -> XrayAdapter:
        """Subscribe to the machine's images and availability."""
        self._active = True
        self.link.add_state_listener(self._link_state)
        self.link.subscribe(self._availability, self._on_availability, qos=1)
        self.link.subscribe(self._image_filter, self._on_image_message, qos=1)
        return self

    def stop(self) -> None:
        """Unsubscribe; the link stays up for its other users."""
        self._active = False
        self.link.unsubscribe(self._image_filter)
        self.link.unsubscribe(self._availability)

    def __enter__(self) -> XrayAdapter:
        """Start listening."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop listening."""
        self.stop()

    def _on_image_message(self, msg: Message) -> None:
        """Validate one image message and emit it."""
        try:
            where = parse_xray_image_topic(msg.topic)
            if where.device_id != self.device_id or where.site != self.site:
                raise ProtocolError(f"image topic {msg.topic!r} belongs to another machine")
            check_header(msg.payload, self.limits)
        except (ProtocolError, TopicError) as err:
            self.rejected += 1
            log.warning("xray %s: image rejected: %s", self.device_id, err)
            return
        digest = hashlib.blake2b(msg.payload, digest_size=16).digest()
        with self._lock:
            if self._recent.get(where.item_id) == digest:
                log.debug(
                    "xray %s: duplicate image of item %s dropped", self.device_id, where.item_id
                )
                return
            self._recent[where.item_id] = digest
            self._recent.move_to_end(where.item_id)
            while len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
        self._on_image(ImageCaptured(self.device_id, where.item_id, msg.payload, self.clock.now()))

    def _on_availability(self, msg: Message) -> None:
        """Track the machine's retained online/offline announcement."""
        try:
            state = decode_availability(msg.payload)
        except AvailabilityError as err:
            log.warning("xray %s: bad availability message: %s", self.device_id, err)
            return
        online = state is Availability.ONLINE
        detail = "announced online" if online else "announced offline (or its last will)"
        self._set_online(online, detail)

    def _link_state(self, up: bool) -> None:
        """A lost broker link means the machine can no longer be seen: report it offline."""
        if not up and self._active:
            self._set_online(False, "broker link lost")

    def _set_online(self, online: bool, detail: str) -> None:
        """Emit a ``DeviceStateChanged`` when availability changes."""
        with self._lock:
            if self._online is online:
                return
            self._online = online
        log.info("xray %s: %s (%s)", self.device_id, "online" if online else "offline", detail)
        if self._on_state is not None:
            event = DeviceStateChanged(self.device_id, self.kind, online, self.clock.now(), detail)
            self._on_state(event)
