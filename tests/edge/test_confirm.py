"""Hub confirmation: sent events leave the outbox only when the hub has answered for them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edge.confirm import EVENTS_PATH, HubConfirmer
from edge.outbox import Outbox
from tests.waiting import wait_until


class FakeHub:
    """Stands in for the hub's ``POST /api/v1/events`` at the HTTP library boundary."""

    def __init__(self) -> None:
        self.held: set[str] = set()
        self.up = True
        self.requests: list[list[dict[str, object]]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer like the hub: stored, duplicates, rejections; 503 while down."""
        if not self.up:
            return httpx.Response(503, json={"detail": "the event store is unavailable"})
        assert request.url.path == EVENTS_PATH
        assert request.headers["X-API-Key"] == "key-1"
        events = json.loads(request.content)
        self.requests.append(events)
        stored = dup = 0
        rejections = []
        for i, e in enumerate(events):
            if "kind" not in e:
                rejections.append({"index": i, "event_id": e["event_id"], "error": "no kind"})
            elif e["event_id"] in self.held:
                dup += 1
            else:
                self.held.add(e["event_id"])
                stored += 1
        body = {
            "received": len(events),
            "stored": stored,
            "duplicates": dup,
            "rejected": len(rejections),
            "rejections": rejections,
        }
        return httpx.Response(200, json=body)


def _event(event_id: str, kind: str | None = "decided") -> bytes:
    body: dict[str, object] = {"event_id": event_id}
    if kind is not None:
        body["kind"] = kind
    return json.dumps(body).encode()


@pytest.fixture()
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    """An empty outbox in a temporary file."""
    ob = Outbox(tmp_path / "o.db")
    yield ob
    ob.close()


def _confirmer(outbox: Outbox, hub: FakeHub) -> HubConfirmer:
    return HubConfirmer(
        "http://hub.test",
        "key-1",
        outbox,
        threading.Event(),
        min_age_s=1.0,
        batch=2,
        transport=httpx.MockTransport(hub.handle),
    )


def test_hub_confirms_what_mqtt_lost_and_what_it_delivered(outbox: Outbox) -> None:
    """Delivered events count as duplicates, lost ones are stored; both leave the outbox."""
    hub = FakeHub()
    hub.held.add("a")  # MQTT delivered "a"; "b" and "c" were lost by the broker
    outbox.put_many([(i, "t", _event(i)) for i in ("a", "b", "c")], now=10.0)
    outbox.mark_sent([p.seq for p in outbox.next_batch(10, now=10.0)], now=10.0)
    confirmer = _confirmer(outbox, hub)
    try:
        assert confirmer.confirm_once(now=10.5) == 0  # too fresh
        assert confirmer.confirm_once(now=11.0) == 2
        assert confirmer.confirm_once(now=11.0) == 1
    finally:
        confirmer.join(0)
    assert hub.held == {"a", "b", "c"}
    assert (confirmer.confirmed, confirmer.recovered) == (3, 2)
    assert outbox.pending() == 0


def test_unsent_events_are_not_offered(outbox: Outbox) -> None:
    """Only broker-acked events are confirmed over HTTP; unsent ones wait for MQTT."""
    hub = FakeHub()
    outbox.put("a", "t", _event("a"), now=1.0)
    confirmer = _confirmer(outbox, hub)
    try:
        assert confirmer.confirm_once(now=100.0) == 0
    finally:
        confirmer.join(0)
    assert hub.requests == [] and outbox.unsent() == 1


def test_hub_down_keeps_events_and_refused_ones_are_dropped(outbox: Outbox) -> None:
    """A hub that is down keeps events in the outbox; an event it refuses is dropped."""
    hub = FakeHub()
    hub.up = False
    outbox.put_many([("a", "t", _event("a")), ("bad", "t", _event("bad", None))], now=1.0)
    outbox.mark_sent([p.seq for p in outbox.next_batch(10, now=1.0)], now=1.0)
    confirmer = _confirmer(outbox, hub)
    try:
        with pytest.raises(httpx.HTTPStatusError):
            confirmer.confirm_once(now=5.0)
        assert outbox.pending() == 2
        hub.up = True
        assert confirmer.confirm_once(now=6.0) == 2
    finally:
        confirmer.join(0)
    assert (confirmer.refused, outbox.pending()) == (1, 0)
    assert hub.held == {"a"}


def test_thread_drains_sent_events_until_stopped(outbox: Outbox) -> None:
    """Started, the confirmer empties the outbox of sent events on its own."""
    hub = FakeHub()
    stop = threading.Event()
    outbox.put_many([(f"e{i}", "t", _event(f"e{i}")) for i in range(5)], now=1.0)
    outbox.mark_sent([p.seq for p in outbox.next_batch(10, now=1.0)], now=1.0)
    confirmer = HubConfirmer(
        "http://hub.test",
        "key-1",
        outbox,
        stop,
        min_age_s=0.0,
        batch=2,
        interval_s=0.01,
        transport=httpx.MockTransport(hub.handle),
    )
    confirmer.start()
    try:
        wait_until(lambda: outbox.pending() == 0, 5.0, "every event confirmed")
    finally:
        stop.set()
        confirmer.join()
    assert outbox.pending() == 0 and len(hub.held) == 5
