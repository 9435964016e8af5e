"""MqttLink against the embedded broker and the real Mosquitto: presence, will, reconnects."""

from __future__ import annotations

import logging
import queue
import time
import uuid
from collections.abc import Iterator

import pytest

from contracts.topics import availability_topic
from devices.errors import DeviceUnavailable
from devices.mqtt_link import (
    DeviceError,
    LinkSettings,
    Message,
    MqttLink,
    parse_broker_url,
    parse_mqtt_url,
)
from simulators.broker import BrokerEndpoint, EmbeddedBroker, free_port, open_broker
from tests.conftest import require_service
from tests.waiting import wait_until

WAIT_S = 10.0


@pytest.fixture(params=["embedded", "mosquitto"])
def broker(request: pytest.FixtureRequest) -> Iterator[BrokerEndpoint]:
    """Either a fresh embedded broker or the real Mosquitto."""
    if request.param == "mosquitto":
        require_service("Mosquitto", "127.0.0.1", 1883)
    with open_broker(request.param) as endpoint:
        yield endpoint


@pytest.fixture
def site() -> str:
    """A site id unique to the test, so retained messages never leak between tests."""
    return f"t{uuid.uuid4().hex[:12]}"


def settings(url: str, site: str, device_id: str, **extra: int) -> LinkSettings:
    """Link settings for a test client."""
    return LinkSettings.model_validate(
        {"url": url, "site": site, "kind": "test", "device_id": device_id, **extra}
    )


class Observer:
    """A second client that records what it sees on a filter."""

    def __init__(self, url: str, site: str, topic_filter: str) -> None:
        self.messages: queue.Queue[Message] = queue.Queue()
        self.link = MqttLink(settings(url, site, "observer"))
        self.link.subscribe(topic_filter, self.messages.put)
        self.link.start().wait_connected(WAIT_S)

    def next(self, topic: str, skip: bytes | None = None) -> bytes:
        """Return the payload of the next message on ``topic`` (others are skipped).

        ``skip``: a payload passed over too. The observer's subscription may reach the broker
        just as a retained message is published, and a broker may then deliver that message
        twice (as the retained state and live); the state that follows is what counts.
        """
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                msg = self.messages.get(timeout=0.1)
            except queue.Empty:
                continue
            if msg.topic == topic and msg.payload != skip:
                return msg.payload
        pytest.fail(f"nothing on {topic}" + ("" if skip is None else f" but {skip!r}"))

    def clear_retained(self, topic: str) -> None:
        self.link.publish(topic, b"", retain=True)

    def close(self) -> None:
        self.link.stop(publish_offline=False)


def test_publish_subscribe_and_presence(broker: BrokerEndpoint, site: str) -> None:
    avail = availability_topic(site, "test", "dev1")
    watcher = Observer(broker.url, site, f"clearline/{site}/#")
    got: queue.Queue[Message] = queue.Queue()
    link = MqttLink(settings(broker.url, site, "dev1"))
    link.subscribe(f"clearline/{site}/in/#", got.put)
    try:
        link.start().wait_connected(WAIT_S)
        assert watcher.next(avail) == b"online"
        link.publish(f"clearline/{site}/out/x", b"payload-1")  # waits for the PUBACK
        assert watcher.next(f"clearline/{site}/out/x") == b"payload-1"
        watcher.link.publish(f"clearline/{site}/in/y", b"\x00\x01binary")
        msg = got.get(timeout=WAIT_S)
        assert (msg.topic, msg.payload, msg.qos) == (f"clearline/{site}/in/y", b"\x00\x01binary", 1)
        link.stop()  # a clean stop announces offline itself
        assert watcher.next(avail, skip=b"online") == b"offline"
        assert not link.connected
    finally:
        link.stop()
        watcher.clear_retained(avail)
        watcher.close()


def test_last_will_is_published_when_the_link_dies(broker: BrokerEndpoint, site: str) -> None:
    avail = availability_topic(site, "test", "dev2")
    watcher = Observer(broker.url, site, avail)
    link = MqttLink(settings(broker.url, site, "dev2"))
    try:
        link.start().wait_connected(WAIT_S)
        assert watcher.next(avail) == b"online"
        link.drop_connection()  # no DISCONNECT: the broker must send the will
        assert watcher.next(avail, skip=b"online") == b"offline"
        assert watcher.next(avail) == b"online"  # and the link comes back by itself
        wait_until(lambda: link.connected, WAIT_S, "link connected")
        # a late subscriber sees the retained state
        late = Observer(broker.url, site, avail)
        assert late.next(avail) == b"online"
        late.close()
    finally:
        link.stop()
        watcher.clear_retained(avail)
        watcher.close()


def test_reconnects_and_restores_subscriptions_after_broker_restart(
    site: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="devices.mqtt_link")
    got: queue.Queue[Message] = queue.Queue()
    with EmbeddedBroker() as broker:
        link = MqttLink(settings(broker.url, site, "dev3", reconnect_max_s=1))
        link.subscribe(f"clearline/{site}/cmd", got.put)
        states: list[bool] = []
        link.add_state_listener(states.append)
        try:
            link.start().wait_connected(WAIT_S)
            broker.stop()
            # lost, then at least two refused retries
            wait_until(lambda: link.failures >= 3, WAIT_S)
            with pytest.raises(DeviceUnavailable, match="not connected"):
                link.publish(f"clearline/{site}/x", b"1")
            broker.start()
            link.wait_connected(WAIT_S)
            sender = Observer(broker.url, site, f"clearline/{site}/none")
            sender.link.publish(f"clearline/{site}/cmd", b"after-restart")
            assert got.get(timeout=WAIT_S).payload == b"after-restart"
            sender.close()
        finally:
            link.stop()
    assert states == [True, False, True]
    texts = [r.getMessage() for r in caplog.records if r.name == "devices.mqtt_link"]
    assert sum("unreachable" in t and "still" not in t for t in texts) == 1
    assert sum("reachable again" in t for t in texts) == 1


def test_unreachable_broker_raises_device_unavailable(site: str) -> None:
    link = MqttLink(settings(f"mqtt://127.0.0.1:{free_port()}", site, "dev4"))
    try:
        link.start()
        with pytest.raises(DeviceUnavailable, match="not reachable"):
            link.wait_connected(0.3)
        with pytest.raises(DeviceUnavailable, match="not connected"):
            link.publish(f"clearline/{site}/x", b"1")
        with pytest.raises(DeviceUnavailable, match="no open connection"):
            link.drop_connection()
    finally:
        link.stop()
    assert not link.connected


def test_a_failing_handler_does_not_kill_the_link(site: str) -> None:
    got: queue.Queue[Message] = queue.Queue()

    def broken(msg: Message) -> None:
        raise RuntimeError(f"handler bug on {msg.topic}")

    with EmbeddedBroker() as broker, MqttLink(settings(broker.url, site, "dev5")) as link:
        link.subscribe(f"clearline/{site}/data/a", broken)
        link.subscribe(f"clearline/{site}/data/#", got.put)
        link.wait_connected(WAIT_S)
        link.publish(f"clearline/{site}/data/a", b"1")
        link.publish(f"clearline/{site}/data/b", b"2")
        seen: set[bytes] = set()
        while seen != {b"1", b"2"}:  # overlapping filters may deliver a copy per filter
            seen.add(got.get(timeout=WAIT_S).payload)
        assert link.connected


@pytest.mark.parametrize(
    "url",
    [
        "http://host:1883",
        "mqtt://",
        "mqtt://host:99999",
        "mqtt://h/x",
        "mqtt://h?ca=/etc/ca.pem",
        "mqtts://h?x=1",
    ],
)
def test_bad_broker_urls_are_refused(url: str) -> None:
    with pytest.raises(DeviceError, match="broker URL"):
        parse_mqtt_url(url)


def test_good_broker_url() -> None:
    assert parse_mqtt_url("mqtt://10.0.0.5:2883") == ("10.0.0.5", 2883)
    assert parse_mqtt_url("mqtt://broker") == ("broker", 1883)
    assert parse_mqtt_url("mqtts://broker") == ("broker", 8883)


def test_broker_url_with_credentials_and_tls() -> None:
    url = parse_broker_url("mqtts://edge-1:p%40ss%3Aword@broker.site:8884?ca=/etc/ca.pem")
    assert (url.host, url.port, url.tls) == ("broker.site", 8884, True)
    assert (url.username, url.password, url.ca_file) == ("edge-1", "p@ss:word", "/etc/ca.pem")
    assert "p@ss" not in repr(url) and "p@ss" not in url.safe()


def test_a_refused_url_never_shows_its_password() -> None:
    with pytest.raises(DeviceError) as err:
        parse_broker_url("mqtt://u:hunter2@h/x")
    assert "hunter2" not in str(err.value)
