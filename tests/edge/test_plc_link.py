"""The edge's PLC link against the PLC simulator over Modbus TCP: polls, replies, outages."""

from __future__ import annotations

import queue
import threading
import time

from devices import modbus_maps as mm
from devices.adapters.plc import PlcAdapter, PlcEvent
from devices.events import DestinationRequested, DeviceStateChanged, DivertConfirmed, SendToChute
from devices.modbus_client import ModbusEndpoint
from devices.modbus_maps import ConfirmStatus
from edge.plc_link import PlcLink
from simulators.modbus_sims.harness import running_plc
from simulators.modbus_sims.spec import PlcSpec


def _adapter(port: int) -> PlcAdapter:
    endpoint = ModbusEndpoint(
        "127.0.0.1", port, device_id="plc1", timeout_s=0.3, frame_gap_s=0.0,
        backoff_initial_s=0.05, backoff_max_s=0.1,
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


def test_every_request_is_answered_in_time_and_diverted() -> None:
    # 40 parcels/s at 5 m/s, 0.3 s from scan to decision point
    spec = PlcSpec(rate_per_s=40.0, belt_speed_m_s=5.0, scan_to_decision_m=1.5, chutes=4)
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
            seen += _collect(events, time.monotonic() + 1.0)
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
    states = [e for e in seen if isinstance(e, DeviceStateChanged)]
    assert [s.online for s in states] == [True]


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
                head_writes.append(regs.regs[mm.REPLY_RING.head_address])
                take()

            plc.loop.run_sync(lambda: setattr(regs, "on_reply_head", counted))
            link = PlcLink(_adapter(port), events.put, stop)
            for item in range(1, 6):  # queued before the thread runs: one batch
                link.reply(SendToChute(item, 2, 1))
            link.start()
            first = _collect(events, time.monotonic() + 0.3)
            taken = plc.loop.run_sync(lambda: regs.reply_seen)
        link.reply(SendToChute(9, 2, 1))  # the PLC is gone: the reply fails, polling goes on
        down = _collect(events, time.monotonic() + 0.5)
        alive_in_outage = link.thread.is_alive()
        with running_plc(spec, port=port, seed=5, induct=False):
            up = _collect(events, time.monotonic() + 0.6)
    finally:
        stop.set()
        if link is not None:
            link.join()
            link.adapter.endpoint.close()
    assert taken == 5 and head_writes == [5]
    assert link.replies_sent == 5 and link.replies_failed == 1
    assert alive_in_outage and not link.thread.is_alive()
    states = [e.online for e in first + down + up if isinstance(e, DeviceStateChanged)]
    assert states == [True, False, True]
