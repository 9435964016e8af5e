"""Line-model benchmark: simulated seconds per wall second beside a bare event-loop floor.

The line model must run one simulated hour of a 15,000 parcels/h line in under five
minutes on two cores, i.e. at least 12 simulated seconds per wall second. The floor is
the same number of events pushed through a bare ``heapq`` loop with a no-op callback:
what the simulation would cost if every event did nothing.
"""

from __future__ import annotations

import heapq
import time

from clearline.bench.core import BenchContext, BenchResult, peak_rss_mb
from simulators.line.config import ChuteConfig, InductionConfig, LineConfig
from simulators.line.model import LineModel
from simulators.line.responder import ScriptedEdge, round_robin

#: Required simulated seconds per wall second (one hour in five minutes).
TARGET_SPEEDUP = 12.0
RATE_PER_H = 15_000.0


def bench_line() -> LineConfig:
    """Return the benchmark's line: 2 m/s loop sorter, 10 chutes and a reject chute."""
    chutes = [
        ChuteConfig(number=n, position_m=12.0 + 2.0 * n, capacity=40, drain_per_h=2500)
        for n in range(1, 11)
    ]
    chutes.append(ChuteConfig(number=99, position_m=40.0, capacity=10_000, drain_per_h=5000))
    return LineConfig(
        name="bench",
        belt_speed_m_s=2.0,
        scanner_m=3.0,
        checkweigher_m=4.5,
        xray_m=6.0,
        decision_point_m=12.0,
        loop_length_m=60.0,
        chutes=chutes,
        reject_chute=99,
        induction=InductionConfig(rate_per_h=RATE_PER_H),
    )


def _noop() -> None:
    """The floor's event: nothing."""


def bare_loop_rate(steps: int) -> float:
    """Return heap events per wall second for ``steps`` no-op events (push, pop, call)."""
    heap: list[tuple[float, int, object]] = []
    t0 = time.perf_counter()
    for i in range(steps):
        heapq.heappush(heap, (i * 0.01, i, _noop))
    while heap:
        _, _, fn = heapq.heappop(heap)
        fn()  # type: ignore[operator]
    elapsed = time.perf_counter() - t0
    return steps / elapsed if elapsed > 0 else float("inf")


def run(ctx: BenchContext) -> list[BenchResult]:
    """Simulate ``ctx.scale`` hours of the bench line with a scripted edge answering."""
    from simulators.modbus_sims.checkweigher import CheckweigherRuntime

    sim_s = max(60.0, 3600.0 * ctx.scale)
    model = LineModel(bench_line(), seed=1, checkweigher=CheckweigherRuntime())
    edge = ScriptedEdge(model, round_robin(list(range(1, 11))))
    ctx.progress(f"line model: {sim_s:.0f} simulated seconds at {RATE_PER_H:.0f} parcels/h")
    t0 = time.perf_counter()
    model.start()
    model.run_for(sim_s)
    wall = time.perf_counter() - t0
    steps = model.core.steps
    speedup = sim_s / wall
    floor_speedup = sim_s / (steps / bare_loop_rate(steps))
    stats = model.stats
    return [
        BenchResult(
            name="line_model_speedup",
            value=round(speedup, 2),
            unit="simulated s per wall s",
            floor_name="bare heapq event loop, same event count",
            floor_value=round(floor_speedup, 2),
            target=f">= {TARGET_SPEEDUP:g}",
            meets_target=speedup >= TARGET_SPEEDUP,
            details={
                "simulated_s": sim_s,
                "wall_s": round(wall, 3),
                "events": steps,
                "parcels": stats.inducted,
                "finished": stats.finished,
                "on_belt": len(model.items),
                "answered_in_time": stats.answered_in_time,
                "no_answer": stats.no_answer,
                "recirculated": stats.recirculated,
                "requests_lost_by_edge": edge.lost,
                "hour_wall_s_estimate": round(3600.0 / speedup, 1),
                "peak_rss_mb": round(peak_rss_mb(), 1),
            },
        )
    ]
