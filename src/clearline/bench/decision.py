"""Decision latency through the one pipeline with a full index loaded, beside a dict lookup."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

from clearline.bench.core import BenchContext, BenchResult, peak_rss_mb, percentile
from contracts.clock import ManualClock
from contracts.facts import ParcelFacts
from contracts.statuses import XrayState
from inspection.index import DeclarationIndex
from inspection.pipeline import decide_parcel
from inspection.rules import load_rules
from simulators.sample_declarations import parcel_sets

TARGET_P99_MS = 0.2


def run(ctx: BenchContext) -> list[BenchResult]:
    """Load N parcel declarations (with their orders, payments, waybills) and time decisions."""
    n = ctx.n(1_000_000, minimum=1000)
    rules = load_rules()
    idx = DeclarationIndex()
    rss0 = peak_rss_mb()
    t0 = time.perf_counter()
    codes: list[str] = []
    weights: dict[str, float] = {}
    for i, ps in enumerate(parcel_sets(n, seed=7)):
        idx.add_all(ps.declarations())
        idx.set_status(ps.receipt.kind, ps.receipt.business_key, ps.receipt.return_status)
        codes.append(ps.inventory.logistics_no)
        weights[ps.inventory.logistics_no] = float(ps.inventory.gross_weight_kg or 0)
        if i % 100_000 == 99_999:
            ctx.progress(f"decision: {i + 1:,} of {n:,} parcels indexed")
    load_s = time.perf_counter() - t0
    rss = peak_rss_mb() - rss0
    rng = random.Random(3)
    clock = ManualClock(datetime(2026, 11, 22, tzinfo=UTC))
    samples = ctx.n(200_000, minimum=2000)
    picks = [rng.choice(codes) for _ in range(samples)]
    facts = {
        c: ParcelFacts(weight_kg=weights[c], weight_stable=True, xray=XrayState.CLEARED)
        for c in set(picks)
    }
    perf = time.perf_counter_ns
    lat: list[float] = []
    outcomes: dict[str, int] = {}
    for code in picks:
        s = perf()
        decision = decide_parcel(idx, (code,), facts[code], rules, clock).decision
        lat.append((perf() - s) / 1e6)
        outcomes[decision.outcome.value] = outcomes.get(decision.outcome.value, 0) + 1
    table = {c: i for i, c in enumerate(codes)}
    floor: list[float] = []
    for code in picks:
        s = perf()
        table.get(code)
        floor.append((perf() - s) / 1e6)
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    f50, f99 = percentile(floor, 50), percentile(floor, 99)
    details = {
        "declarations_loaded": n * 4,
        "parcel_declarations": len(idx),
        "load_seconds": round(load_s, 1),
        "index_rss_mb": round(rss, 0),
        "decisions": samples,
        "outcomes": outcomes,
        "p50_ms": round(p50, 5),
        "floor_p50_ms": round(f50, 6),
    }
    return [
        BenchResult(
            name="decision_p99_ms",
            value=round(p99, 5),
            unit="ms",
            floor_name="bare dict lookup p99",
            floor_value=round(f99, 6),
            target=f"<= {TARGET_P99_MS}",
            meets_target=p99 <= TARGET_P99_MS,
            details=details,
        ),
        BenchResult(
            name="decision_p50_ms",
            value=round(p50, 5),
            unit="ms",
            floor_name="bare dict lookup p50",
            floor_value=round(f50, 6),
            target="(reported)",
            meets_target=True,
        ),
    ]
