"""Declared coins explain round metal only (held-out seed 1,000,383, eff-60-100).

A zirconia knife lying flat among a pouch of declared coins read as one more metal region,
107 x 37 mm, 26.9 cm²: within what coins may show, so the parcel cleared. Coins are discs;
whatever region they make is a union of discs, which a blade, with its point, is not.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from contracts.statuses import XrayState
from devices.xray_image import encode_png
from inspection.xray.calibration import Calibration
from inspection.xray.explain import explain
from inspection.xray.findings import corner_mm2
from inspection.xray.screen import ScreenResult, screen
from inspection.xray.shapes import straight_mm
from inspection.xray.signatures import SigKind, Signature
from simulators.xray import threats
from simulators.xray.catalogue import Thing, coins
from simulators.xray.phantom import render_scene
from simulators.xray.physics import MachineProfile
from simulators.xray.solids import Part, Plate, rect, taper
from tests.inspection.xray.peer import Scene
from tests.inspection.xray.scans import small_machine
from tests.inspection.xray.test_liquids import CLOTHES, decl
from tests.inspection.xray.test_peer_machine import peer

COINS = ("7118900000", "commemorative coins 纪念币")


@pytest.fixture(scope="module", params=("eff-60-100", "sandwich-150", "sandwich-135"))
def machine(request: pytest.FixtureRequest) -> tuple[MachineProfile, Calibration]:
    return small_machine(request.param)


def _ceramic_knife(blade_mm: float, width_mm: float, tilt_deg: float) -> Thing:
    """A zirconia blade 2 mm thick in a plastic handle (the threat), tilted about its
    length."""
    parts: list[Part] = [
        Plate("zirconia", 0, blade_mm, taper(0, width_mm, 0, blade_mm, blade_mm * 0.5), 0, 2.0),
        Plate("polyethylene", -110, 0, rect(0, width_mm), 0, 18.0),
    ]
    return Thing("ceramic_knife", parts, tilt_deg, "ceramic_knife", None)


def _pouch(
    machine: tuple[MachineProfile, Calibration], knife_at: tuple[int, int] | None
) -> ScreenResult:
    """A pouch of coins under a T-shirt and, if asked, a ceramic knife with a 107 x 37 mm
    blade tilted 30°, its blade touching a coin."""
    prof, cal = machine
    things = [(coins(np.random.default_rng(7)), 0.0, (180, 120))]
    if knife_at is not None:
        things.append((_ceramic_knife(107.0, 37.0, 30.0), 0.0, knife_at))
    ph = render_scene(prof, things, seed=3, clothes_cm=1.0)
    return screen(encode_png(ph.image, 0), cal, decl(CLOTHES, COINS))


@pytest.mark.parametrize("knife_at", [(90, 120), (110, 192), (90, 216)])
def test_a_ceramic_knife_among_declared_coins_is_never_cleared(
    machine: tuple[MachineProfile, Calibration], knife_at: tuple[int, int]
) -> None:
    """The coins alone clear; with the knife the parcel does not (it cleared before on
    every machine here: the blade and the coin it touched read as one 28-30 cm² region)."""
    alone = _pouch(machine, None)
    assert alone.state is XrayState.CLEARED, alone.reasons
    both = _pouch(machine, knife_at)
    assert both.state is XrayState.SUSPECT, both.reasons


def _region(corner: float, straight: float = 20.0) -> Signature:
    return Signature(
        SigKind.METAL,
        1.0,
        (100, 100, 180, 60),
        26.9,
        "",
        26.9,
        (107.0, 37.0),
        corner_mm2=corner,
        straight_mm=straight,
    )


def test_coins_explain_a_region_made_of_discs_only() -> None:
    """Written from the measured ranges: coins at most 27 mm², a ceramic blade 99 and more;
    coins' outlines straight for at most 26 mm, a blade's side by a coin 38 and more."""
    assert explain([_region(20.0)], decl(COINS))[0].explained_by == COINS[1]
    assert not explain([_region(99.0)], decl(COINS))[0].explained_by
    assert explain([_region(20.0, 26.0)], decl(COINS))[0].explained_by == COINS[1]
    assert not explain([_region(20.0, 38.0)], decl(COINS))[0].explained_by
    assert not explain([_region(20.0, math.inf)], decl(COINS))[0].explained_by  # unmeasured


def _mask(parts: list[tuple[float, float, float]], size: int = 120) -> np.ndarray:
    """Discs (centre x, centre y, radius) on a pixel grid."""
    yy, xx = np.mgrid[0:size, 0:size]
    out = np.zeros((size, size), bool)
    for cx, cy, r in parts:
        out |= (xx - cx) ** 2 + (yy - cy) ** 2 <= r**2
    return out


def test_a_row_of_touching_coins_loses_only_slivers_and_a_point_loses_its_tip() -> None:
    """Hand-made masks at 1.2 mm per pixel: coins of 19-25 mm keep all but a few mm². A
    disc of radius r reaches a point of half-angle a only to r / sin a from it and leaves
    r² (cot a - pi/2 + a) uncovered: 70 mm² of a blade 37 mm wide that narrows over 53 mm
    to a point on its straight back (a = 17.3°, r = 6 mm)."""
    row = _mask([(20, 60, 8), (36, 60, 8), (54, 62, 10.4), (70, 60, 8)])
    assert corner_mm2(row, 6.0, 1.2) <= 15.0
    yy, xx = np.mgrid[0:120, 0:120]
    edge = 60 + 30.8 * np.clip((54.6 - xx) / 44.6, 0, 1)
    blade = (xx >= 10) & (xx <= 55) & (yy >= 60) & (yy <= edge)
    assert corner_mm2(blade, 6.0, 1.2) >= 60.0
    assert corner_mm2(np.zeros((10, 10), bool), 6.0, 1.2) == 0.0


def test_a_region_too_large_for_coins_lends_them_none_of_its_parts() -> None:
    """One metal region, one item (tuning seed 128, eff-60-100): a phone merged with coins
    into a 74 cm² region no line explains; its 7 cm² of thick metal fits a coin's budget,
    but a region's signatures are explained all by one line or none."""
    box = (548, 322, 192, 188)
    size = (117.0, 98.0)
    metal = Signature(
        SigKind.METAL, 1.0, box, 74.3, "", 74.3, size, corner_mm2=20.0, straight_mm=20.0
    )
    thick = Signature(
        SigKind.THICK_METAL, 1.0, box, 7.2, "", 7.2, size, corner_mm2=20.0, straight_mm=20.0
    )
    found = explain([metal, thick], decl(COINS))
    assert [f.explained_by for f in found] == ["", ""]
    alone = explain([thick], decl(COINS))
    assert alone[0].explained_by == COINS[1]


def test_a_coin_goes_to_the_line_that_explains_all_of_it() -> None:
    """Tuning seed 193, eff-60-100: a coin lying by a pair of shoes read as 2.4 cm² of metal
    with 1.9 cm² of it thick. The shoes, listed first, may explain small metal (eyelets) but
    no thick metal; the coins explain both, so the coins take the region."""
    shoes = ("6404110000", "sports shoes 运动鞋")
    box = (496, 490, 30, 30)
    size = (18.0, 17.0)
    metal = Signature(
        SigKind.METAL, 0.81, box, 2.4, "", 2.4, size, corner_mm2=4.0, straight_mm=10.0
    )
    thick = Signature(
        SigKind.THICK_METAL, 0.32, box, 1.9, "", 1.9, size, corner_mm2=4.0, straight_mm=10.0
    )
    found = explain([metal, thick], decl(shoes, COINS))
    assert [f.explained_by for f in found] == [COINS[1], COINS[1]]
    assert [f.explained_by for f in explain([metal, thick], decl(shoes))] == ["", ""]


def test_a_coins_outline_is_arcs_and_a_blades_side_is_straight() -> None:
    """Hand-made masks at 1.2 mm per pixel: a 27 mm coin, two overlapping and a row of four
    keep no straight stretch as long as a blade's side; a 100 x 20 mm bar beside a coin
    keeps its 100 mm sides, and half of each hidden by coins still 40 mm."""
    assert straight_mm(_mask([(60, 60, 11.25)]), 1.2) < 15.0
    assert straight_mm(_mask([(50, 60, 11.25), (62, 60, 11.25)]), 1.2) < 30.0
    row = _mask([(20, 60, 8), (36, 60, 8), (54, 62, 10.4), (70, 60, 8)])
    assert straight_mm(row, 1.2) < 20.0
    bar = _mask([(100, 60, 9)], 160)
    bar[52:69, 10:94] = True
    assert straight_mm(bar, 1.2) >= 95.0
    bar |= _mask([(40, 50, 10), (60, 70, 10)], 160)
    assert straight_mm(bar, 1.2) >= 35.0
    assert straight_mm(np.zeros((10, 10), bool), 1.2) == 0.0


# (machine, coins' seed, knife's seed, in-plane angle, top-left): a folding knife tilted 70°
# lying by a pouch of coins, which cleared before the straight-side rule (tuning machines).
POINTLESS = [
    ("eff-60-100", 1, 2, 90.0, (230, 200)),
    ("eff-60-100", 3, 2, 0.0, (180, 250)),
    ("sandwich-120", 3, 1, 0.0, (150, 120)),
    ("sandwich-120", 1, 2, 90.0, (230, 200)),
    ("sandwich-120", 3, 1, 0.0, (180, 250)),
]


@pytest.mark.parametrize(("name", "pouch", "seed", "angle", "at"), POINTLESS)
def test_a_blade_without_a_point_by_declared_coins_is_never_cleared(
    name: str, pouch: int, seed: int, angle: float, at: tuple[int, int]
) -> None:
    """A folding knife's blade is a rectangle: merged with a coin, discs cover all of it but
    its corners, so the round rule let the coins explain it; its sides are straight."""
    prof, cal = small_machine(name)
    pile = coins(np.random.default_rng(pouch))
    alone = render_scene(prof, [(pile, 0.0, (200, 150))], seed=pouch, clothes_cm=3)
    assert screen(encode_png(alone.image, 0), cal, decl(CLOTHES, COINS)).state is XrayState.CLEARED
    t = threats.folding_knife(np.random.default_rng(seed))
    blade = Thing(t.cls, t.parts, 70.0, t.threat, None)
    ph = render_scene(prof, [(pile, 0.0, (200, 150)), (blade, angle, at)], seed=seed, clothes_cm=3)
    res = screen(encode_png(ph.image, 0), cal, decl(CLOTHES, COINS))
    assert res.state is XrayState.SUSPECT, res.reasons


def test_a_bar_by_declared_coins_on_the_second_machine() -> None:
    """The second machine (built apart from the simulator, NIST tables): four brass coins
    of 19-25 mm under a T-shirt clear; a 100 x 13 mm bar of 7 mm steel (a folding knife
    tilted 70°) turned 30° and touching a coin cleared there before the straight-side
    rule (its region 108 x 21 mm, corners 16 mm²) and is flagged now."""
    m, cal = peer()

    def parcel(bar: bool) -> bytes:
        scene = Scene(m).carton().box("cotton", 190, 150, 250, 200, 20.0, 5)
        for cx, cy, r, depth in ((200, 150, 10.0, 4.0), (232, 156, 11.0, 2.0),
                                 (215, 183, 12.5, 6.0), (250, 190, 9.5, 2.0)):  # fmt: skip
            scene.disc("brass", cx, cy, r, depth)
        if bar:
            scene.box("steel", 160.0, 125.0, 100.0, 13.0, 7.0, 30.0)
        return scene.png(7)

    assert screen(parcel(False), cal, decl(CLOTHES, COINS)).state is XrayState.CLEARED
    res = screen(parcel(True), cal, decl(CLOTHES, COINS))
    assert res.state is XrayState.SUSPECT, res.reasons
    assert any(f.signature.straight_mm > 80.0 and not f.explained_by for f in res.findings)
