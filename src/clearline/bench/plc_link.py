"""PLC link under a busy interpreter: are confirmations read before the 16-entry ring turns?

The sorter PLC simulator runs in a process of its own (as a real PLC would: nothing the edge
does slows it) and inducts at ``rate_per_s``. In this process an engine stand-in answers every
destination request on its own thread, as the edge's engine does, while ``hogs`` threads run
pure-Python busy loops that keep the interpreter lock (the edge's engine, sync, outbox and
pre-screen do the same work in Python). The PLC link runs either as a thread of this process
(``thread``) or in a process of its own (``process``, ``edge.line.plc_process``), with the
thread switch interval the edge sets (1 ms). Afterwards the PLC's own records say which parcels
it had an answer for; every one of them must come back as a confirmation.

Figures: confirmations overwritten in the ring before they were read (``lost_confirms``),
answered parcels never confirmed, parcels the PLC had to reject unanswered, and the reply time
the PLC saw (request posted to reply taken).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Literal

from clearline.bench.core import BenchContext, BenchResult, percentile
from clearline.demo.site_run import wait_until

log = logging.getLogger(__name__)

Mode = Literal["thread", "process"]
#: The PLC simulator's geometry: 5 m/s, decision point 5 m after the scanner (1 s to answer).
BELT_SPEED_M_S = 5.0
SCAN_TO_DECISION_M = 5.0
CHUTES = 4


@dataclass(frozen=True, slots=True)
class LinkRun:
    """The figures of one run."""

    mode: str
    rate_per_s: float
    seconds: float
    hogs: int
    inducted: int
    answered: int  # parcels the PLC took an answer for
    confirms_posted: int  # confirm ring entries the PLC wrote
    confirms_read: int  # confirmations that reached the engine stand-in
    lost_confirms: int  # ring entries overwritten before the link read them
    unconfirmed: int  # answered parcels whose confirmation never reached the engine
    no_answer: int  # parcels the PLC rejected unanswered
    replies_late: int
    reply_p50_ms: float  # request posted -> reply taken, as the PLC saw it
    reply_p99_ms: float
    reply_max_ms: float
    max_poll_gap_ms: float  # longest time between two polls of the PLC
    max_journal_ms: float  # longest commit of a cycle's confirmations
    load_avg_1m: float  # ``os.getloadavg()`` at the end of the run


def _serve_plc(conn: Connection, rate_per_s: float, seed: int) -> None:
    """Run the PLC simulator until told to stop induction; send back what it recorded."""
    from simulators.modbus_sims.harness import running_plc
    from simulators.modbus_sims.spec import PlcSpec

    spec = PlcSpec(
        rate_per_s=rate_per_s,
        belt_speed_m_s=BELT_SPEED_M_S,
        scan_to_decision_m=SCAN_TO_DECISION_M,
        chutes=CHUTES,
    )
    with running_plc(spec, seed=seed, induct=False) as plc:
        model = plc.runner.model
        conn.send(plc.port)
        conn.recv()  # the link is up: start the belt
        plc.loop.run_sync(lambda: model.start(True))
        conn.recv()  # the run is over: stop induction, let the belt run empty
        plc.loop.run_sync(model.stop_induction)
        until = time.monotonic() + 10.0
        while time.monotonic() < until:
            stats = plc.loop.run_sync(lambda: model.stats)
            if stats.finished == stats.inducted:
                break
            time.sleep(0.05)
        time.sleep(0.5)  # the last confirmations are read
        records, stats, head = plc.loop.run_sync(
            lambda: (list(model.records), model.stats, model.plc.confirm_head)
        )
    answered = [r.item_id for r in records if r.answered]
    latencies = [r.reply_latency_s for r in records if r.reply_latency_s is not None]
    conn.send((stats.inducted, answered, head, stats.no_answer, stats.replies_late, latencies))


def _spin(stop: threading.Event) -> None:
    """Keep the interpreter lock busy with pure-Python work until ``stop``."""
    while not stop.is_set():
        x = 0
        for i in range(2000):
            x += i * i


def measure(
    mode: Mode, *, rate_per_s: float = 80.0, seconds: float = 8.0, hogs: int = 3, seed: int = 1
) -> LinkRun:
    """Run the PLC simulator and a PLC link beside ``hogs`` busy threads; return the figures."""
    from devices.adapters.plc import PlcAdapter
    from devices.events import DestinationRequested, DivertConfirmed, SendToChute
    from edge.config import ModbusDevice
    from edge.line.heartbeat import Heartbeat
    from edge.line.plc_child import ChildSettings, endpoint_of
    from edge.line.plc_link import PlcLink
    from edge.line.plc_process import PlcProcessLink
    from edge.state import SafetyState

    ctx = multiprocessing.get_context("spawn")
    mine, theirs = ctx.Pipe()
    sim = ctx.Process(target=_serve_plc, args=(theirs, rate_per_s, seed), daemon=True)
    sim.start()
    theirs.close()
    port = mine.recv()
    dev = ModbusDevice(device_id="plc1", port=port, timeout_ms=300)
    stop, busy = threading.Event(), threading.Event()
    events: queue.SimpleQueue[object] = queue.SimpleQueue()
    confirmed: set[int] = set()
    link: PlcLink | PlcProcessLink
    beat: Heartbeat | None = None
    state: SafetyState | None = None
    with tempfile.TemporaryDirectory(prefix="clearline-plc-link-") as tmp:
        store = Path(tmp) / "state.db"
        if mode == "process":  # polls, replies, journal and heartbeat in their own process
            settings = ChildSettings(dev, str(store), datetime.now(UTC), time.monotonic())
            link = PlcProcessLink(settings, events.put, stop)
        else:  # as the edge runs them in threads: the same journal, a heartbeat thread
            state = SafetyState(store)
            adapter = PlcAdapter(endpoint_of(dev), beat_in_cycle=False, confirm_from=None)
            link = PlcLink(adapter, events.put, stop, journal=state.journal_read)
            beat = Heartbeat(endpoint_of(dev), stop)

        def engine() -> None:  # answers every request at once, as the edge's engine thread
            while not stop.is_set():
                try:
                    e = events.get(timeout=0.05)
                except queue.Empty:
                    continue
                if isinstance(e, DestinationRequested):
                    link.reply(SendToChute(e.item_id, 1 + e.item_id % CHUTES, 0))
                elif isinstance(e, DivertConfirmed):
                    confirmed.add(e.item_id)

        switch = sys.getswitchinterval()
        sys.setswitchinterval(0.001)  # as the edge runs
        threads = [threading.Thread(target=engine, name="bench-engine")]
        threads += [
            threading.Thread(target=_spin, args=(busy,), name=f"bench-hog-{i}") for i in range(hogs)
        ]
        try:
            link.start()
            if beat is not None:
                beat.start()
            for t in threads:
                t.start()
            if not wait_until(lambda: link.first_read_at is not None, 30.0, 0.02):
                raise TimeoutError("the PLC link did not read the PLC")
            mine.send("go")
            time.sleep(seconds)
            mine.send("stop")
            inducted, answered, posted, no_answer, late, latencies = mine.recv()
            gaps = (link.max_poll_gap_s, link.max_journal_s)
            busy.set()  # the run is over: let the engine take what the link has passed on
            wait_until(lambda: len(confirmed) >= posted, 5.0, 0.02)
        finally:
            busy.set()
            stop.set()
            for t in threads:
                t.join(5.0)
            link.join()
            if beat is not None:
                beat.join()
            if isinstance(link, PlcLink):
                link.adapter.endpoint.close()
            if state is not None:
                state.close()
            sys.setswitchinterval(switch)
            sim.join(5.0)
            mine.close()
    ms = sorted(1000.0 * v for v in latencies)
    return LinkRun(
        mode=mode,
        rate_per_s=rate_per_s,
        seconds=seconds,
        hogs=hogs,
        inducted=inducted,
        answered=len(answered),
        confirms_posted=posted,
        confirms_read=len(confirmed),
        lost_confirms=link.lost_confirms,
        unconfirmed=len(set(answered) - confirmed),
        no_answer=no_answer,
        replies_late=late,
        reply_p50_ms=round(percentile(ms, 50), 1),
        reply_p99_ms=round(percentile(ms, 99), 1),
        reply_max_ms=round(ms[-1], 1) if ms else float("nan"),
        max_poll_gap_ms=round(1000.0 * gaps[0], 1),
        max_journal_ms=round(1000.0 * gaps[1], 1),
        load_avg_1m=round(os.getloadavg()[0], 2),
    )


#: The load of ``clearline bench --only plc_link``: parcels/s and busy threads.
BENCH_RATE_PER_S = 100.0
BENCH_HOGS = 8


def run(ctx: BenchContext) -> list[BenchResult]:
    """Both modes under the same load; the process link must lose no confirmation."""
    seconds = max(3.0, 20.0 * ctx.scale)
    runs = {
        m: measure(m, rate_per_s=BENCH_RATE_PER_S, seconds=seconds, hogs=BENCH_HOGS)
        for m in ("thread", "process")
    }
    for r in runs.values():
        ctx.progress(f"plc_link {r.mode}: {asdict(r)}")
    proc, thread = runs["process"], runs["thread"]
    ring_ms = 16 * 1000.0 / BENCH_RATE_PER_S  # how long the confirm ring holds an entry
    details = {m: asdict(r) for m, r in runs.items()}
    return [
        BenchResult(
            name="plc_link_unconfirmed",
            value=float(proc.unconfirmed + proc.lost_confirms),
            unit="confirmations",
            floor_name="thread link, same load",
            floor_value=float(thread.unconfirmed + thread.lost_confirms),
            target="<= 0",
            meets_target=proc.unconfirmed == 0 and proc.lost_confirms == 0,
            details=details,
        ),
        BenchResult(
            name="plc_link_max_poll_gap_ms",
            value=proc.max_poll_gap_ms,
            unit="ms",
            floor_name="thread link, same load",
            floor_value=thread.max_poll_gap_ms,
            target=f"< {ring_ms:.0f}",
            meets_target=proc.max_poll_gap_ms < ring_ms,
        ),
    ]


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    mode: Mode = "process" if "process" in sys.argv[1:] else "thread"
    args = [a for a in sys.argv[1:] if a not in ("thread", "process")]
    figures = measure(
        mode,
        rate_per_s=float(args[0]) if args else 80.0,
        seconds=float(args[1]) if len(args) > 1 else 8.0,
        hogs=int(args[2]) if len(args) > 2 else 3,
    )
    sys.stdout.write(f"{asdict(figures)}\n")
