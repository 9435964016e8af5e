"""Benchmark ``xray_heldout``: the fail-safe pre-screen on held-out physics-based phantoms.

Per machine profile (tuning and held-out ones alike) the machine is calibrated from its
own step wedges, then one clean parcel and one parcel of every threat class are screened
per held-out seed. Reported per profile: threats auto-cleared (target 0), threats flagged
(≥ 95 %), false alarms (≤ 15 %), clean auto-cleared (≥ 80 %), images/s on one core
(≥ 20); per class in the details, with the threshold curve, written as data and as an
SVG to ``bench-results/xray-heldout-curve.json`` and ``bench-results/xray-heldout.svg``;
why clean parcels were flagged (parcels per kind of unexplained finding) in the details and
as a bar chart, ``bench-results/xray-heldout-alarms.svg``; the goods those findings lay over
(from the phantoms' truth) likewise, ``bench-results/xray-heldout-goods.svg``.
The floor is the bare PNG decode of an image of the same size.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np

from clearline.bench.core import BenchContext, BenchResult
from clearline.bench.xray_phys import (
    HELD_OUT_SEED,
    curve,
    figures,
    run_profile,
    svg_alarms,
    svg_plot,
)
from simulators.xray.physics import MachineProfile, load_profiles, profile_split

#: Where the plot and its data are also written (relative to the current directory).
PLOT_DIR = Path("bench-results")


def run(ctx: BenchContext) -> list[BenchResult]:
    """Screen held-out phantoms on every profile and report the targets per profile."""
    seeds = range(HELD_OUT_SEED, HELD_OUT_SEED + ctx.n(40, 2))
    tuning, held_out = profile_split()
    profiles = load_profiles()
    results: list[BenchResult] = []
    curves: dict[str, list[tuple[float, float, float]]] = {}
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # images/s per core: OpenCV's own threads would use the other core
    try:
        for name in (*tuning, *held_out):
            results.append(_profile(ctx, profiles[name], seeds, name in tuning, curves))
    finally:
        cv2.setNumThreads(threads)
    named = {r.name.removeprefix("xray_heldout_"): r.details for r in results}
    clean = {name: d["clean_images"] for name, d in named.items()}
    alarms = svg_alarms(
        {name: d["false_alarm_causes"]["parcels_with_kind"] for name, d in named.items()},
        clean,
    )
    goods = svg_alarms(
        {
            name: {g: c["flagged_over_it"] for g, c in d["false_alarm_goods"].items()}
            for name, d in named.items()
        },
        clean,
        "clean parcels flagged, by the goods under an unexplained finding",
    )
    for folder in (ctx.workdir, PLOT_DIR):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "xray-heldout.svg").write_text(svg_plot(curves), "utf-8")
        (folder / "xray-heldout-curve.json").write_text(json.dumps(curves), "utf-8")
        (folder / "xray-heldout-alarms.svg").write_text(alarms, "utf-8")
        (folder / "xray-heldout-goods.svg").write_text(goods, "utf-8")
    return results


def _profile(
    ctx: BenchContext,
    profile: MachineProfile,
    seeds: range,
    tuning: bool,
    curves: dict[str, list[tuple[float, float, float]]],
) -> BenchResult:
    """Screen one profile's phantoms; add its threshold curve to ``curves``."""
    name = profile.name
    ctx.progress(f"xray held-out: {name}, {len(seeds)} seeds")
    tally = run_profile(profile, seeds)
    fig = figures(tally)
    curves[name] = curve(tally)
    ok = (
        fig["threats_auto_cleared"] == 0
        and fig["detection"] >= 0.95
        and fig["false_alarm"] <= 0.15
        and fig["clean_auto_cleared"] >= 0.80
        and fig["images_per_s"] >= 20
    )
    fig["profile_set"] = "tuning" if tuning else "held-out"
    fig["seeds"] = [seeds.start, seeds.stop]
    fig["curve"] = curves[name]
    return BenchResult(
        name=f"xray_heldout_{name}",
        value=fig["clean_auto_cleared"],
        unit="share of clean parcels auto-cleared",
        floor_name="bare PNG decode, images/s",
        floor_value=_decode_floor(profile),
        target="0 threats cleared, >=0.95 flagged, <=0.15 false alarms, "
        ">=0.80 auto-cleared, >=20 images/s",
        meets_target=ok,
        details=fig,
    )


def _decode_floor(profile: MachineProfile) -> float:
    """Bare 16-bit PNG decodes per second of an image of the profile's size."""
    img = np.zeros((2 * profile.height_px, profile.width_px), np.uint16)
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 0])
    n, t0 = 20, time.perf_counter()
    for _ in range(n):
        cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return round(n / (time.perf_counter() - t0), 1) if ok else 0.0
