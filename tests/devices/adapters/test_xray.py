"""XrayAdapter over the embedded broker: images become events, presence is tracked."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest

from contracts.clock import ManualClock
from contracts.topics import xray_image_topic
from devices.adapters.xray import XrayAdapter
from devices.events import DeviceStateChanged, ImageCaptured
from devices.mqtt_link import LinkSettings, MqttLink
from devices.xray_image import DualEnergyImage, decode_png, encode_png
from simulators.broker import EmbeddedBroker

WAIT_S = 10.0
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as b:
        yield b


def _png(value: int) -> bytes:
    low = np.full((6, 8), value, np.uint16)
    return encode_png(DualEnergyImage(low=low, high=low + 1))


def test_images_become_events_and_presence_is_tracked(broker: EmbeddedBroker) -> None:
    site = f"s{uuid.uuid4().hex[:8]}"
    images: queue.Queue[ImageCaptured] = queue.Queue()
    states: queue.Queue[DeviceStateChanged] = queue.Queue()
    clock = ManualClock(T0)
    edge = MqttLink(LinkSettings(url=broker.url, site=site, kind="edge", device_id="e1"))
    machine = MqttLink(LinkSettings(url=broker.url, site=site, kind="xray", device_id="xr1"))
    adapter = XrayAdapter(edge, site, "xr1", on_image=images.put, on_state=states.put, clock=clock)
    try:
        adapter.start()
        edge.start().wait_connected(WAIT_S)
        machine.start().wait_connected(WAIT_S)
        online = states.get(timeout=WAIT_S)
        assert (online.device_id, online.kind, online.online) == ("xr1", "xray", True)
        assert adapter.online is True
        # "online" proves the availability subscription only: the image subscription may
        # still be on its way to the broker. Probe until an image gets through.
        probe: ImageCaptured | None = None
        for _ in range(int(WAIT_S / 0.25)):
            machine.publish(xray_image_topic(site, "xr1", 41), _png(7))
            try:
                probe = images.get(timeout=0.25)
                break
            except queue.Empty:
                continue
        assert probe is not None and probe.item_id == 41
        time.sleep(0.3)  # redeliveries of the probe (one capture only, as tested below)
        assert images.empty()

        machine.publish(xray_image_topic(site, "xr1", 42), _png(1000))
        event = images.get(timeout=WAIT_S)
        assert (event.device_id, event.item_id, event.at) == ("xr1", 42, T0)
        assert decode_png(event.png).low[0, 0] == 1000

        # the same image again (a QoS 1 redelivery) is not a second capture
        machine.publish(xray_image_topic(site, "xr1", 42), _png(1000))
        # a bad image and another machine's image are not captures either
        machine.publish(xray_image_topic(site, "xr1", 43), b"not a png at all, really")
        machine.publish(xray_image_topic(site, "xr9", 44), _png(5))
        machine.publish(xray_image_topic(site, "xr1", 45), _png(2000))
        assert images.get(timeout=WAIT_S).item_id == 45
        assert images.empty()
        assert adapter.rejected == 1

        machine.drop_connection()  # the machine dies: its last will says offline
        offline = states.get(timeout=WAIT_S)
        assert offline.online is False
        assert "offline" in offline.detail
        assert states.get(timeout=WAIT_S).online is True  # and it comes back
    finally:
        adapter.stop()
        machine.stop()
        edge.stop()


def test_losing_the_broker_reports_the_machine_offline(broker: EmbeddedBroker) -> None:
    site = f"s{uuid.uuid4().hex[:8]}"
    states: queue.Queue[DeviceStateChanged] = queue.Queue()
    edge = MqttLink(LinkSettings(url=broker.url, site=site, kind="edge", device_id="e1"))
    machine = MqttLink(LinkSettings(url=broker.url, site=site, kind="xray", device_id="xr1"))
    adapter = XrayAdapter(edge, site, "xr1", on_image=lambda e: None, on_state=states.put)
    try:
        adapter.start()
        edge.start().wait_connected(WAIT_S)
        machine.start().wait_connected(WAIT_S)
        assert states.get(timeout=WAIT_S).online is True
        broker.stop()
        lost = states.get(timeout=WAIT_S)
        assert (lost.online, lost.detail) == (False, "broker link lost")
    finally:
        adapter.stop()
        machine.stop(publish_offline=False)
        edge.stop(publish_offline=False)
