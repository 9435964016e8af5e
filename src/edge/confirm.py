"""Hub confirmation: events stay in the outbox until the hub says it holds them.

The broker's acknowledgement only proves the broker has an event. A broker restart loses
what it had queued, and a hub that is away (or not yet subscribed again) never sees what
passed meanwhile. So, once an event has been sent over MQTT and had time to arrive, this
thread offers it again on the hub's acknowledged path, ``POST /api/v1/events``: the hub
stores it if MQTT lost it and counts it a duplicate otherwise. Only the hub's answer removes
an event from the outbox.
"""

from __future__ import annotations

import logging
import threading

import httpx

from contracts.backoff import Backoff
from edge.outbox import Outbox, Pending

log = logging.getLogger(__name__)

#: Path of the hub's acknowledged event intake.
EVENTS_PATH = "/api/v1/events"


class HubConfirmer:
    """A thread that has the hub confirm every sent event, then forgets it."""

    def __init__(
        self,
        hub_url: str,
        api_key: str,
        outbox: Outbox,
        stop: threading.Event,
        *,
        min_age_s: float = 1.0,
        batch: int = 500,
        interval_s: float = 0.5,
        max_backoff_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Prepare the thread; events are offered ``min_age_s`` s after the broker acked them."""
        self._client = httpx.Client(
            base_url=hub_url.rstrip("/"),
            headers={"X-API-Key": api_key, "Content-Type": "application/json"},
            timeout=30.0,
            transport=transport,
        )
        self._outbox, self._stop = outbox, stop
        self._min_age_s, self._batch = min_age_s, batch
        self._interval_s, self._max_backoff_s = interval_s, max_backoff_s
        self.confirmed = 0  # events the hub confirmed (stored now or already held)
        self.recovered = 0  # of those, events the hub did not have yet: MQTT lost them
        self.refused = 0  # events the hub refused as invalid (dropped, logged)
        self._down = False
        self._thread = threading.Thread(target=self._run, name="edge-confirm", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    def join(self, timeout_s: float = 10.0) -> None:
        """Wait for the thread (if started) after the stop event was set; close the client."""
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
        self._client.close()

    def confirm_once(self, now: float | None = None) -> int:
        """Offer one batch of sent events to the hub; return how many it confirmed.

        Raises ``httpx.HTTPError`` (or ``ValueError`` for an unreadable answer) when the hub
        did not take the batch: the events stay in the outbox.
        """
        batch = self._outbox.sent_batch(self._batch, self._min_age_s, now)
        if not batch:
            return 0
        resp = self._client.post(EVENTS_PATH, content=_body(batch))
        resp.raise_for_status()
        answer = resp.json()
        for rejection in answer.get("rejections", []):
            log.warning(
                "hub refused event %s for good: %s",
                rejection.get("event_id"),
                rejection.get("error"),
            )
        self._outbox.ack([p.seq for p in batch])
        self.confirmed += len(batch)
        self.recovered += int(answer.get("stored", 0))
        self.refused += int(answer.get("rejected", 0))
        if answer.get("stored"):
            log.info(
                "hub confirmation: %s events had not reached the hub over MQTT", answer["stored"]
            )
        return len(batch)

    def _run(self) -> None:
        first = max(min(self._interval_s * 2, self._max_backoff_s), 0.001)
        backoff = Backoff(first, max(first, self._max_backoff_s))
        while not self._stop.is_set():
            try:
                full = self.confirm_once() >= self._batch
            except (httpx.HTTPError, ValueError) as err:
                if not self._down:
                    log.warning("hub confirmation: hub unavailable (%s); events kept", err)
                    self._down = True
                self._stop.wait(backoff.next_delay())
                continue
            if self._down:
                log.info("hub confirmation: hub reachable again")
                self._down = False
            backoff.reset()
            if not full:
                self._stop.wait(self._interval_s)


def _body(batch: list[Pending]) -> bytes:
    """Return the JSON array of the batch's payloads (each is one event's JSON object)."""
    return b"[" + b",".join(p.payload for p in batch) + b"]"
