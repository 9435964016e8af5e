"""Each device's availability reaches its own retained topic, and the board survives the broker."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

from contracts.messages import decode_availability
from contracts.topics import availability_filter, parse_availability_topic
from devices.events import DeviceStateChanged
from devices.mqtt_link import LinkSettings, Message, MqttLink
from edge.line.availability import AvailabilityBoard
from simulators.broker import MOSQUITTO_HOST, MOSQUITTO_PORT
from tests.conftest import require_service
from tests.waiting import wait_until

URL = f"mqtt://{MOSQUITTO_HOST}:{MOSQUITTO_PORT}"


class Retained:
    """What a newcomer to the broker reads on the site's availability topics."""

    def __init__(self, site: str) -> None:
        self.got: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self.link = MqttLink(LinkSettings(url=URL, site=site, kind="test", device_id="reader"))

    def read(self, site: str, want: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
        """Subscribe afresh and wait until ``want`` is there (or 10 s)."""

        def on(msg: Message) -> None:
            t = parse_availability_topic(msg.topic)
            if t.kind != "test":
                with self._lock:
                    self.got[(t.kind, t.device_id)] = decode_availability(msg.payload).value

        self.link.start()
        try:
            self.link.wait_connected(10)
            self.link.subscribe(availability_filter(site), on)
            wait_until(lambda: all(self.got.get(k) == v for k, v in want.items()), 10, "retained")
        finally:
            self.link.stop(publish_offline=False)
        with self._lock:
            return dict(self.got)


def _state(kind: str, device_id: str, online: bool) -> DeviceStateChanged:
    return DeviceStateChanged(device_id, kind, online, datetime.now(UTC), "")


def test_device_states_are_retained_on_their_own_topics_and_offline_on_stop() -> None:
    require_service("Mosquitto", MOSQUITTO_HOST, MOSQUITTO_PORT)
    site = f"avail-{uuid.uuid4().hex[:8]}"
    stop = threading.Event()
    link = MqttLink(LinkSettings(url=URL, site=site, kind="edge", device_id="edge-9"))
    board = AvailabilityBoard(link, site, stop)
    # states noted before the broker is reached are published once it is
    board.note(_state("plc", "plc1", True))
    board.note(_state("checkweigher", "cw1", True))
    link.start()
    board.start()
    try:
        link.wait_connected(10)
        board.note(_state("checkweigher", "cw1", False))  # the checkweigher went away
        board.note(_state("tunnel_scanner", "tunnel1", True))
        want = {
            ("plc", "plc1"): "online",
            ("checkweigher", "cw1"): "offline",
            ("tunnel_scanner", "tunnel1"): "online",
            ("edge", "edge-9"): "online",
        }
        assert Retained(site).read(site, want) == want
        assert board.states() == {"plc1": True, "cw1": False, "tunnel1": True}
    finally:
        stop.set()
        board.close()
        link.stop()
    # a clean stop: nobody drives the devices any more, and the edge itself is offline
    gone = {
        ("plc", "plc1"): "offline",
        ("checkweigher", "cw1"): "offline",
        ("tunnel_scanner", "tunnel1"): "offline",
        ("edge", "edge-9"): "offline",
    }
    assert Retained(site).read(site, gone) == gone
    _clear(site, [*gone, ("test", "reader"), ("test", "cleaner")])


def _clear(site: str, keys: list[tuple[str, str]]) -> None:
    """Remove this test's retained messages from the broker (an empty retained payload)."""
    from contracts.topics import availability_topic

    link = MqttLink(LinkSettings(url=URL, site=site, kind="test", device_id="cleaner"))
    link.start()
    try:
        link.wait_connected(10)
        for kind, device_id in keys:
            link.publish(availability_topic(site, kind, device_id), b"", retain=True)
    finally:
        link.stop(publish_offline=False)
