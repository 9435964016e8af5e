"""Held-out evaluation of the fail-safe pre-screen on physics-based phantoms.

Machine profiles and seeds are split: the rules were set while looking at the tuning
profiles (``machines.json``) on tuning seeds (below ``HELD_OUT_SEED``); the figures here
come from seeds at or above ``HELD_OUT_SEED`` only, on every profile, each calibrated from
its own step-wedge images. The phantoms come from ``simulators.xray.phantom`` (xraydb
attenuation and object geometry); nothing there reads a detector setting.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from devices.xray_image import encode_png
from inspection.decision import XrayState
from inspection.model import Declaration, DocKind, GoodsLine
from inspection.xray.calibration import BASES, Calibration, calibrate
from inspection.xray.screen import ScreenConfig, ScreenResult, screen
from simulators.xray.phantom import Phantom, render_phantom, render_wedge
from simulators.xray.physics import MachineProfile
from simulators.xray.threats import THREATS

#: First seed of the held-out set; tuning used seeds below it.
HELD_OUT_SEED = 1_000_000


def declaration_of(phantom: Phantom, key: str) -> Declaration:
    """The phantom's truthful postal declaration (its threat, if any, is not declared)."""
    goods = phantom.goods or (("4901990000", "printed books 图书"),)
    lines = tuple(GoodsLine(gnum=i, hs_code=hs, name=name, qty=Decimal(1))
                  for i, (hs, name) in enumerate(goods, 1))  # fmt: skip
    return Declaration(kind=DocKind.POSTAL, message_type="CN22", business_key=key, lines=lines,
                       category="sale_of_goods")  # fmt: skip


def machine_calibration(profile: MachineProfile, seed: int = 0) -> Calibration:
    """Calibrate ``profile`` from its own step-wedge images."""
    wedges = {}
    for b in BASES:
        img = render_wedge(profile, b, seed)
        wedges[b] = (img.low, img.high)
    return calibrate(profile.name, wedges)


@dataclass
class Tally:
    """Counts of one machine profile."""

    threats: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    clean: list[str] = field(default_factory=list)
    scores_threat: list[float] = field(default_factory=list)
    scores_clean: list[float] = field(default_factory=list)
    seconds: float = 0.0
    images: int = 0


def run_profile(
    profile: MachineProfile,
    seeds: range,
    threat_classes: tuple[str, ...] = tuple(THREATS),
    config: ScreenConfig | None = None,
    missed: list[tuple[str, int, str, ScreenResult]] | None = None,
) -> Tally:
    """Screen a clean and one threat parcel of every class per seed on ``profile``."""
    cal = machine_calibration(profile)
    cfg = config or ScreenConfig()
    out = Tally()
    for seed in seeds:
        for threat in (None, *threat_classes):
            ph = render_phantom(profile, seed, threat)
            png = encode_png(ph.image, 0)
            t0 = time.perf_counter()
            res = screen(png, cal, declaration_of(ph, f"{profile.name}-{seed}"), cfg)
            out.seconds += time.perf_counter() - t0
            out.images += 1
            if threat is None:
                out.clean.append(res.state.value)
                out.scores_clean.append(res.top_unexplained)
            else:
                out.threats[threat].append(res.state.value)
                out.scores_threat.append(res.top_unexplained)
            wrong = (threat is None) == (res.state is not XrayState.CLEARED)
            if missed is not None and wrong:
                missed.append((threat or "clean", seed, profile.name, res))
    return out
