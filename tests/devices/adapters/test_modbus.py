"""Checkweigher and PLC adapters against the simulators over Modbus TCP on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import pytest

from contracts.statuses import ConfirmStatus, PlcState
from devices.adapters.checkweigher import CheckweigherAdapter
from devices.adapters.plc import PlcAdapter, PlcEvent
from devices.errors import DeviceUnavailable
from devices.events import (
    DestinationRequested,
    DeviceStateChanged,
    DivertConfirmed,
    SendToChute,
    WeightMeasured,
)
from devices.modbus_client import ModbusEndpoint
from simulators.faults import PROFILES, FaultProfile
from simulators.modbus_sims.checkweigher import CheckweigherRuntime
from simulators.modbus_sims.harness import running_plc, served_image
from simulators.modbus_sims.spec import CheckweigherSpec, PlcSpec

E = TypeVar("E")


class SkippingClock:
    """The wall clock, plus whatever time a test skips to make a reconnect back-off run out."""

    def __init__(self) -> None:
        self.skipped_s = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skipped_s

    def skip(self, seconds: float) -> None:
        self.skipped_s += seconds


#: The clock of every endpoint here: skipping it ends a back-off without sleeping.
CLOCK = SkippingClock()


def _endpoint(port: int, name: str) -> ModbusEndpoint:
    return ModbusEndpoint(
        "127.0.0.1",
        port,
        device_id=name,
        timeout_s=0.3,
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
        monotonic=CLOCK,
    )


def _poll_until(
    poll: Callable[[], list[E]], want: int, limit_s: float = 3.0
) -> tuple[list[E], int]:
    """Poll until ``want`` events arrived; return them and the DeviceUnavailable count."""
    got: list[E] = []
    failures = 0
    end = time.monotonic() + limit_s
    while len(got) < want and time.monotonic() < end:
        try:
            got.extend(poll())
        except DeviceUnavailable:
            failures += 1
    return got, failures


def _baseline(adapter: CheckweigherAdapter) -> int:
    """Poll until one poll succeeds (it only sets the baseline); return the failures."""
    for failures in range(50):
        try:
            assert adapter.poll() == []
        except DeviceUnavailable:
            CLOCK.skip(0.2)  # the reconnect back-off runs out
            continue
        return failures
    raise AssertionError("the checkweigher never answered")


# --- checkweigher ----------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["none", "slow", "drop", "errors", "disconnect"])
def test_checkweigher_reads_every_weighing_despite_transport_faults(profile: str) -> None:
    faults = PROFILES[profile]
    runtime = CheckweigherRuntime(CheckweigherSpec(), faults, seed=3)
    with served_image(runtime, faults=faults, seed=3) as (server, loop):
        adapter = CheckweigherAdapter(_endpoint(server.port, "cw1"))
        failures = _baseline(adapter)
        weighed: list[WeightMeasured] = []
        for i in range(1, 6):
            loop.run_sync(partial(runtime.weigh, 1000 + i, 1.5 * i))
            got, failed = _poll_until(lambda: adapter.poll(0.02), 1)
            weighed += got
            failures += failed
        # keep reading until the fault shows (20 % drop/error rates, a cut every 20 frames)
        for _ in range(300):
            if profile in ("none", "slow") or failures:
                break
            try:
                adapter.read()
            except DeviceUnavailable:
                failures += 1
        adapter.endpoint.close()
    assert [(e.item_id, e.stable, e.flags) for e in weighed] == [
        (1000 + i, True, frozenset()) for i in range(1, 6)
    ]
    assert [e.weight_kg for e in weighed] == pytest.approx([1.5 * i for i in range(1, 6)])
    assert all(e.device_id == "cw1" for e in weighed)
    if profile not in ("none", "slow"):
        assert failures > 0  # the fault happened, and reading recovered from it


def test_checkweigher_stuck_unstable_and_overload() -> None:
    faults = FaultProfile(stuck_value=True, unstable_rate=0.5)
    runtime = CheckweigherRuntime(CheckweigherSpec(capacity_kg=60.0), faults, seed=11)
    with served_image(runtime) as (server, loop):
        adapter = CheckweigherAdapter(_endpoint(server.port, "cw2"))
        adapter.poll()
        events: list[WeightMeasured] = []
        for i in range(12):
            loop.run_sync(partial(runtime.weigh, i + 1, 2.0 + i))
            events += adapter.poll(1.0)
        adapter.endpoint.close()
    assert [e.item_id for e in events] == list(range(1, 13))
    steady = [e for e in events if e.stable]
    moving = [e for e in events if not e.stable]
    assert steady
    assert moving
    # stuck at the first weight: the first stable reading counts, every repeat is refused
    assert (steady[0].weight_kg, steady[0].flags) == (2.0, frozenset())
    assert len(steady) > 1
    assert all(e.weight_kg is None and e.flags == {"stuck"} for e in steady[1:])
    assert adapter.stuck == len(steady) - 1
    assert all(e.flags == {"motion"} for e in moving)
    assert all(e.weight_kg is not None and abs(e.weight_kg - 2.0) <= 0.25 for e in moving)


def test_checkweigher_repeated_weight_is_stuck_until_it_changes() -> None:
    """Exact repeats beyond ``max_repeats`` give no weight; a new weight is trusted again."""
    adapter = CheckweigherAdapter(_endpoint(1, "cw5"), max_repeats=2)
    weights = [1.25, 1.25, 1.25, 1.25, 3.5, 1.25, 1.25]
    events = [adapter.weighing(100 + i, w, 1) for i, w in enumerate(weights)]
    assert [e.weight_kg for e in events] == [1.25, 1.25, None, None, 3.5, 1.25, 1.25]
    assert [e.flags for e in events].count(frozenset({"stuck"})) == 2
    assert adapter.stuck == 2


@pytest.mark.parametrize(("start", "burst"), [(0, 16), (65_530, 16), (65_000, 23), (7, 40)])
def test_checkweigher_ring_reports_every_weighing_between_polls(start: int, burst: int) -> None:
    """A burst between two polls comes out whole and in order; past 16 the gap is counted."""
    runtime = CheckweigherRuntime()
    runtime.seq = start  # the head wraps 65535 -> 0 inside the burst for start 65,530
    runtime.weigh(1, 0.5)  # an old weighing: the adapter's first poll starts after it
    with served_image(runtime) as (server, loop):
        adapter = CheckweigherAdapter(_endpoint(server.port, "cw6"))
        assert adapter.poll() == []  # the cursor

        def weigh_burst() -> None:
            for i in range(burst):
                runtime.weigh(500 + i, 1.0 + i / 100)

        loop.run_sync(weigh_burst)
        got = adapter.poll()
        adapter.endpoint.close()
    kept = min(burst, 16)
    assert [e.item_id for e in got] == [500 + i for i in range(burst - kept, burst)]
    assert [e.weight_kg for e in got] == pytest.approx(
        [1.0 + i / 100 for i in range(burst - kept, burst)]
    )
    assert adapter.missed == burst - kept


def test_checkweigher_overload_has_no_weight_and_little_word_order() -> None:
    spec = CheckweigherSpec(capacity_kg=30.0, word_order="little")
    runtime = CheckweigherRuntime(spec)
    with served_image(runtime) as (server, loop):
        adapter = CheckweigherAdapter(_endpoint(server.port, "cw3"), word_order="little")
        adapter.poll()
        loop.run_sync(lambda: runtime.weigh(70_000, 45.0))
        over = adapter.poll(1.0)
        loop.run_sync(lambda: runtime.weigh(70_001, 12.5))
        fine = adapter.poll(1.0)
        adapter.endpoint.close()
    assert [(e.item_id, e.weight_kg, e.stable, e.flags) for e in over] == [
        (70_000, None, False, frozenset({"overload"}))
    ]
    assert [(e.item_id, e.weight_kg) for e in fine] == [(70_001, 12.5)]


def test_checkweigher_outage_reported_once_then_reconnected() -> None:
    runtime = CheckweigherRuntime()
    states: list[DeviceStateChanged] = []
    with served_image(runtime) as (server, _):
        port = server.port
        adapter = CheckweigherAdapter(_endpoint(port, "cw4"), on_state=states.append)
        adapter.poll()
    for _ in range(5):
        with pytest.raises(DeviceUnavailable):
            adapter.poll()
        CLOCK.skip(0.2)  # the next poll tries to connect again
    assert adapter.online is False
    with served_image(runtime, port=port) as (_, loop):
        _baseline(adapter)
        loop.run_sync(lambda: runtime.weigh(42, 3.25))
        got, _ = _poll_until(lambda: adapter.poll(0.05), 1)
        adapter.endpoint.close()
    assert [(s.online, s.kind) for s in states] == [
        (True, "checkweigher"),
        (False, "checkweigher"),
        (True, "checkweigher"),
    ]
    assert [(e.item_id, e.weight_kg) for e in got] == [(42, 3.25)]


# --- sorter PLC ------------------------------------------------------------------------


def test_plc_adapter_answers_confirms_rejects_and_sees_estop() -> None:
    # at 5 m/s: scan 0.2 s after induction, decision 0.2 s later, chutes 0.2..0.8 s beyond
    spec = PlcSpec(rate_per_s=25.0, belt_speed_m_s=5.0, scan_to_decision_m=1.0, chutes=4)
    states: list[DeviceStateChanged] = []
    with running_plc(spec, seed=5) as plc:
        adapter = PlcAdapter(_endpoint(plc.port, "plc1"), on_state=states.append)
        answered: dict[int, int] = {}
        skipped: set[int] = set()
        confirms: list[DivertConfirmed] = []

        def handle(events: list[PlcEvent]) -> list[PlcEvent]:
            for e in events:
                if isinstance(e, DestinationRequested):
                    # 200 ms on a quiet machine; now and then the simulated PLC posts
                    # a request at its decision point (0 ms left), which is answered late
                    assert 0 <= e.deadline_ms <= 500
                    if e.item_id % 2:
                        chute = 1 + e.item_id % 4
                        adapter.send(SendToChute(e.item_id, chute, 3))
                        answered[e.item_id] = chute
                    else:
                        skipped.add(e.item_id)
                elif isinstance(e, DivertConfirmed):
                    confirms.append(e)
            return events

        def enough() -> list[PlcEvent]:
            """Poll; report one event once 5 items were diverted and 5 sent to reject."""
            handle(adapter.poll(0.02))
            done = [c.status for c in confirms]
            full = min(done.count(ConfirmStatus.DIVERTED), done.count(ConfirmStatus.NO_ANSWER))
            return [confirms[-1]] if full >= 5 else []

        t0 = time.monotonic()
        _poll_until(lambda: handle(adapter.poll(0.02)), 10**9, limit_s=2.2)
        _poll_until(enough, 1, limit_s=10.0)  # a slow start on a loaded machine catches up
        elapsed = time.monotonic() - t0
        edge_beats = plc.loop.run_sync(lambda: plc.runner.model.plc.edge_heartbeat)
        plc.loop.run_sync(plc.runner.model.estop)
        _poll_until(lambda: handle(adapter.poll(0.02)), 10**9, limit_s=0.4)
        stats = plc.loop.run_sync(lambda: plc.runner.model.stats)
        adapter.endpoint.close()
    by_item = {c.item_id: c for c in confirms}
    diverted = [c for c in confirms if c.status == ConfirmStatus.DIVERTED]
    rejected = [c for c in confirms if c.status == ConfirmStatus.NO_ANSWER]
    aborted = [c for c in confirms if c.status == ConfirmStatus.ABORTED]
    assert len(diverted) >= 5
    assert len(rejected) >= 5
    assert aborted
    assert all(answered[c.item_id] == c.chute for c in diverted)
    assert all(c.chute == spec.reject_chute for c in rejected)
    # a reply that misses its 200 ms budget on a loaded machine sends its item to the reject
    # chute like an unanswered one, and the PLC counts it late; none is ever diverted late
    late = [c for c in rejected if c.item_id not in skipped]
    assert all(c.item_id in answered for c in late)
    assert stats.replies_late >= len(late)
    assert set(by_item) <= set(answered) | skipped | {c.item_id for c in aborted}
    assert stats.replies_taken == len(answered)
    # written every 50 ms; allow for a loaded machine, exact pacing is tested with fake time
    assert edge_beats >= 0.5 * elapsed / 0.1
    assert [(s.online, s.detail) for s in states] == [(True, "running"), (True, "e-stop")]
    assert adapter.state == PlcState.ESTOP


def test_plc_adapter_outage_then_resync_with_a_restarted_plc() -> None:
    spec = PlcSpec(rate_per_s=20.0, scan_to_decision_m=2.0)
    states: list[DeviceStateChanged] = []
    with running_plc(spec, seed=2) as plc:
        port = plc.port
        adapter = PlcAdapter(_endpoint(port, "plc2"), on_state=states.append)
        first, _ = _poll_until(lambda: adapter.poll(0.02), 3)
    for _ in range(4):
        with pytest.raises(DeviceUnavailable):
            adapter.poll()
        CLOCK.skip(0.2)  # the next poll tries to connect again
    with running_plc(spec, port=port, seed=3) as plc2:
        again, _ = _poll_until(
            lambda: [e for e in adapter.poll(0.02) if isinstance(e, DestinationRequested)], 3
        )
        head = plc2.loop.run_sync(lambda: plc2.runner.model.plc.request_head)
        adapter.endpoint.close()
    assert any(isinstance(e, DestinationRequested) for e in first)
    assert [s.online for s in states] == [True, False, True]
    # the restarted PLC numbers items from 1 again: the adapter re-synchronised its heads
    assert [e.item_id for e in again[:3]] == sorted(e.item_id for e in again[:3])
    assert all(e.item_id <= head for e in again)


def test_plc_adapter_heartbeat_pacing_on_fake_time() -> None:
    now = [0.0]
    with running_plc(PlcSpec(), induct=False) as plc:
        adapter = PlcAdapter(_endpoint(plc.port, "plc3"), monotonic=lambda: now[0])
        beats = []
        for step in range(12):  # a poll cycle every 20 ms of fake time
            now[0] = step * 0.02
            adapter.cycle()
            beats.append(plc.loop.run_sync(lambda: plc.runner.model.plc.edge_heartbeat))
        adapter.endpoint.close()
    # written at 0, 60, 120, 180 and 240 ms of fake time: never more than 100 ms apart
    assert beats == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
