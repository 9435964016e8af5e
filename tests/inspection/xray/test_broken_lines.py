"""A blade on its edge broken in two where it crosses the edge of a block of cells.

The top-hat's opening reaches over the block's edge and takes the line's contrast away
there, so a 140 mm utility knife lying half on a declared power bank was two lines of
about 70 mm, each shorter than a blade, and the parcel cleared (held-out seed 1,001,227 on
``sandwich-120``; 4 and 5 of 60 laid-out parcels on the tuning machines). The part on the
block is also joined to the cans' walls into one branched region. ``inspection.xray.joins``
follows each line shorter than a blade along its axis across such gaps.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from clearline.bench.xray_phys import declaration_of, machine_calibration
from contracts.statuses import XrayState
from devices.xray_image import encode_png
from inspection.xray.joins import broken_lines
from inspection.xray.screen import ScreenResult, screen
from inspection.xray.shapes import components, rect_mm
from inspection.xray.signatures import SigKind, SignatureConfig
from simulators.xray.catalogue import Thing, power_bank
from simulators.xray.phantom import render_phantom, render_scene
from simulators.xray.physics import load_profiles
from simulators.xray.threats import utility_knife
from tests.inspection.xray.peer import Scene, cells
from tests.inspection.xray.scans import small_machine
from tests.inspection.xray.test_liquids import decl
from tests.inspection.xray.test_peer_machine import POWER_BANK, SHIRT, _parcel, declared, peer

CFG = SignatureConfig()
CLOTHES = ("6109100021", "cotton T-shirt")


def _runs(mask: np.ndarray) -> list[tuple[float, float]]:
    """The runs a blade long that ``broken_lines`` finds on a hand-drawn mask (mm)."""
    regions = [(b, r, rect_mm(r, CFG.pixel_mm)[:2]) for b, r, _ in components(mask, 20)]
    return [size for _, _, size, _ in broken_lines(mask > 0, regions, CFG)]


def _line(mask: np.ndarray, x0: float, y0: float, deg: float, mm: float, px: int = 3) -> None:
    """Draw a straight line ``mm`` long, ``px`` wide, from (x0, y0) at ``deg``."""
    a = math.radians(deg)
    n = round(mm / CFG.pixel_mm)
    for t in range(n):
        x, y = round(x0 + t * math.cos(a)), round(y0 + t * math.sin(a))
        mask[y - px // 2 : y + px - px // 2, x - px // 2 : x + px - px // 2] = 1


def test_two_pieces_in_a_row_are_one_line() -> None:
    """70 and 65 mm pieces, 8 mm apart along one axis at 30°: one run of about 143 mm."""
    mask = np.zeros((400, 500), np.uint8)
    _line(mask, 20, 20, 30.0, 70.0)
    gap = (70.0 + 8.0) / CFG.pixel_mm
    _line(
        mask,
        20 + gap * math.cos(math.radians(30)),
        20 + gap * math.sin(math.radians(30)),
        30.0,
        65.0,
    )
    runs = _runs(mask)
    assert len(runs) == 1, runs
    assert runs[0][0] == pytest.approx(143.0, abs=3.0)
    assert runs[0][1] <= CFG.ridge_width_mm


def test_pieces_side_by_side_far_apart_or_short_are_not_joined() -> None:
    """Parallel pieces 6 mm apart across, pieces 20 mm apart along, and two pieces that
    together are shorter than a blade: no run."""
    mask = np.zeros((400, 600), np.uint8)
    _line(mask, 20, 20, 0.0, 70.0)
    _line(mask, 20 + 70 / CFG.pixel_mm, 30, 0.0, 65.0)  # 6 mm across: another line
    _line(mask, 20, 150, 0.0, 60.0)
    _line(mask, 20 + 80 / CFG.pixel_mm, 150, 0.0, 60.0)  # 20 mm gap along
    _line(mask, 20, 300, 0.0, 35.0)
    _line(mask, 20 + 40 / CFG.pixel_mm, 300, 0.0, 35.0)  # 75 mm with its gap
    assert _runs(mask) == []


def test_a_line_running_into_a_broad_dark_region_is_not_followed_through_it() -> None:
    """A 60 mm line that runs into a 40 mm wide block: the corridor over the block is full,
    so the run is as wide as the corridor over half its length, not a line."""
    mask = np.zeros((300, 500), np.uint8)
    _line(mask, 20, 100, 0.0, 60.0)
    x = 20 + round(60 / CFG.pixel_mm)
    mask[60:140, x : x + round(60 / CFG.pixel_mm)] = 1
    assert _runs(mask) == []


def _across_the_bank(name: str) -> ScreenResult:
    """A utility knife on its edge lying half on a declared power bank (laid out by a
    script: the layout cleared on both tuning machines before the lines were joined)."""
    prof, cal = small_machine(name)
    rng = np.random.default_rng([16, 99])
    bank = power_bank(rng)
    t = utility_knife(rng)
    knife = Thing(t.cls, t.parts, 90.0, t.threat, None)
    ph = render_scene(
        prof, [(bank, 56.447884, (220, 160)), (knife, 49.127578, (263, 95))], 16, clothes_cm=2.0
    )
    return screen(encode_png(ph.image, 0), cal, decl(POWER_BANK, CLOTHES))


def _long_lines(res: ScreenResult, least_mm: float) -> list[str]:
    """Unexplained EDGE_BLADE findings at least ``least_mm`` long."""
    return [
        f.signature.detail
        for f in res.findings
        if f.signature.kind is SigKind.EDGE_BLADE
        and not f.explained_by
        and f.signature.size_mm[0] >= least_mm
    ]


@pytest.mark.parametrize("name", ["eff-60-100", "sandwich-120"])
def test_a_utility_knife_across_a_power_bank_is_one_line(name: str) -> None:
    res = _across_the_bank(name)
    assert res.state is XrayState.SUSPECT, res.reasons
    assert _long_lines(res, 120.0), [f.as_dict() for f in res.findings]


def test_held_out_seed_1001227_is_held_by_the_knife_itself() -> None:
    """Its utility knife lies on its edge half on a declared power bank; on ``sandwich-120``
    the parcel cleared, and on the other machines it was held only by a line of the cells
    (90 mm). Now the knife is one line of about 160 mm."""
    prof = load_profiles()["sandwich-120"]
    ph = render_phantom(prof, 1_001_227, "knife")
    res = screen(encode_png(ph.image, 0), machine_calibration(prof), declaration_of(ph, "227"))
    assert res.state is XrayState.SUSPECT, res.reasons
    assert _long_lines(res, 120.0), res.reasons


def _two_layer_bank() -> Scene:
    """Two layers of three 18650 cells on the second machine (``peer.py``), turned 20°."""
    return cells(cells(_parcel(), 190, 140, 3, 20), 190, 140, 3, 20)


def test_a_two_layer_power_bank_clears_on_the_second_machine() -> None:
    res = screen(_two_layer_bank().png(7), peer()[1], declared(SHIRT, POWER_BANK))
    assert res.state is XrayState.CLEARED, res.reasons


@pytest.mark.parametrize(("deg", "off"), [(0, 20), (0, 35), (135, 20), (150, 20), (165, 20)])
def test_a_blade_across_a_two_layer_bank_on_the_second_machine_is_held(
    deg: int, off: float
) -> None:
    """A 140 mm steel sheet 0.8 mm thick on its edge (18 mm deep) in a 12 mm plastic body,
    its middle ``off`` mm from the block's centre: every one of these cleared before."""
    a = math.radians(deg)
    cx, cy = 190 + off * math.cos(a), 140 + off * math.sin(a)
    scene = _two_layer_bank().box("steel", cx, cy, 140.0, 0.8, 18.0, float(deg))
    scene.box("polyethylene", cx - 10 * math.cos(a), cy - 10 * math.sin(a), 140.0, 12.0, 24.0, deg)
    res = screen(scene.png(7), peer()[1], declared(SHIRT, POWER_BANK))
    assert res.state is XrayState.SUSPECT, res.reasons
    assert _long_lines(res, 100.0), [f.as_dict() for f in res.findings]
