"""Sorter PLC simulator run alone: a small loop sorter inducting at a steady rate.

The PLC logic itself (encoder tracking, request ring with live deadlines, replies matched
by item_id, divert/recirculate/reject, confirmations, heartbeat, e-stop) is the line
model's; this module gives it a default geometry from a ``PlcSpec`` and serves it.
"""

from __future__ import annotations

import asyncio

from simulators.faults import FaultProfile
from simulators.line.config import ChuteConfig, InductionConfig, LineConfig, ModbusServerConfig
from simulators.line.model import LineModel
from simulators.line.runner import Endpoint, LineRunner
from simulators.modbus_sims.spec import PlcSpec

#: Where the standalone line's scanner sits, metres from induction.
SCANNER_M = 1.0
#: Spacing of the standalone line's chutes, metres.
CHUTE_PITCH_M = 1.0


def line_for(spec: PlcSpec, host: str = "127.0.0.1", port: int = 0) -> LineConfig:
    """Return the geometry of the standalone PLC's line.

    Scanner at 1 m, checkweigher and X-ray just after, the decision point
    ``scan_to_decision_m`` after the scanner, chutes 1..N every metre beyond it and the
    reject chute last; induction at a fixed ``rate_per_s``; lanes drain fast enough never
    to fill at that rate.
    """
    decision = SCANNER_M + spec.scan_to_decision_m
    chutes = [
        ChuteConfig(
            number=i,
            position_m=decision + CHUTE_PITCH_M * i,
            capacity=100,
            drain_per_h=spec.rate_per_s * 3600.0,
        )
        for i in range(1, spec.chutes + 1)
    ]
    reject_m = decision + CHUTE_PITCH_M * (spec.chutes + 1)
    chutes.append(
        ChuteConfig(
            number=spec.reject_chute,
            position_m=reject_m,
            capacity=10_000,
            drain_per_h=spec.rate_per_s * 3600.0,
        )
    )
    return LineConfig(
        name="plc",
        belt_speed_m_s=spec.belt_speed_m_s,
        scanner_m=SCANNER_M,
        checkweigher_m=SCANNER_M + 0.1 * spec.scan_to_decision_m,
        xray_m=SCANNER_M + 0.2 * spec.scan_to_decision_m,
        decision_point_m=decision,
        loop_length_m=reject_m + 2.0,
        chutes=chutes,
        reject_chute=spec.reject_chute,
        induction=InductionConfig(rate_per_h=spec.rate_per_s * 3600.0, mode="fixed", min_gap_m=0.0),
        plc=ModbusServerConfig(host=host, port=port, unit=spec.unit, word_order=spec.word_order),
    )


def build_runner(
    spec: PlcSpec,
    *,
    host: str,
    port: int,
    faults: FaultProfile,
    seed: int,
    keep_records: bool = False,
) -> LineRunner:
    """Return a runner serving the standalone PLC at host:port (port 0: any free port)."""
    line = line_for(spec, host, port)
    model = LineModel(
        line, seed=seed, keep_records=keep_records, heartbeat_s=spec.heartbeat_ms / 1000.0
    )
    return LineRunner(model, plc_at=Endpoint(host, port), faults=faults, seed=seed)


async def run_standalone(
    spec: PlcSpec, *, host: str, port: int, faults: FaultProfile, seed: int, stop: asyncio.Event
) -> LineRunner:
    """Serve the standalone PLC until ``stop`` is set; return the runner (for its stats)."""
    runner = build_runner(spec, host=host, port=port, faults=faults, seed=seed)
    await runner.run(stop)
    return runner
