"""Held-out X-ray benchmark: registration, figures, threshold curve and its SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from clearline.bench.cli import registry
from clearline.bench.xray_heldout import run
from clearline.bench.xray_phys import HELD_OUT_SEED, Tally, curve, figures, svg_plot


def tally() -> Tally:
    t = Tally()
    t.threats["knife"] = ["SUSPECT", "SUSPECT", "CLEARED"]
    t.threats["gun"] = ["SUSPECT"]
    t.clean = ["CLEARED", "CLEARED", "SUSPECT", "PENDING"]
    t.scores_threat = [0.9, 0.6, 0.3, 1.0]
    t.scores_clean = [0.1, 0.0, 0.7, 0.4]
    t.images, t.seconds = 8, 0.4
    return t


def test_registered() -> None:
    assert registry()["xray_heldout"] is run
    assert HELD_OUT_SEED >= 1_000_000


def test_figures_count_states_per_class() -> None:
    f = figures(tally())
    assert f["threats_auto_cleared"] == 1
    assert f["detection"] == 0.75
    assert f["false_alarm"] == 0.25
    assert f["clean_auto_cleared"] == 0.5
    assert f["images_per_s"] == 20.0
    assert f["per_class"]["knife"] == {"images": 3, "flagged": 2, "auto_cleared": 1}


def test_curve_trades_detection_for_auto_clear() -> None:
    pts = curve(tally())
    assert pts[0][0] == 0.25 and pts[-1][0] == 1.0
    dets = [d for _, d, _ in pts]
    clears = [c for _, _, c in pts]
    assert dets == sorted(dets, reverse=True) and clears == sorted(clears)
    assert pts[0][1] == 1.0 and pts[0][2] == 0.5  # at 0.25: 0.3 blocks, 0.1 and 0.0 clear


def test_svg_is_well_formed_with_one_line_per_profile() -> None:
    svg = svg_plot({"a": curve(tally()), "b": curve(tally())})
    root = ET.fromstring(svg)
    lines = [e for e in root.iter() if e.tag.endswith("polyline") and e.get("stroke") != "black"]
    assert len(lines) == 2
