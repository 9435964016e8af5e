"""Sends the outbox to the broker, acking each event only once the broker has it."""

from __future__ import annotations

import logging
import threading

from contracts.backoff import Backoff
from devices.mqtt_link import MqttLink
from edge.outbox import Outbox

log = logging.getLogger(__name__)


class OutboxPublisher:
    """A thread that drains the outbox in batches (live events first, then backlog).

    With ``confirm`` the broker's acknowledgement only marks events sent: they stay in the
    outbox until the hub confirms them (``edge.confirm.HubConfirmer``).
    """

    def __init__(
        self,
        outbox: Outbox,
        link: MqttLink,
        stop: threading.Event,
        batch: int = 200,
        *,
        confirm: bool = False,
    ) -> None:
        self._outbox, self._link, self._stop, self._batch = outbox, link, stop, batch
        self._confirm = confirm
        self.sent = 0
        self._thread = threading.Thread(target=self._run, name="edge-publisher", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    def join(self, timeout_s: float = 5.0) -> None:
        """Wait for the thread after the stop event was set."""
        self._thread.join(timeout_s)

    def _run(self) -> None:
        backoff = Backoff(0.05, 2.0)
        while not self._stop.is_set():
            batch = self._outbox.next_batch(self._batch)
            if not batch or not self._link.connected:
                self._stop.wait(0.02 if not batch else 0.2)
                continue
            acked = self._link.publish_many([(p.topic, p.payload) for p in batch], timeout_s=5.0)
            done = [p.seq for p in batch[:acked]]
            if self._confirm:
                self._outbox.mark_sent(done)
            else:
                self._outbox.ack(done)
            self.sent += acked
            if acked < len(batch):
                self._stop.wait(backoff.next_delay())
            else:
                backoff.reset()
