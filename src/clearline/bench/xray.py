"""X-ray pre-screen: single-core throughput beside a bare PNG decode, and the evaluation."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from clearline.bench import xray_eval
from clearline.bench.core import BenchContext, BenchResult
from inspection.xray.evaluate import CLEAN, Case, Table, evaluate
from inspection.xray.prescreen import PrescreenConfig, prescreen
from simulators.xray import GeneratorConfig, XrayGenerator

TARGET_IMAGES_S = 20.0
TARGET_DETECTION = 0.95
TARGET_FALSE_ALARM = 0.15
TARGET_AUTO_CLEAR = 0.5

#: Where the plot also goes, relative to the current directory.
PLOT_PATH = Path("bench-results") / "xray-eval.png"


def _throughput(ctx: BenchContext) -> BenchResult:
    """Images/s of the whole pre-screen (PNG in, result out) on one core."""
    n_images = ctx.n(40, minimum=4)
    rounds = ctx.n(5, minimum=1)
    gen = XrayGenerator(GeneratorConfig(machine_seed=3))
    groups = ("clean", "clean", "clean", *xray_eval.THREAT_CLASSES)
    samples = [
        xray_eval.make_sample(gen, groups[i % len(groups)], 50_000 + i) for i in range(n_images)
    ]
    cfg = PrescreenConfig()
    prescreen(samples[0].png, samples[0].declaration, cfg)  # warm caches
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        t0 = time.perf_counter()
        for _ in range(rounds):
            for s in samples:
                prescreen(s.png, s.declaration, cfg)
        full = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(rounds):
            for s in samples:
                cv2.imdecode(np.frombuffer(s.png, np.uint8), cv2.IMREAD_UNCHANGED)
        bare = time.perf_counter() - t0
    finally:
        cv2.setNumThreads(threads)
    done = n_images * rounds
    rate, floor = done / full, done / bare
    return BenchResult(
        name="xray_prescreen_images_per_s",
        value=round(rate, 1),
        unit="images/s",
        floor_name="bare cv2.imdecode of the same PNGs",
        floor_value=round(floor, 1),
        target=f">= {TARGET_IMAGES_S:g}",
        meets_target=rate >= TARGET_IMAGES_S,
        details={
            "images": n_images,
            "rounds": rounds,
            "width_px": gen.config.width_px,
            "height_px": gen.config.height_px,
            "png_compression": 0,
            "cv2_threads": 1,
            "ms_per_image": round(1000.0 * full / done, 2),
            "decode_ms_per_image": round(1000.0 * bare / done, 2),
        },
    )


def _bar(img: np.ndarray, x: int, y0: int, value: float, colour: tuple[int, int, int]) -> None:
    """One bar of height ``value`` (0..1) standing on ``y0``."""
    top = y0 - round(300 * max(0.0, min(1.0, value)))
    cv2.rectangle(img, (x, top), (x + 44, y0), colour, -1)
    cv2.putText(img, f"{value:.2f}", (x, top - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)


def plot(table: Table, path: Path) -> Path:
    """Draw per-class detection rates and the clean false-alarm/auto-clear bars as a PNG."""
    threats = [r for r in table.rows if r.group != "clean"]
    width = 120 + 90 * (len(threats) + 3)
    img = np.full((420, width, 3), 255, np.uint8)
    base = 360
    cv2.line(img, (40, base), (width - 20, base), (0, 0, 0), 1)
    for frac, label in ((0.95, "0.95"), (0.5, "0.5"), (0.15, "0.15")):
        y = base - round(300 * frac)
        cv2.line(img, (40, y), (width - 20, y), (190, 190, 190), 1)
        cv2.putText(img, label, (4, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (90, 90, 90), 1)
    x = 60
    for row in threats:
        _bar(img, x, base, row.detection_rate, (60, 140, 40))
        cv2.putText(img, row.group, (x - 4, base + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        x += 90
    x += 30
    for label, value, colour in (
        ("clean FA", table.false_alarm_rate, (40, 40, 200)),
        ("clean auto", table.auto_clear_rate, (200, 120, 30)),
    ):
        _bar(img, x, base, value, colour)
        cv2.putText(img, label, (x - 6, base + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        x += 90
    per_class = threats[0].n if threats else 0
    title = f"X-ray pre-screen: detection per class, clean false alarm, auto-clear (n={per_class})"
    cv2.putText(img, title, (10, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):
        raise OSError(f"could not write the plot to {path}")
    return path


#: Metal mass (g, steel equivalent) from which the naive floor rule alarms.
FLOOR_METAL_G = 20.0


def naive_alarm(case: Case) -> bool:
    """The floor rule: alarm on any metal or any impenetrable pixel, nothing else."""
    return case.result.metal_mass_g >= FLOOR_METAL_G or case.result.shares.impenetrable > 0


def _floor(cases: list[Case]) -> tuple[float, float, float]:
    """Detection, false-alarm and clear rates of the naive metal rule on the same parcels."""
    threats = [c for c in cases if c.group != CLEAN]
    clean = [c for c in cases if c.group == CLEAN]
    det = sum(naive_alarm(c) for c in threats) / max(1, len(threats))
    fa = sum(naive_alarm(c) for c in clean) / max(1, len(clean))
    return det, fa, 1.0 - fa


def _evaluation(ctx: BenchContext) -> list[BenchResult]:
    """Detection, false-alarm and auto-clear rates on seeded simulator parcels."""
    n = ctx.n(200, minimum=4)
    t0 = time.perf_counter()
    cases = xray_eval.cases(n, seed=1, machine_seed=1)
    table = evaluate(cases)
    seconds = time.perf_counter() - t0
    floor_det, floor_fa, floor_clear = _floor(cases)
    plots = [plot(table, ctx.workdir / "xray-eval.png"), plot(table, PLOT_PATH)]
    details = {
        "per_class": table.as_dict()["rows"],
        "parcels_per_class": n,
        "machine_seed": 1,
        "plots": [str(p) for p in plots],
        "seconds": round(seconds, 1),
    }
    floor = f"naive rule: alarm on any metal >= {FLOOR_METAL_G:g} g or any impenetrable pixel"
    return [
        BenchResult(
            name="xray_detection_rate",
            value=round(table.detection_rate, 4),
            unit="share of threat parcels",
            floor_name=floor,
            floor_value=round(floor_det, 4),
            target=f">= {TARGET_DETECTION}",
            meets_target=table.detection_rate >= TARGET_DETECTION,
            details=details,
        ),
        BenchResult(
            name="xray_false_alarm_rate",
            value=round(table.false_alarm_rate, 4),
            unit="share of clean parcels SUSPECT",
            floor_name=floor,
            floor_value=round(floor_fa, 4),
            target=f"<= {TARGET_FALSE_ALARM}",
            meets_target=table.false_alarm_rate <= TARGET_FALSE_ALARM,
        ),
        BenchResult(
            name="xray_auto_clear_rate",
            value=round(table.auto_clear_rate, 4),
            unit="share of clean parcels auto-cleared",
            floor_name=floor,
            floor_value=round(floor_clear, 4),
            target=f">= {TARGET_AUTO_CLEAR}",
            meets_target=table.auto_clear_rate >= TARGET_AUTO_CLEAR,
        ),
    ]


def run(ctx: BenchContext) -> list[BenchResult]:
    """Throughput on 1024-wide images on one core, then the evaluation table and its plot."""
    ctx.progress("xray: throughput")
    results = [_throughput(ctx)]
    ctx.progress("xray: evaluation")
    results += _evaluation(ctx)
    return results
