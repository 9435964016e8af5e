"""One owner per MQTT broker connection: last will, presence, back-off, bounded QoS 1 publish."""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import Field

from contracts.config import ConfigModel
from contracts.messages import Availability, encode_availability
from contracts.topics import availability_topic
from devices.errors import DeviceError, DeviceUnavailable

logger = logging.getLogger(__name__)

DEFAULT_MQTT_PORT = 1883
DEFAULT_MQTTS_PORT = 8883


@dataclass(frozen=True, slots=True)
class BrokerUrl:
    """Where and how to reach a broker: ``mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT][?ca=FILE]``."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None

    def safe(self) -> str:
        """The URL without its password, for logs."""
        who = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{who}{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Message:
    """One message delivered to a subscription handler."""

    topic: str
    payload: bytes
    qos: int
    retain: bool


MessageHandler = Callable[[Message], None]
StateListener = Callable[[bool], None]


def parse_broker_url(url: str) -> BrokerUrl:
    """Parse ``mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT][?ca=FILE]``; raise DeviceError if bad.

    ``mqtts`` means TLS (port 8883 by default), checked against ``ca`` or the system's CAs.
    User and password are percent-decoded. Error messages never repeat the password.
    """
    try:
        parts = urlsplit(url)
        tls = parts.scheme == "mqtts"
        port = parts.port or (DEFAULT_MQTTS_PORT if tls else DEFAULT_MQTT_PORT)
    except ValueError as err:
        raise DeviceError(f"broker URL {_hide(url)!r} is malformed: {err}") from err
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise DeviceError(f"broker URL {_hide(url)!r} must look like mqtt[s]://HOST:PORT")
    query = parse_qs(parts.query, keep_blank_values=True)
    if parts.path not in ("", "/") or parts.fragment or set(query) - {"ca"}:
        raise DeviceError(
            f"broker URL {_hide(url)!r} may carry only user, password, host, port and ?ca="
        )
    if "ca" in query and not tls:
        raise DeviceError(f"broker URL {_hide(url)!r}: ?ca= needs mqtts://")
    return BrokerUrl(
        host=parts.hostname,
        port=port,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        ca_file=query["ca"][-1] if "ca" in query else None,
    )


def _hide(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        return url.replace(f":{parts.password}@", ":***@", 1)
    except ValueError:
        return "(unreadable URL)"


def parse_mqtt_url(url: str) -> tuple[str, int]:
    """Return ``(host, port)`` of a broker URL (see ``parse_broker_url``); raise DeviceError."""
    broker = parse_broker_url(url)
    return broker.host, broker.port


class LinkSettings(ConfigModel):
    """How one process connects to the site broker, and whose availability it announces."""

    url: str = Field("mqtt://127.0.0.1:1883", description="Broker URL, mqtt://HOST:PORT.")
    site: str = Field(description="Site id, the second topic level.")
    kind: str = Field(description="Kind of the owner (xray, edge, hub, ...), for availability.")
    device_id: str = Field(description="Id of the owner, for availability and the client id.")
    client_id: str | None = Field(
        None, description="MQTT client id; a unique one is generated when unset."
    )
    keepalive_s: int = Field(10, ge=2, le=600, description="MQTT keep-alive, seconds.")
    clean_session: bool = Field(
        True,
        description="False keeps a persistent session (needs a fixed client_id): the broker "
        "queues QoS 1 messages for this client while it is away.",
    )
    reconnect_min_s: int = Field(1, ge=1, description="First reconnect delay, seconds.")
    reconnect_max_s: int = Field(3, ge=1, description="Longest reconnect delay, seconds.")
    publish_timeout_s: float = Field(5.0, gt=0, description="Longest wait for a PUBACK, s.")
    max_queued: int = Field(
        1000, ge=1, description="Most outgoing messages paho keeps in memory before refusing."
    )
    manual_ack: bool = Field(
        False,
        description="Acknowledge a QoS 1 message only once every handler returned without an "
        "error; after a failure the link reconnects so the broker delivers the message again "
        "(with a persistent session).",
    )


class MqttLink:
    """The single owner of one broker connection, with its network thread.

    On connect it publishes ``online`` (retained) on its availability topic and restores every
    subscription; the broker publishes the retained ``offline`` last will if the link dies.
    Handlers and state listeners run on the network thread: keep them short and never call
    ``publish`` with a wait from them (the link skips the wait there, as paho would deadlock).
    """

    def __init__(self, settings: LinkSettings) -> None:
        """Prepare the client; nothing touches the network before ``start()``."""
        self.settings = settings
        self.broker = parse_broker_url(settings.url)
        self.host, self.port = self.broker.host, self.broker.port
        self.availability = availability_topic(settings.site, settings.kind, settings.device_id)
        self.client_id = (
            settings.client_id
            or f"clearline-{settings.kind}-{settings.device_id}-{uuid.uuid4().hex[:8]}"
        )
        self._lock = threading.Lock()
        self._subs: dict[str, tuple[int, MessageHandler]] = {}
        self._listeners: list[StateListener] = []
        self._connected = threading.Event()
        self._started = False
        self._stopping = False
        self._ever_connected = False
        self._down_since: float | None = None
        self._network_thread: int | None = None
        self.failures = 0  # connection failures and losses since start, for health reports
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=settings.clean_session,
            protocol=mqtt.MQTTv311,
        )
        client.will_set(
            self.availability, encode_availability(Availability.OFFLINE), qos=1, retain=True
        )
        if self.broker.username is not None:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set(ca_certs=self.broker.ca_file)
        client.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)
        client.max_queued_messages_set(settings.max_queued)
        client.manual_ack_set(settings.manual_ack)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the broker has accepted this link."""
        return self._connected.is_set()

    def start(self) -> MqttLink:
        """Start the network thread; it connects, and keeps reconnecting with back-off."""
        with self._lock:
            if self._started:
                raise DeviceUnavailable(self.client_id, "already started; links are single-use")
            self._started = True
        self._client.connect_async(self.host, self.port, keepalive=self.settings.keepalive_s)
        self._client.loop_start()
        return self

    def wait_connected(self, timeout_s: float) -> None:
        """Block until connected; raise DeviceUnavailable after ``timeout_s`` seconds."""
        if not self._connected.wait(timeout_s):
            raise DeviceUnavailable(
                self.client_id,
                f"broker {self.host}:{self.port} not reachable within {timeout_s:.1f} s",
            )

    def stop(self, publish_offline: bool = True) -> None:
        """Announce ``offline`` (retained), disconnect cleanly and join the network thread."""
        with self._lock:
            if not self._started or self._stopping:
                return
            self._stopping = True
        if publish_offline and self.connected:
            try:
                self.publish(
                    self.availability, encode_availability(Availability.OFFLINE), retain=True
                )
            except DeviceUnavailable as err:
                logger.warning("could not announce offline on %s: %s", self.availability, err)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        logger.info("MQTT link %s to %s:%s stopped", self.client_id, self.host, self.port)

    def __enter__(self) -> MqttLink:
        """Start the link."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the link."""
        self.stop()

    def _unacked_drop(self) -> None:
        """Cut the connection after a message could not be taken (redelivered on reconnect)."""
        sock = self._client.socket()
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError as err:
                logger.debug("dropping the connection failed: %s", err)

    def drop_connection(self) -> None:
        """Cut the TCP connection without DISCONNECT, as a crash would; the link reconnects.

        The broker then publishes this link's last will. Used for fault injection.
        """
        sock = self._client.socket()
        if not isinstance(sock, socket.socket):
            raise DeviceUnavailable(self.client_id, "no open connection to drop")
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError as err:
            raise DeviceUnavailable(self.client_id, f"could not drop connection: {err}") from err

    # --- publish / subscribe ------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        timeout_s: float | None = None,
    ) -> None:
        """Publish and, for QoS 1/2, wait up to ``timeout_s`` seconds for the broker's ack.

        Raise DeviceUnavailable when not connected, when paho's queue is full, or when the
        ack does not come in time (the message may still arrive later: QoS 1 is at least once).
        """
        if not self._connected.is_set():
            raise DeviceUnavailable(
                self.client_id, f"not connected to {self.host}:{self.port}; {topic} not published"
            )
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            raise DeviceUnavailable(self.client_id, f"outgoing queue full; {topic} not published")
        if qos == 0 or threading.get_ident() == self._network_thread:
            return
        wait_s = self.settings.publish_timeout_s if timeout_s is None else timeout_s
        try:
            info.wait_for_publish(wait_s)
        except (RuntimeError, ValueError) as err:
            raise DeviceUnavailable(self.client_id, f"publish to {topic} failed: {err}") from err
        if not info.is_published():
            raise DeviceUnavailable(
                self.client_id, f"no acknowledgement for {topic} within {wait_s:.1f} s"
            )

    def publish_many(self, items: list[tuple[str, bytes]], timeout_s: float | None = None) -> int:
        """Publish a batch at QoS 1 and wait for the acks; return how many leading items were acked.

        Messages are all handed to the client first, then awaited in order, so a batch costs
        about one round trip. Items after the first unacknowledged one may still arrive (QoS 1
        is at least once); the caller resends them.
        """
        if not self._connected.is_set():
            return 0
        infos = []
        for topic, payload in items:
            info = self._client.publish(topic, payload, qos=1)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
            infos.append(info)
        wait_s = self.settings.publish_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + wait_s
        acked = 0
        for info in infos:
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError):
                break
            if not info.is_published():
                break
            acked += 1
        return acked

    def subscribe(self, topic_filter: str, handler: MessageHandler, qos: int = 1) -> None:
        """Deliver messages matching ``topic_filter`` to ``handler``, now and after reconnects."""
        with self._lock:
            self._subs[topic_filter] = (qos, handler)
            live = self._connected.is_set()
        if live:
            self._client.subscribe(topic_filter, qos)

    def unsubscribe(self, topic_filter: str) -> None:
        """Stop delivering ``topic_filter`` (no-op if it was not subscribed)."""
        with self._lock:
            known = self._subs.pop(topic_filter, None)
            live = self._connected.is_set()
        if known is not None and live:
            self._client.unsubscribe(topic_filter)

    def add_state_listener(self, listener: StateListener) -> None:
        """Call ``listener(True/False)`` on the network thread when the link goes up or down."""
        with self._lock:
            self._listeners.append(listener)

    # --- paho callbacks (network thread) ------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        """Announce online, restore subscriptions, log the end of an outage once."""
        del userdata, flags, properties
        if reason_code.is_failure:
            self._note_down(f"broker refused the connection: {reason_code}")
            return
        with self._lock:
            self._network_thread = threading.get_ident()
            subs = [(f, qos) for f, (qos, _) in self._subs.items()]
            down_since, self._down_since = self._down_since, None
            first = not self._ever_connected
            self._ever_connected = True
            listeners = list(self._listeners)
            self._connected.set()
        for topic_filter, qos in subs:
            client.subscribe(topic_filter, qos)
        client.publish(
            self.availability, encode_availability(Availability.ONLINE), qos=1, retain=True
        )
        if down_since is not None and not first:
            logger.info(
                "MQTT broker %s:%s reachable again after %.1f s",
                self.host,
                self.port,
                time.monotonic() - down_since,
            )
        else:
            logger.info("MQTT link %s connected to %s:%s", self.client_id, self.host, self.port)
        self._notify(listeners, True)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        """TCP connect failed; paho retries after its back-off."""
        del client, userdata
        self._note_down("connection failed")

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        """The connection ended; an unexpected end starts (or continues) an outage."""
        del client, userdata, flags, properties
        if self._stopping:
            self._connected.clear()
            return
        self._note_down(f"connection lost: {reason_code}")

    def _note_down(self, reason: str) -> None:
        """Record an outage; log its start once, later failures only at debug level."""
        with self._lock:
            self.failures += 1
            first = self._down_since is None
            if first:
                self._down_since = time.monotonic()
            was_up = self._connected.is_set()
            self._connected.clear()
            listeners = list(self._listeners)
        if first:
            logger.warning(
                "MQTT broker %s:%s unreachable (%s); retrying every %s..%s s",
                self.host,
                self.port,
                reason,
                self.settings.reconnect_min_s,
                self.settings.reconnect_max_s,
            )
        else:
            logger.debug("MQTT broker %s:%s still unreachable (%s)", self.host, self.port, reason)
        if was_up:
            self._notify(listeners, False)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        """Hand a message to every handler whose filter matches; a failing handler is logged."""
        del client, userdata
        with self._lock:
            subs = list(self._subs.items())
        handlers = [h for f, (_, h) in subs if mqtt.topic_matches_sub(_plain(f), msg.topic)]
        if not handlers:  # a persistent session's old subscription, or one not yet in place
            logger.warning("message on %s dropped: no handler subscribed to it", msg.topic)
        message = Message(msg.topic, bytes(msg.payload), int(msg.qos), bool(msg.retain))
        ok = True
        for handler in handlers:
            try:
                handler(message)
            except Exception:
                ok = False
                logger.exception("handler for %s failed", msg.topic)
        if not self.settings.manual_ack:
            return
        if ok:
            self._client.ack(msg.mid, msg.qos)
        else:  # unacknowledged: a new connection makes the broker deliver it again
            logger.error("message on %s not acknowledged; reconnecting for redelivery", msg.topic)
            self._unacked_drop()

    @staticmethod
    def _notify(listeners: list[StateListener], up: bool) -> None:
        """Call state listeners, logging (never raising) their failures."""
        for listener in listeners:
            try:
                listener(up)
            except Exception:
                logger.exception("MQTT state listener failed")


#: The link and the errors it raises: a user of the MQTT transport needs no other module here.
__all__ = [
    "DEFAULT_MQTT_PORT",
    "BrokerUrl",
    "DeviceError",
    "DeviceUnavailable",
    "LinkSettings",
    "Message",
    "MqttLink",
    "parse_broker_url",
    "parse_mqtt_url",
]


def _plain(topic_filter: str) -> str:
    """Return the topic part of a ``$share/{group}/{filter}`` subscription (others as given)."""
    if topic_filter.startswith("$share/"):
        parts = topic_filter.split("/", 2)
        if len(parts) == 3:
            return parts[2]
    return topic_filter
