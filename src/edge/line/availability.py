"""Each device's availability on its own retained topic (DESIGN section 6).

The edge publishes, for every device it drives, a retained ``online``/``offline`` on
``clearline/{site}/{kind}/{device_id}/availability``; its own topic is the MQTT link's,
with ``offline`` as the link's last will. Device state changes arrive on device threads
(the PLC link among them), which must never wait for a broker: they only note the state
here, and a small thread of its own publishes the latest state of each device. The whole
board is published again whenever the link connects, so a broker that lost its retained
messages learns them anew; on a clean stop every device is announced ``offline`` (nobody
drives it any more).
"""

from __future__ import annotations

import logging
import threading

from contracts.messages import Availability, encode_availability
from contracts.topics import availability_topic
from devices.errors import DeviceError
from devices.events import DeviceStateChanged
from devices.mqtt_link import MqttLink

log = logging.getLogger(__name__)

#: How long one retained publish may wait for the broker's acknowledgement, seconds.
PUBLISH_TIMEOUT_S = 2.0


class AvailabilityBoard:
    """The latest availability of every device, published retained by a thread of its own."""

    def __init__(self, link: MqttLink, site: str, stop: threading.Event) -> None:
        """Publish on ``link`` for ``site`` until ``stop`` is set."""
        self.link, self.site = link, site
        self._stop = stop
        self._lock = threading.Lock()
        self._state: dict[tuple[str, str], bool] = {}  # (kind, device_id) -> online
        self._dirty: set[tuple[str, str]] = set()
        self._wake = threading.Event()
        self.published = 0
        self.thread = threading.Thread(target=self._run, name="edge-availability", daemon=True)
        link.add_state_listener(self._on_link)

    def note(self, event: DeviceStateChanged) -> None:
        """Record a device's state (any thread; never blocks on the network)."""
        key = (event.kind, event.device_id)
        with self._lock:
            if self._state.get(key) == event.online and key not in self._dirty:
                return
            self._state[key] = event.online
            self._dirty.add(key)
        self._wake.set()

    def states(self) -> dict[str, bool]:
        """Return ``{device_id: online}`` as last noted."""
        with self._lock:
            return {device_id: up for (_, device_id), up in self._state.items()}

    def start(self) -> None:
        """Start the publishing thread."""
        self.thread.start()

    def _on_link(self, up: bool) -> None:
        """Publish the whole board again after every (re)connection."""
        if up:
            with self._lock:
                self._dirty |= set(self._state)
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            self._flush()

    def _flush(self) -> None:
        """Publish every device whose state is not on the broker yet."""
        with self._lock:
            todo = [(key, self._state[key]) for key in sorted(self._dirty)]
        for key, online in todo:
            if not self._publish(key, online):
                return  # not connected: the next connection publishes the board again
            with self._lock:
                if self._state.get(key) == online:
                    self._dirty.discard(key)

    def _publish(self, key: tuple[str, str], online: bool) -> bool:
        kind, device_id = key
        state = Availability.ONLINE if online else Availability.OFFLINE
        try:
            self.link.publish(
                availability_topic(self.site, kind, device_id),
                encode_availability(state),
                qos=1,
                retain=True,
                timeout_s=PUBLISH_TIMEOUT_S,
            )
        except DeviceError as err:
            log.debug("availability of %s not published: %s", device_id, err)
            return False
        self.published += 1
        return True

    def close(self) -> None:
        """After the stop event: join the thread, then announce every device ``offline``."""
        self.thread.join(5.0)
        with self._lock:
            keys = sorted(self._state)
            for key in keys:
                self._state[key] = False
        for key in keys:
            self._publish(key, False)
