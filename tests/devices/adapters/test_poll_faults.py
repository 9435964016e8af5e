"""A device fault of any kind ends in an offline state and a retry, never a dead thread."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from functools import partial

from devices.adapters.base import PollThread
from devices.adapters.checkweigher import CheckweigherAdapter
from devices.errors import DeviceUnavailable, ProtocolError
from devices.events import DeviceStateChanged, WeightMeasured
from devices.modbus_client import ModbusEndpoint
from simulators.faults import FaultProfile
from simulators.modbus_sims.checkweigher import CheckweigherRuntime
from simulators.modbus_sims.harness import served_image
from simulators.modbus_sims.spec import CheckweigherSpec
from tests.waiting import wait_until


class Flaky:
    """An adapter whose first polls raise what it is given, then report one event each."""

    device_id = "flaky"

    def __init__(self, errors: Sequence[Exception]) -> None:
        self.errors = list(errors)
        self.faults: list[str] = []
        self.lock = threading.Lock()

    def poll(self, timeout_s: float) -> list[int]:
        with self.lock:
            if self.errors:
                raise self.errors.pop(0)
        return [1]

    def fault(self, detail: str) -> None:
        self.faults.append(detail)


def test_poll_thread_survives_every_exception() -> None:
    """Protocol errors, bugs and outages are retried; events flow once the device answers."""
    adapter = Flaky(
        [ProtocolError("illegal data address"), RuntimeError("codec bug"),
         DeviceUnavailable("flaky", "gone"), ValueError("bad float")]
    )  # fmt: skip
    got: list[int] = []
    with PollThread(adapter, got.append, poll_s=0.01, max_backoff_s=0.05) as thread:
        wait_until(lambda: len(got) >= 3, 5, "events after the faults")
    assert thread.faults == 3
    assert [d.split(":")[0] for d in adapter.faults] == [
        "ProtocolError",
        "RuntimeError",
        "ValueError",
    ]


class RefusingEndpoint(ModbusEndpoint):
    """A checkweigher endpoint that refuses its first ``n`` reads with an exception reply."""

    def __init__(self, n: int) -> None:
        super().__init__("127.0.0.1", 1502, device_id="cw")
        self.n = n
        self.closed = 0

    def read_holding(self, address: int, count: int) -> list[int]:
        if self.n > 0:
            self.n -= 1
            raise ProtocolError("device cw: read 0+6 refused: illegal data address (code 2)")
        return [0] * count

    def close(self) -> None:
        self.closed += 1


def test_checkweigher_exception_reply_is_an_outage() -> None:
    """An exception reply reports the checkweigher offline at once and reconnects."""
    states: list[DeviceStateChanged] = []
    endpoint = RefusingEndpoint(1)
    adapter = CheckweigherAdapter(endpoint, on_state=states.append)
    try:
        adapter.read()
    except DeviceUnavailable as err:
        assert "illegal data address" in err.detail
    else:
        raise AssertionError("an exception reply must raise DeviceUnavailable")
    assert [s.online for s in states] == [False] and endpoint.closed == 1
    adapter.read()
    assert [s.online for s in states] == [False, True]


def _last_is(got: list[WeightMeasured], item_id: int) -> bool:
    return bool(got) and got[-1].item_id == item_id


def test_checkweigher_keeps_weighing_through_exception_replies() -> None:
    """Against the simulated checkweigher refusing a third of its replies: weighings go on."""
    faults = FaultProfile(refuse_rate=0.3)
    runtime = CheckweigherRuntime(CheckweigherSpec(), faults, seed=3)
    states: list[DeviceStateChanged] = []
    got: list[WeightMeasured] = []
    with served_image(runtime, faults=faults, seed=3) as (server, loop):
        endpoint = ModbusEndpoint(
            "127.0.0.1", server.port, device_id="cw", timeout_s=0.3,
            backoff_initial_s=0.02, backoff_max_s=0.1,
        )  # fmt: skip
        adapter = CheckweigherAdapter(endpoint, on_state=states.append, poll_interval_s=0.005)
        with PollThread(adapter, got.append, poll_s=0.02, max_backoff_s=0.1) as thread:
            wait_until(lambda: adapter.online is not None, 5, "first read")
            for n in range(12):
                loop.run_sync(partial(runtime.weigh, 100 + n, 1.0 + n / 10))
                wait_until(partial(_last_is, got, 100 + n), 5, f"weighing {n}")
            # polling goes on while the test looks, so the last state may be a fresh refusal:
            # what must hold is that each refusal is followed by the device online again
            wait_until(lambda: bool(states) and states[-1].online, 5, "online after a refusal")
        endpoint.close()
    assert thread.faults == 0  # every refusal became DeviceUnavailable inside the adapter
    assert any(not s.online for s in states), "no refusal was seen"
    assert any(not a.online and b.online for a, b in itertools.pairwise(states))
    assert [e.item_id for e in got][-12:] == list(range(100, 112))
