"""An embedded MQTT 3.1.1 broker (amqtt) on a background thread, and broker choice for tests."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter
from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

logger = logging.getLogger(__name__)

#: Where the real Mosquitto listens on CI and demo machines.
MOSQUITTO_HOST = "127.0.0.1"
MOSQUITTO_PORT = 1883

_START_TIMEOUT_S = 10.0
_SHUTDOWN_S = 3.0
_LISTENER = "clearline"


class BrokerError(Exception):
    """The embedded broker could not start or stop cleanly."""


@dataclass(frozen=True, slots=True)
class BrokerEndpoint:
    """Where a broker listens."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """The ``mqtt://host:port`` URL of this broker."""
        return f"mqtt://{self.host}:{self.port}"


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _digest(password: str | bytes) -> str:
    """SHA-256 hex of a password (the plugin never keeps passwords in clear)."""
    raw = password.encode("utf-8") if isinstance(password, str) else password
    return hashlib.sha256(raw).hexdigest()


class CredentialsPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt ships no types
    """amqtt authentication: only the configured users, each with its password."""

    @dataclass
    class Config:
        """User name -> SHA-256 hex of its password."""

        users: dict[str, str] = field(default_factory=dict)

    async def authenticate(self, *, session: Session) -> bool:
        """Accept a client only with a listed user name and its password."""
        users: dict[str, str] = self._get_config_option("users", {}) or {}
        want = users.get(session.username or "")
        if want is None or session.password is None:
            logger.warning("embedded broker refused client %r", session.username)
            return False
        ok = hmac.compare_digest(_digest(session.password), want)
        if not ok:
            logger.warning("embedded broker refused client %r: wrong password", session.username)
        return ok


class EmbeddedBroker:
    """amqtt running on its own event loop in one background thread.

    ``port=0`` picks a free port at the first start; it is kept across ``restart()`` so that
    clients can reconnect to the same address. Use as a context manager, or call ``start()``
    and ``stop()``; ``stop()`` leaves no thread and no task behind.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, users: dict[str, str] | None = None
    ) -> None:
        """Prepare a broker for ``host:port`` (port 0: a free port).

        With ``users`` (name -> password) only those clients may connect; without, anyone.
        """
        self._users = {name: _digest(pw) for name, pw in (users or {}).items()}
        if not 0 <= port <= 65535:
            raise BrokerError(f"port {port} is outside 0..65535")
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def endpoint(self) -> BrokerEndpoint:
        """Host and port clients connect to."""
        return BrokerEndpoint(self.host, self.port)

    @property
    def url(self) -> str:
        """The ``mqtt://host:port`` URL clients connect to."""
        return self.endpoint.url

    def url_for(self, user: str, password: str) -> str:
        """The URL a client with these credentials connects to."""
        return f"mqtt://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True between a successful ``start()`` and ``stop()``."""
        return self._thread is not None

    def start(self) -> EmbeddedBroker:
        """Start listening; return self. Raise BrokerError if the broker cannot start."""
        if self._thread is not None:
            raise BrokerError(f"embedded broker on {self.url} is already running")
        if self.port == 0:
            self.port = free_port(self.host)
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._run_loop, args=(loop,), name=f"mqtt-broker-{self.port}", daemon=True
        )
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start_broker(), loop)
        try:
            future.result(_START_TIMEOUT_S)
        except Exception as err:
            self._halt_loop()
            raise BrokerError(f"embedded broker could not listen on {self.url}: {err}") from err
        logger.info("embedded MQTT broker listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop the broker, cancel its tasks and join its thread (no-op when not running)."""
        loop = self._loop
        if loop is None or self._thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._stop_broker(), loop)
        try:
            future.result(_START_TIMEOUT_S)
        except Exception as err:  # still tear the loop down, then report
            self._halt_loop()
            raise BrokerError(f"embedded broker on {self.url} did not stop cleanly: {err}") from err
        self._halt_loop()
        logger.info("embedded MQTT broker on %s stopped", self.url)

    def restart(self) -> None:
        """Stop and start again on the same port (clients see the broker go away)."""
        self.stop()
        self.start()

    def __enter__(self) -> EmbeddedBroker:
        """Start the broker."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the broker."""
        self.stop()

    # --- inside the broker's thread ---------------------------------------------------------

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        """Thread body: run the event loop until stopped, then close it."""
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _start_broker(self) -> None:
        """Start amqtt behind a TCP server this object owns, so it can close every connection."""
        anonymous = "amqtt.plugins.authentication.AnonymousAuthPlugin"
        config: dict[str, Any] = {
            "listeners": {
                "default": {"type": "external", "bind": f"{self.host}:{self.port}"},
                _LISTENER: {"type": "external", "bind": f"{self.host}:{self.port}"},
            },
            "plugins": {anonymous: {"allow_anonymous": True}},
        }
        if self._users:
            config["plugins"] = {f"{__name__}.CredentialsPlugin": {"users": self._users}}
        self._broker = Broker(config)
        await self._broker.start()
        self._server = await asyncio.start_server(
            self._connected, self.host, self.port, reuse_address=True
        )

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Hand one client connection to amqtt; remember it so ``stop()`` can close it."""
        self._writers.add(writer)
        try:
            if self._broker is not None:
                await self._broker.external_connected(
                    StreamReaderAdapter(reader), StreamWriterAdapter(writer), _LISTENER
                )
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _stop_broker(self) -> None:
        """Stop listening, cut every client, shut amqtt down, cancel whatever it left."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        for writer in list(self._writers):
            writer.close()
        await asyncio.sleep(0.05)  # let amqtt see the connections end
        broker, self._broker = self._broker, None
        if broker is not None:
            try:
                await asyncio.wait_for(broker.shutdown(), _SHUTDOWN_S)
            except TimeoutError:
                logger.warning("amqtt shutdown stalled; cancelling its tasks")
        current = asyncio.current_task()
        leftovers = [t for t in asyncio.all_tasks() if t is not current]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    def _halt_loop(self) -> None:
        """Stop the loop and join the thread."""
        loop, thread = self._loop, self._thread
        self._loop, self._thread = None, None
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(_START_TIMEOUT_S)
            if thread.is_alive():
                raise BrokerError(f"embedded broker thread on port {self.port} did not stop")


BrokerKind = Literal["embedded", "mosquitto"]


@contextlib.contextmanager
def open_broker(kind: BrokerKind) -> Iterator[BrokerEndpoint]:
    """Yield a broker endpoint for tests and demos: a fresh embedded one, or the real Mosquitto.

    For ``mosquitto`` the caller checks reachability first (tests use
    ``tests.conftest.require_service``); nothing is started or stopped.
    """
    if kind == "embedded":
        with EmbeddedBroker() as broker:
            yield broker.endpoint
    elif kind == "mosquitto":
        yield BrokerEndpoint(MOSQUITTO_HOST, MOSQUITTO_PORT)
    else:
        raise BrokerError(f"unknown broker kind {kind!r}; use 'embedded' or 'mosquitto'")
