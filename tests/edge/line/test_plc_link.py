"""The edge's PLC link against the PLC simulator over Modbus TCP: polls, replies, outages."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from contracts import registers as reg
from contracts.statuses import ConfirmStatus
from devices.adapters.plc import PlcAdapter, PlcEvent
from devices.events import DestinationRequested, DeviceStateChanged, DivertConfirmed, SendToChute
from devices.modbus_client import ModbusEndpoint
from edge.line.plc_link import PlcLink
from simulators.modbus_sims.harness import RunningPlc, running_plc
from simulators.modbus_sims.spec import PlcSpec
from tests.waiting import wait_until


def _adapter(port: int) -> PlcAdapter:
    endpoint = ModbusEndpoint(
        "127.0.0.1",
        port,
        device_id="plc1",
        timeout_s=0.3,
        frame_gap_s=0.0,
        backoff_initial_s=0.05,
        backoff_max_s=0.1,
    )
    return PlcAdapter(endpoint)


def _collect(events: queue.SimpleQueue[PlcEvent], until: float) -> list[PlcEvent]:
    got: list[PlcEvent] = []
    while time.monotonic() < until:
        try:
            got.append(events.get(timeout=0.05))
        except queue.Empty:
            continue
    return got


def _collect_until(
    events: queue.SimpleQueue[PlcEvent], done: Callable[[list[PlcEvent]], bool], limit_s: float
) -> list[PlcEvent]:
    """Collect events until ``done(collected)`` holds or ``limit_s`` has passed."""
    got: list[PlcEvent] = []
    until = time.monotonic() + limit_s
    while not done(got) and time.monotonic() < until:
        got += _collect(events, time.monotonic() + 0.05)
    return got


def _online(events: list[PlcEvent]) -> list[bool]:
    """The link's state changes among ``events``, in order."""
    return [e.online for e in events if isinstance(e, DeviceStateChanged)]


def _all_off_the_belt(plc: RunningPlc, limit_s: float) -> None:
    """Wait until every inducted item has left the belt (fails the test after ``limit_s``)."""

    def off() -> bool:
        stats = plc.loop.run_sync(lambda: plc.runner.model.stats)
        return bool(stats.finished == stats.inducted)

    wait_until(off, limit_s, "every inducted item off the belt")


def test_every_request_is_answered_in_time_and_diverted() -> None:
    # 40 parcels/s at 5 m/s; 1 s from scan to decision point leaves a loaded test machine
    # room for a scheduling stall while still asking for every reply before its deadline
    spec = PlcSpec(rate_per_s=40.0, belt_speed_m_s=5.0, scan_to_decision_m=5.0, chutes=4)
    stop = threading.Event()
    events: queue.SimpleQueue[PlcEvent] = queue.SimpleQueue()
    answered: dict[int, int] = {}
    links: list[PlcLink] = []

    def sink(event: PlcEvent) -> None:
        events.put(event)
        if isinstance(event, DestinationRequested):  # answered from the link's own thread
            chute = 1 + event.item_id % 4
            answered[event.item_id] = chute
            links[0].reply(SendToChute(event.item_id, chute, 0))

    with running_plc(spec, seed=3) as plc:
        link = PlcLink(_adapter(plc.port), sink, stop)
        links.append(link)
        link.start()
        try:
            seen = _collect(events, time.monotonic() + 1.5)
            plc.loop.run_sync(plc.runner.model.stop_induction)
            _all_off_the_belt(plc, 10.0)
            seen += _collect(events, time.monotonic() + 0.3)
        finally:
            stop.set()
            link.join()
            link.adapter.endpoint.close()
        stats = plc.loop.run_sync(lambda: plc.runner.model.stats)
        beats = plc.loop.run_sync(lambda: plc.runner.model.plc.edge_heartbeat)
    confirms = [e for e in seen if isinstance(e, DivertConfirmed)]
    assert len(answered) >= 20
    assert stats.no_answer == 0 and stats.replies_late == 0
    assert stats.replies_taken == len(answered) == link.replies_sent
    assert link.replies_failed == 0
    assert confirms and all(
        c.status == ConfirmStatus.DIVERTED and c.chute == answered[c.item_id] for c in confirms
    )
    assert beats > 5  # the heartbeat is written by the same thread while it polls
    assert _online(seen) == [True]


def test_queued_replies_share_one_write_and_an_outage_is_survived() -> None:
    spec = PlcSpec(rate_per_s=5.0, scan_to_decision_m=2.0)
    stop = threading.Event()
    events: queue.SimpleQueue[PlcEvent] = queue.SimpleQueue()
    head_writes: list[int] = []
    link: PlcLink | None = None
    try:
        with running_plc(spec, seed=4, induct=False) as plc:
            port = plc.port
            regs = plc.runner.model.plc
            take = regs.on_reply_head

            def counted() -> None:
                head_writes.append(regs.regs[reg.REPLY_RING.head_address])
                take()

            plc.loop.run_sync(lambda: setattr(regs, "on_reply_head", counted))
            link = PlcLink(_adapter(port), events.put, stop)
            for item in range(1, 6):  # queued before the thread runs: one batch
                link.reply(SendToChute(item, 2, 1))
            link.start()
            first = _collect_until(
                events, lambda _: plc.loop.run_sync(lambda: regs.reply_seen) >= 5, 10.0
            )
            taken = plc.loop.run_sync(lambda: regs.reply_seen)
        link.reply(SendToChute(9, 2, 1))  # the PLC is gone: the reply fails, polling goes on
        down = _collect_until(events, lambda got: False in _online(got), 10.0)
        down += _collect_until(events, lambda _: link.replies_failed > 0, 10.0)
        alive_in_outage = link.thread.is_alive()
        with running_plc(spec, port=port, seed=5, induct=False):
            up = _collect_until(events, lambda got: True in _online(got), 10.0)
    finally:
        stop.set()
        if link is not None:
            link.join()
            link.adapter.endpoint.close()
    assert taken == 5 and head_writes == [5]
    assert link.replies_sent == 5 and link.replies_failed == 1
    assert alive_in_outage and not link.thread.is_alive()
    assert _online(first + down + up) == [True, False, True]
