"""The hub served by uvicorn on a thread of this process (for the demo and end-to-end runs)."""

from __future__ import annotations

import logging
import threading
import time

import uvicorn

from hub.app import create_app
from hub.settings import HubSettings
from simulators.broker import free_port

log = logging.getLogger(__name__)


class HubThread:
    """Start with ``start()``; ``url`` is where it serves; ``stop()`` shuts it down cleanly."""

    def __init__(self, settings: HubSettings, host: str = "127.0.0.1", port: int = 0) -> None:
        self.settings = settings
        self.host = host
        self.port = port or free_port(host)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the hub."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 20.0) -> HubThread:
        """Build the app (migrating the database) and serve until ``stop()``."""
        app = create_app(self.settings)
        config = uvicorn.Config(
            app, host=self.host, port=self.port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="hub-http", daemon=True)
        self._thread.start()
        end = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > end or not self._thread.is_alive():
                raise RuntimeError(f"hub did not start on {self.url}")
            time.sleep(0.02)
        log.info("hub serving on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
        self._server = self._thread = None
