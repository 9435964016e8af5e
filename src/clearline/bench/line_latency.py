"""Line benchmarks against the independent peers: scan → reply latency, and the highest rate.

The sorter PLC, the checkweigher and the tunnel scanner are the peers of
``clearline.bench.peers`` (pyModbusTCP and plain sockets, written from DESIGN section 6, in a
child process of their own: development only, pyModbusTCP is a development dependency); the
real ``EdgeRuntime`` answers them from a preloaded declaration cache. Every parcel has its
codes and its weight on the line, and the edge waits for both. The PLC stamps each
destination request when it posts it (the scan) and again the moment the edge moves
``reply_head`` with that item's reply; a reply missing at the decision point is late (the
parcel goes to the reject chute).

(a) ``line_scan_to_reply_p99``: the line at 40,000 parcels/h: p50/p99/max, late replies
(target p99 <= 50 ms, none late), beside a bare pymodbus round trip on the same peer PLC.
(b) ``line_max_sustained_rate``: the rate stepped up (40 … 200 parcels/s); a step passes only
with p99 <= 50 ms, no late reply and >= 99.9 % of its parcels given their expected outcome
(a technical reject for a missing fact is a failure); the value is the highest step passed
in order (target >= 100 parcels/s), beside the bare round trips per second.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymodbus.client import ModbusTcpClient

from clearline.bench.core import BenchContext, BenchResult, percentile
from clearline.bench.line_rig import bench_broker
from clearline.bench.peers.process import Geometry
from clearline.bench.peers.rig import PeerRig, Phase
from contracts import registers as reg

#: 40,000 parcels/h in parcels/s.
LINE_RATE_PER_S = 40_000 / 3600.0
TARGET_P99_MS = 50.0
TARGET_RATE_PER_S = 100.0
TARGET_EXPECTED_SHARE = 0.999
STEP_RATES_PER_S = (40.0, 60.0, 80.0, 100.0, 120.0, 150.0, 200.0)
#: Shortest measured window of part (a) and of one rate step, seconds.
MIN_LINE_S = 10.0
MIN_STEP_S = 3.0
#: The peer line: weighed 0.3 s before the scan, decision point 1.8 s after it.
WEIGH_BEFORE_SCAN_S = 0.3
SCAN_TO_DECISION_S = 1.8
XRAY_NOTE = (
    "none on this line: the scenario has no X-ray cases and the rules require no image "
    "(images are reviewed asynchronously on a site, off the scan -> reply path)"
)


@dataclass(frozen=True, slots=True)
class LatencyPlan:
    """How long each part runs (seconds) and which rates are stepped through (parcels/s)."""

    line_s: float
    step_s: float
    rates_per_s: tuple[float, ...] = STEP_RATES_PER_S
    warmup_s: float = 5.0
    floor_reads: int = 1000

    def line_parcels(self) -> int:
        """Return the parcels of part (a)."""
        return max(1, round(LINE_RATE_PER_S * self.line_s))

    def step_parcels(self, rate: float) -> int:
        """Return the parcels of one rate step."""
        return max(1, round(rate * self.step_s))

    def parcels(self) -> int:
        """Return the scenario size that covers the warm-up, part (a) and every step."""
        warm = max(1, round(LINE_RATE_PER_S * self.warmup_s))
        return warm + self.line_parcels() + sum(self.step_parcels(r) for r in self.rates_per_s)


def plan_for(ctx: BenchContext) -> LatencyPlan:
    """Return the plan at ``ctx.scale``: 60 s at 40,000/h and 15 s per step at full scale."""
    return LatencyPlan(
        line_s=max(MIN_LINE_S, 60.0 * ctx.scale),
        step_s=max(MIN_STEP_S, 15.0 * ctx.scale),
        floor_reads=ctx.n(1000, minimum=200),
    )


def _ms(value: float) -> float:
    return round(value, 3)


@dataclass(frozen=True, slots=True)
class Step:
    """One measured phase and whether it met each criterion."""

    phase: Phase

    @property
    def p99_ms(self) -> float:
        """Return the p99 reply latency, ms (inf when nothing was answered in time)."""
        lat = self.phase.latencies_ms
        return percentile(lat, 99) if lat else math.inf

    @property
    def expected_share(self) -> float:
        """Return the share of parcels given their expected outcome on the edge's reply."""
        return self.phase.as_expected / self.phase.parcels if self.phase.parcels else 0.0

    @property
    def checks(self) -> dict[str, bool]:
        """Return each criterion: p99, nothing late, expected outcomes."""
        return {
            "p99_ok": self.p99_ms <= TARGET_P99_MS,
            "none_late": self.phase.late == 0,
            "outcomes_ok": self.expected_share >= TARGET_EXPECTED_SHARE,
        }

    @property
    def passed(self) -> bool:
        """Return True when every criterion holds."""
        return self.phase.parcels > 0 and all(self.checks.values())

    def as_json(self) -> dict[str, Any]:
        """Return the step's row: rate, latencies, late, outcomes, each criterion."""
        ph = self.phase
        lat = ph.latencies_ms
        return {
            "rate_per_s": ph.rate_per_s,
            "parcels": ph.parcels,
            "p50_ms": _ms(percentile(lat, 50)) if lat else None,
            "p99_ms": _ms(self.p99_ms) if lat else None,
            "max_ms": _ms(max(lat)) if lat else None,
            "late": ph.late,
            "as_expected": ph.as_expected,
            "expected_pct": round(100.0 * self.expected_share, 2),
            "no_weight_rejects": ph.missing_weight,
            **self.checks,
            "passed": self.passed,
            "edge_beat_max_gap_ms": ph.peer.get("edge_beat_max_gap_ms"),
            "peer_timetable_slip_p99_ms": ph.peer.get("timetable_slip_p99_ms"),
            "edge_cpu_cores": round(ph.cpu_s / ph.seconds, 2) if ph.seconds else 0.0,
        }


def bare_read_ms(port: int, reads: int, host: str = "127.0.0.1") -> list[float]:
    """Time ``reads`` bare pymodbus reads of the PLC's first read block; return ms each."""
    start, count = reg.PLC_READ_BLOCKS[0]
    client: Any = ModbusTcpClient(host, port=port, timeout=2.0, retries=0)
    if not client.connect():
        raise ConnectionError(f"cannot connect to the PLC at {host}:{port}")
    out: list[float] = []
    try:
        for _ in range(reads):
            t0 = time.perf_counter()
            rr = client.read_holding_registers(start, count=count, device_id=1)
            out.append((time.perf_counter() - t0) * 1000.0)
            if rr.isError():
                raise ConnectionError(f"the PLC refused a read of {start}+{count}: {rr}")
    finally:
        client.close()
    return out


def measure(ctx: BenchContext, plan: LatencyPlan) -> list[BenchResult]:
    """Run parts (a) and (b) on one peer line with ``plan``'s durations."""
    geometry = Geometry(
        weigh_before_scan_s=WEIGH_BEFORE_SCAN_S, scan_to_decision_s=SCAN_TO_DECISION_S
    )
    url, broker_name, broker = bench_broker()
    try:
        rig = PeerRig(
            ctx.workdir,
            parcels=plan.parcels(),
            geometry=geometry,
            broker_url=url,
            site="bench-peer-line",
        )
        with rig:
            ctx.progress(f"line: generating {plan.parcels():,} parcels, starting peers and edge")
            rig.start()
            rig.run(max(1, round(LINE_RATE_PER_S * plan.warmup_s)), LINE_RATE_PER_S)
            ctx.progress(f"line: {plan.line_s:.0f} s at 40,000 parcels/h")
            line = Step(rig.run(plan.line_parcels(), LINE_RATE_PER_S))
            floor = bare_read_ms(rig.peers.ports["plc"], plan.floor_reads)
            steps: list[Step] = []
            for rate in plan.rates_per_s:
                ctx.progress(f"line: {plan.step_s:.0f} s at {rate:g} parcels/s")
                step = Step(rig.run(plan.step_parcels(rate), rate))
                steps.append(step)
                if not step.passed:
                    break
            context = _context(rig, plan, broker_name)
    finally:
        if broker is not None:
            broker.stop()
    return [_line_result(line, floor, context), _rate_result(steps, plan, floor, context)]


def run(ctx: BenchContext) -> list[BenchResult]:
    """The registered benchmark: ``measure`` with the plan for ``ctx.scale``."""
    return measure(ctx, plan_for(ctx))


def _context(rig: PeerRig, plan: LatencyPlan, broker: str) -> dict[str, Any]:
    """What both results say about the set-up and the run's counters."""
    edge = rig.edge
    cw = edge.checkweigher
    return {
        "xray": XRAY_NOTE,
        "peers": "independent sorter PLC and checkweigher (pyModbusTCP ModbusServer) and "
        "tunnel scanner (TCP socket), written from DESIGN section 6, in a child process",
        "geometry": {
            "weigh_before_scan_s": WEIGH_BEFORE_SCAN_S,
            "scan_to_decision_s": SCAN_TO_DECISION_S,
            "induction": "fixed pitch, 1/rate",
        },
        "edge": {
            "plc_poll_interval_ms": round(edge.plc_link.poll_interval_s * 1000.0, 1),
            "requests": edge.engine.stats.requests,
            "by_outcome": dict(edge.engine.stats.by_outcome or {}),
            "decision_failures": edge.engine.stats.failures,
            "requests_lost": edge.plc_link.lost_requests,
            "plc_link": edge.cfg.plc_link,
            "weighings": cw.weighings if cw is not None else 0,
            "weighings_missed": cw.missed if cw is not None else 0,
            "heartbeat_max_gap_ms": round(edge.heartbeat.max_gap_s * 1000.0, 1),
            "reply_headroom_ms": round(edge.plc_link.headroom_ms(), 1),
            "broker": broker,
        },
        "declarations_loaded": rig.declarations,
        "warmup_s": plan.warmup_s,
        "machine": "edge in this process, peers in a child process; see docs/benchmarks.md",
    }


def _floor_json(floor: Sequence[float]) -> dict[str, Any]:
    return {
        "reads": len(floor),
        "p50_ms": _ms(percentile(floor, 50)),
        "p99_ms": _ms(percentile(floor, 99)),
    }


def _line_result(line: Step, floor: Sequence[float], context: dict[str, Any]) -> BenchResult:
    """Result (a): p99 scan → reply at 40,000 parcels/h beside the bare round trip's p99."""
    row = line.as_json()
    return BenchResult(
        name="line_scan_to_reply_p99",
        value=row["p99_ms"] if row["p99_ms"] is not None else -1.0,
        unit="ms",
        floor_name=f"bare pymodbus read of registers 0..{reg.PLC_READ_BLOCKS[0][1] - 1}, "
        "same peer PLC (p99)",
        floor_value=_ms(percentile(floor, 99)),
        target=f"<= {TARGET_P99_MS:g}",
        meets_target=line.phase.parcels > 0 and line.checks["p99_ok"] and line.checks["none_late"],
        details={
            "line_rate_per_h": 40_000,
            "seconds": round(line.phase.seconds, 2),
            **row,
            "floor": _floor_json(floor),
            **context,
        },
    )


def _rate_result(
    steps: Sequence[Step], plan: LatencyPlan, floor: Sequence[float], context: dict[str, Any]
) -> BenchResult:
    """Result (b): the highest stepped rate that passed, beside bare round trips per second."""
    best = 0.0
    for step in steps:
        if not step.passed:
            break
        best = step.phase.rate_per_s
    mean_ms = sum(floor) / len(floor)
    done = {s.phase.rate_per_s for s in steps}
    return BenchResult(
        name="line_max_sustained_rate",
        value=best,
        unit="parcels/s",
        floor_name="bare pymodbus round trips per second, one client, same peer PLC",
        floor_value=round(1000.0 / mean_ms, 1) if mean_ms > 0 else 0.0,
        target=f">= {TARGET_RATE_PER_S:g}",
        meets_target=best >= TARGET_RATE_PER_S,
        details={
            "rule": "highest step (in order) with p99 <= 50 ms, no late reply and >= 99.9 % "
            "of parcels given their expected outcome on the edge's reply",
            "step_s": plan.step_s,
            "steps": [s.as_json() for s in steps],
            "steps_skipped": [r for r in plan.rates_per_s if r not in done],
            **context,
        },
    )
