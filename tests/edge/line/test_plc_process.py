"""The PLC link in its own process, against the PLC simulator over Modbus TCP.

It answers and journals like the thread, reports a process that died and starts a new one,
leaves with an edge that is SIGKILLed, and (the reason it exists) reads every confirmation of
the 16-entry ring while the edge's interpreter is kept busy, where the thread loses some.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from clearline.bench.plc_link import measure
from devices.adapters.plc import PlcEvent
from devices.events import DestinationRequested, DeviceStateChanged, DivertConfirmed, SendToChute
from edge.config import EdgeConfig, ModbusDevice
from edge.line.engine import InboxCheck
from edge.line.plc_child import ChildSettings
from edge.line.plc_process import PlcProcessLink
from edge.line.standby import EdgeBusyError, EdgeLock
from edge.state import SafetyState
from simulators.modbus_sims.harness import running_plc
from simulators.modbus_sims.spec import PlcSpec
from tests.waiting import wait_until

SRC = str(Path(__file__).resolve().parents[3] / "src")


def _settings(port: int, store: Path | None) -> ChildSettings:
    dev = ModbusDevice(device_id="plc1", port=port, timeout_ms=300)
    return ChildSettings(
        dev, str(store) if store is not None else None, datetime.now(UTC), time.monotonic()
    )


def _gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (ended, or a zombie nobody reaped yet)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class _Engine:
    """Answers every request from a thread of its own, as the edge's engine does."""

    def __init__(self) -> None:
        self.events: queue.SimpleQueue[PlcEvent | InboxCheck] = queue.SimpleQueue()
        self.seen: list[PlcEvent | InboxCheck] = []
        self.answered: dict[int, int] = {}
        self.link: PlcProcessLink | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-engine")

    def __enter__(self) -> _Engine:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                e = self.events.get(timeout=0.05)
            except queue.Empty:
                continue
            self.seen.append(e)
            if isinstance(e, InboxCheck):
                e.done.set()  # nothing journaled here is left unhandled: the test sees all
            if isinstance(e, DestinationRequested) and self.link is not None:
                chute = 1 + e.item_id % 4
                self.answered[e.item_id] = chute
                self.link.reply(SendToChute(e.item_id, chute, 0))

    def confirmed(self) -> dict[int, int]:
        return {e.item_id: e.chute for e in self.seen if isinstance(e, DivertConfirmed)}

    def online(self) -> list[bool]:
        return [e.online for e in self.seen if isinstance(e, DeviceStateChanged)]

    def states(self) -> list[tuple[bool, str]]:
        return [(e.online, e.detail) for e in self.seen if isinstance(e, DeviceStateChanged)]


def test_answers_confirms_journals_and_beats_from_its_own_process(tmp_path: Path) -> None:
    spec = PlcSpec(rate_per_s=20.0, belt_speed_m_s=5.0, scan_to_decision_m=5.0, chutes=4)
    store = tmp_path / "state.db"
    stop = threading.Event()
    with running_plc(spec, seed=3) as plc, _Engine() as engine:
        link = PlcProcessLink(_settings(plc.port, store), engine.events.put, stop)
        engine.link = link
        link.start()
        try:
            wait_until(lambda: len(engine.answered) >= 20, 20.0, "20 requests answered")
            plc.loop.run_sync(plc.runner.model.stop_induction)
            wait_until(
                lambda: set(engine.confirmed()) >= set(engine.answered), 15.0, "all confirmed"
            )
            wait_until(lambda: link.replies_sent >= len(engine.answered), 5.0, "figures")
            child = link.pid
        finally:
            stop.set()
            link.join()
        stats = plc.loop.run_sync(lambda: plc.runner.model.stats)
        beats = plc.loop.run_sync(lambda: plc.runner.model.plc.edge_heartbeat)
        head = plc.loop.run_sync(lambda: plc.runner.model.plc.confirm_head)
    assert child is not None and child != os.getpid() and _gone(child)
    assert stats.no_answer == 0 and stats.replies_late == 0
    assert all(engine.confirmed()[i] == chute for i, chute in engine.answered.items())
    assert link.replies_failed == 0 and link.lost_confirms == 0
    assert beats > 5 and link.beat.beats > 5  # the heartbeat is written by the process
    assert engine.online() == [True]
    assert 5.0 <= link.headroom_ms() < 1000.0
    state = SafetyState(store)  # the process journaled every confirmation it read
    try:
        assert state.confirm_cursor() == head
        assert {r.item_id for r in state.inbox()} >= set(engine.answered)
    finally:
        state.close()


def test_a_dead_process_is_reported_offline_and_started_again(tmp_path: Path) -> None:
    spec = PlcSpec(rate_per_s=10.0, belt_speed_m_s=5.0, scan_to_decision_m=5.0, chutes=4)
    stop = threading.Event()
    with running_plc(spec, seed=4) as plc, _Engine() as engine:
        link = PlcProcessLink(
            _settings(plc.port, tmp_path / "state.db"), engine.events.put, stop, restart_s=0.2
        )
        engine.link = link
        link.start()
        try:
            wait_until(lambda: link.replies_sent >= 5, 20.0, "5 replies written")
            first = link.pid
            assert first is not None
            os.kill(first, signal.SIGKILL)
            wait_until(lambda: False in engine.online(), 5.0, "offline reported")
            # Online again after going offline: the last state alone may still be the first
            # process's, read before the restart's offline state is recorded.
            wait_until(lambda: engine.online()[-2:] == [False, True], 20.0, "online again")
            before = len(engine.answered)
            wait_until(lambda: len(engine.answered) >= before + 5, 10.0, "answering again")
            second = link.pid
            sent = link.replies_sent
        finally:
            stop.set()
            link.join()
    assert second is not None and second != first and _gone(first) and _gone(second)
    assert link.restarts == 1
    assert engine.online() == [True, False, True], engine.states()
    offline = [e for e in engine.seen if isinstance(e, DeviceStateChanged) and not e.online]
    assert offline[0].detail == "plc link process ended"
    # then the engine is asked to handle what the dead process journaled but never passed on
    assert isinstance(engine.seen[engine.seen.index(offline[0]) + 1], InboxCheck)
    assert sent >= 5  # the first process's replies are still counted


def test_a_silent_process_is_killed_and_started_again(tmp_path: Path) -> None:
    """A process that hangs (here: stopped by SIGSTOP) holds its pipe open; its silence counts."""
    spec = PlcSpec(rate_per_s=10.0, belt_speed_m_s=5.0, scan_to_decision_m=5.0, chutes=4)
    stop = threading.Event()
    with running_plc(spec, seed=6) as plc, _Engine() as engine:
        link = PlcProcessLink(
            _settings(plc.port, tmp_path / "state.db"),
            engine.events.put,
            stop,
            restart_s=0.2,
            stall_s=1.0,
        )
        engine.link = link
        link.start()
        try:
            wait_until(lambda: link.replies_sent >= 3, 20.0, "3 replies written")
            first = link.pid
            assert first is not None
            os.kill(first, signal.SIGSTOP)
            wait_until(lambda: link.restarts == 1, 5.0, "the silent process replaced")
            # Online again after going offline: the last state alone may still be the first
            # process's, read before the restart's offline state is recorded.
            wait_until(lambda: engine.online()[-2:] == [False, True], 20.0, "online again")
            second = link.pid
        finally:
            stop.set()
            link.join()
    assert second != first and _gone(first)
    assert engine.online() == [True, False, True], engine.states()


_EDGE = textwrap.dedent(
    """
    import sys, threading, time
    from datetime import UTC, datetime
    from pathlib import Path
    from edge.config import ModbusDevice
    from edge.line.plc_child import ChildSettings
    from edge.line.plc_process import PlcProcessLink
    from edge.line.standby import EdgeLock

    if __name__ == "__main__":
        store = Path(sys.argv[2])
        lock = EdgeLock(store)
        lock.acquire(wait=False)
        dev = ModbusDevice(device_id="plc1", port=int(sys.argv[1]), timeout_ms=300)
        settings = ChildSettings(dev, str(store / "state.db"), datetime.now(UTC), time.monotonic())
        link = PlcProcessLink(settings, lambda e: None, threading.Event())
        link.start(lock.fileno())
        while link.first_read_at is None:
            time.sleep(0.01)
        print(link.pid, flush=True)
        time.sleep(60)
    """
)


def test_the_process_ends_with_a_killed_edge_and_holds_its_lock_till_then(tmp_path: Path) -> None:
    """A SIGKILLed edge leaves no process behind that holds the PLC's connection, and its
    store's lock is free only once its PLC link process has ended too (a spare never drives
    the PLC beside it, and finds its last confirmations journaled)."""
    script = tmp_path / "killed_edge.py"
    script.write_text(_EDGE)
    store = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": SRC}
    with running_plc(PlcSpec(rate_per_s=5.0), seed=5) as plc:
        edge = subprocess.Popen(
            [sys.executable, str(script), str(plc.port), str(store)],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        spare = EdgeLock(store)
        try:
            assert edge.stdout is not None
            child = int(edge.stdout.readline())
            assert not _gone(child)
            conns = psutil.Process(child).net_connections(kind="tcp")
            assert any(c.raddr and c.raddr.port == plc.port for c in conns)
            everyone = [p.pid for p in psutil.Process(edge.pid).children(recursive=True)]
            assert child in everyone
            os.kill(child, signal.SIGSTOP)  # held up: it cannot notice the edge's end yet
            edge.send_signal(signal.SIGKILL)
            edge.wait(5.0)
            with pytest.raises(EdgeBusyError):
                spare.acquire(wait=False)
            os.kill(child, signal.SIGCONT)
            wait_until(lambda: _gone(child), 2.0, "the PLC link process ended")
            wait_until(lambda: all(map(_gone, everyone)), 5.0, "every process of the edge ended")
            spare.acquire(wait=False)
            assert spare.held
        finally:
            spare.release()
            edge.kill()
            edge.wait(5.0)


def test_the_config_chooses_the_link() -> None:
    base = {
        "edge_id": "e1",
        "line": "l1",
        "plc": {"device_id": "plc1", "port": 5020},
        "chutes": {
            "release_by_route": {"*": 1},
            "inspect": 10,
            "hold": 20,
            "return": 30,
            "reject": 99,
        },
    }
    assert EdgeConfig.model_validate(base).plc_link == "process"
    assert EdgeConfig.model_validate({**base, "plc_link": "thread"}).plc_link == "thread"
    with pytest.raises(ValueError, match="plc_link"):
        EdgeConfig.model_validate({**base, "plc_link": "fork"})


@pytest.mark.slow
def test_a_busy_interpreter_delays_the_thread_but_not_the_process() -> None:
    """100 parcels/s (the ring holds 0.16 s), 10 threads of pure-Python work beside the link.

    The thread link is the control: under this load its polls must come late (else the load
    proves nothing). The process link must read every confirmation the PLC posted and leave no
    answered parcel unconfirmed. The answers themselves still come from the busy interpreter
    (the engine's stand-in runs there), so how many are in time is not the link's to keep.
    """
    thread = measure("thread", rate_per_s=100.0, seconds=6.0, hogs=10)
    proc = measure("process", rate_per_s=100.0, seconds=6.0, hogs=10)
    assert thread.max_poll_gap_ms >= 150.0 or thread.lost_confirms > 0, thread
    assert proc.inducted > 500 and proc.answered >= 100, proc
    assert proc.lost_confirms == 0 and proc.unconfirmed == 0, proc
    assert proc.confirms_read == proc.confirms_posted, proc
    assert proc.max_poll_gap_ms < thread.max_poll_gap_ms, (proc, thread)


def test_the_wiring_follows_plc_link(tmp_path: Path) -> None:
    """``process``: no adapter or heartbeat thread in the edge; ``thread``: both, and a process
    started ahead is ended unused."""
    from contracts.clock import SteadyClock
    from edge.line.plc_link import PlcLink
    from edge.line.plc_process import WarmProcess
    from edge.line.plc_wiring import wire_plc

    base = EdgeConfig.model_validate(
        {
            "edge_id": "e1",
            "line": "l1",
            "store_dir": str(tmp_path),
            "plc": {"device_id": "plc1", "port": 5020},
            "chutes": {
                "release_by_route": {"*": 1}, "inspect": 10, "hold": 20, "return": 30, "reject": 99
            },
        }
    )  # fmt: skip
    state = SafetyState(tmp_path / "state.db")
    stop = threading.Event()
    try:
        proc = wire_plc(base, state, SteadyClock(), lambda e: None, stop, alive=lambda: True)
        assert isinstance(proc.link, PlcProcessLink) and proc.beat is proc.link.beat
        assert proc.adapter is None and proc.beat_thread is None
        assert proc.link.settings.state_path == str(tmp_path / "state.db")
        warm = WarmProcess()
        thread = wire_plc(
            base.model_copy(update={"plc_link": "thread"}),
            state,
            SteadyClock(),
            lambda e: None,
            stop,
            alive=lambda: True,
            warm=warm,
        )
        assert isinstance(thread.link, PlcLink) and thread.adapter is thread.link.adapter
        assert thread.beat_thread is not None and thread.beat is thread.beat_thread
        assert warm.process.pid is not None and _gone(warm.process.pid)
    finally:
        state.close()


def _thread_nices(pid: int) -> set[int]:
    """The nice value of every thread of ``pid`` (field 19 of /proc/PID/task/TID/stat)."""
    nices = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        nices.add(int(stat.rsplit(")", 1)[1].split()[16]))
    return nices


def test_the_process_and_all_its_threads_run_at_the_configured_priority(tmp_path: Path) -> None:
    spec = PlcSpec(rate_per_s=20.0, belt_speed_m_s=5.0, scan_to_decision_m=5.0, chutes=4)
    stop = threading.Event()
    # a higher nice value is allowed to anyone; a lower one needs CAP_SYS_NICE (see below)
    nice = os.getpriority(os.PRIO_PROCESS, 0) + 3
    with running_plc(spec, seed=3) as plc, _Engine() as engine:
        settings = dataclasses.replace(_settings(plc.port, tmp_path / "state.db"), nice=nice)
        link = PlcProcessLink(settings, engine.events.put, stop)
        engine.link = link
        link.start()
        try:
            wait_until(lambda: len(engine.answered) >= 5, 20.0, "5 requests answered")
            child = link.pid
            assert child is not None
            assert _thread_nices(child) == {nice}
        finally:
            stop.set()
            link.join()


def test_a_priority_the_process_may_not_take_is_refused_not_fatal() -> None:
    code = (
        "import os; from edge.line.plc_child import set_priority; "
        "before = os.getpriority(os.PRIO_PROCESS, 0); ok = set_priority(-5); "
        "print(ok, before, os.getpriority(os.PRIO_PROCESS, 0))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    ok, before, after = out[0] == "True", int(out[1]), int(out[2])
    if ok:  # privileged (root or CAP_SYS_NICE): the lower value took effect
        assert after == -5
    else:
        assert after == before
