"""A bottle's cross-section shows how dense its liquid is; two bottles one on the other show it.

A second bottle lying on a declared one made one LIQUID region that the declared drink
explained: held-out seed 1,001,156 (an undeclared bottle on a declared perfume) and 100 of
320 parcels laid out by script cleared until 2026-12-07 (docs/xray-prescreen-changes.md,
the twenty-third change). A round container's depth peaks at c·D and sums to c·πD²/4 across
it, so its liquid's apparent density c = π/4 · peak² / sum can be read whatever its size;
no drink is denser than honey, and no liquid lighter than water in Z is denser than water.
Tried on the simulator's machines and on the second machine, which shares no code with it.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from clearline.bench.xray_phys import declaration_of, machine_calibration
from contracts.statuses import XrayState
from devices.xray_image import encode_png
from inspection.model import Declaration, DocKind, GoodsLine
from inspection.xray.calibration import Calibration
from inspection.xray.explain import explain
from inspection.xray.liquids import MOST_SPREAD, SPREAD_AT, density
from inspection.xray.screen import ScreenResult, screen
from inspection.xray.signatures import SigKind, Signature
from simulators.xray.catalogue import Thing, bottle
from simulators.xray.phantom import _turned, project_layers, render_phantom, render_scene
from simulators.xray.physics import MachineProfile, load_profiles
from simulators.xray.solids import Cyl
from tests.inspection.xray.peer import Scene
from tests.inspection.xray.scans import declared, small_machine
from tests.inspection.xray.test_peer_machine import SHIRT as PEER_SHIRT
from tests.inspection.xray.test_peer_machine import _parcel
from tests.inspection.xray.test_peer_machine import _screen as _peer_screen

SHIRT = ("6109100021", "cotton T-shirt 棉质T恤")
NAMES = {
    "ethanol": ("3303000000", "perfume 香水"),
    "water": ("2202100000", "soft drink 饮料"),
    "sugar": ("2202100000", "soft drink 饮料"),
    "oil": ("1509200000", "olive oil"),
}


def _z_over_a(formula: dict[str, int]) -> float:
    """Electrons per atomic mass unit of a compound (IUPAC standard atomic weights)."""
    z = {"H": 1, "C": 6, "O": 8}
    a = {"H": 1.008, "C": 12.011, "O": 15.999}
    return sum(n * z[e] for e, n in formula.items()) / sum(n * a[e] for e, n in formula.items())


#: Published densities (g/cm³, about 20 °C; CRC Handbook) and formulas: at the high energy
#: the beam is stopped mostly by Compton scattering, which goes with electron density, so a
#: liquid reads ρ·(Z/A) over PMMA's (1.18 g/cm³, C5H8O2) mm of PMMA per mm of path.
PUBLISHED = {
    "water": (0.998, {"H": 2, "O": 1}),
    "ethanol": (0.789, {"C": 2, "H": 6, "O": 1}),
    "oil": (0.91, {"C": 18, "H": 34, "O": 2}),  # olive oil, as oleic acid
    "sugar": (1.587, {"C": 12, "H": 22, "O": 11}),  # sucrose
}
PMMA = 1.18 * _z_over_a({"C": 5, "H": 8, "O": 2})


def _expected(liquid: str) -> float:
    rho, formula = PUBLISHED[liquid]
    return rho * _z_over_a(formula) / PMMA


def _cylinder(
    shape: tuple[int, int], c: float, r_mm: float, px_mm: float, offset_mm: float = 0.0
) -> np.ndarray:
    """A drawn depth map (mm) of a cylinder lying at 30°: c·2√(r² − d²) across it."""
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    u = (math.cos(math.radians(30)), math.sin(math.radians(30)))
    cx, cy = shape[1] / 2, shape[0] / 2
    across = (-(xs - cx) * u[1] + (ys - cy) * u[0]) * px_mm - offset_mm
    along = ((xs - cx) * u[0] + (ys - cy) * u[1]) * px_mm
    depth = c * 2.0 * np.sqrt(np.clip(r_mm**2 - across**2, 0.0, None))
    return np.where(np.abs(along) <= 100.0, depth, 0.0)


def _reads(depth: np.ndarray, px_mm: float) -> tuple[float, float]:
    own = depth >= 25.0
    ys, xs = np.nonzero(own)
    box = (int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
    region = own[box[1] : box[1] + box[3], box[0] : box[0] + box[2]]
    return density(box, region, depth.astype(np.float32), px_mm)


def _read(depth: np.ndarray, px_mm: float) -> float:
    return _reads(depth, px_mm)[0]


@pytest.mark.parametrize("c", [0.7, 0.87, 1.33])
@pytest.mark.parametrize("r_mm", [28.0, 45.0])
def test_a_drawn_cylinder_reads_its_density_whatever_its_size(c: float, r_mm: float) -> None:
    depth = _cylinder((260, 320), c, r_mm, 1.2)
    dense, spread = _reads(depth, 1.2)
    assert dense == pytest.approx(c, rel=0.06)
    assert spread == pytest.approx(math.sqrt(1 - SPREAD_AT**2), rel=0.02)  # 0.98 of D


def test_two_drawn_cylinders_one_on_the_other_read_the_sum() -> None:
    one = _cylinder((260, 320), 0.7, 35.0, 1.2)
    assert _read(one + one, 1.2) == pytest.approx(1.4, rel=0.06)
    beside = one + _cylinder((260, 320), 0.87, 35.0, 1.2, offset_mm=15.0)
    assert _read(beside, 1.2) > 1.4


@pytest.mark.parametrize("offset_mm", [10.0, 25.0, 40.0, 50.0])
def test_two_drawn_cylinders_side_by_side_are_wider_than_one(offset_mm: float) -> None:
    """Moved across, two discs' depth sums as one lighter or denser disc would, but wider."""
    pair = _cylinder((260, 320), 0.7, 36.0, 1.2) + _cylinder(
        (260, 320), 0.87, 34.0, 1.2, offset_mm=offset_mm
    )
    assert _reads(pair, 1.2)[1] > MOST_SPREAD


def test_a_drawn_slab_is_narrower_than_a_disc() -> None:
    """A flat-topped cross-section (a box of biscuits) spreads π/4: never wider than one."""
    slab = np.where(_cylinder((260, 320), 1.0, 40.0, 1.2) > 0.0, 60.0, 0.0)
    assert _reads(slab, 1.2)[1] == pytest.approx(math.pi / 4, rel=0.05)


def test_a_region_too_short_to_read_reads_zero() -> None:
    depth = np.zeros((40, 40), np.float32)
    depth[18:22, 18:22] = 60.0
    assert _reads(depth, 1.2) == (0.0, 0.0)


def _bottle(liquid: str, length: float, r: float, glass: bool = False) -> Thing:
    """A bottle of ``liquid`` lying down, its wall PET (0.4 mm) or glass (3 mm)."""
    wall = ("glass", 3.0) if glass else ("pet", 0.4)
    parts = [
        Cyl(liquid, 0, length, 0, 0, r - wall[1]),
        Cyl(wall[0], 0, length, 0, 0, r, r - wall[1]),
    ]
    return Thing("bottle", parts, 0.0, None, NAMES[liquid])


@pytest.fixture(scope="module", params=("eff-60-100", "sandwich-120", "sandwich-135"))
def machine(request: pytest.FixtureRequest) -> tuple[MachineProfile, Calibration]:
    return small_machine(request.param)


def _liquids(res: ScreenResult) -> list[tuple[str, Signature]]:
    return [
        (f.explained_by, f.signature) for f in res.findings if f.signature.kind is SigKind.LIQUID
    ]


@pytest.mark.parametrize("liquid", sorted(PUBLISHED))
def test_a_bottle_alone_reads_its_liquids_published_density(
    machine: tuple[MachineProfile, Calibration], liquid: str
) -> None:
    prof, cal = machine
    ph = render_scene(prof, [(_bottle(liquid, 200.0, 36.0), 25.0, (200, 150))], clothes_cm=1.0)
    res = screen(encode_png(ph.image, 0), cal, declared(SHIRT, NAMES[liquid]))
    (by, sig), *rest = _liquids(res)
    assert not rest
    assert sig.density == pytest.approx(_expected(liquid), rel=0.08)
    assert by == NAMES[liquid][1], sig.detail


def _pair(
    prof: MachineProfile,
    declared_: Thing,
    other: Thing,
    turn: float,
    off_mm: tuple[float, float],
    base: float = 35.0,
) -> list[tuple[Thing, float, tuple[int, int]]]:
    """The two bottles centred together, ``other`` turned and moved by ``off_mm``."""
    things = []
    for thing, angle, (a, b) in ((declared_, base, (0.0, 0.0)), (other, base + turn, off_mm)):
        maps = project_layers(thing.parts, thing.tilt_deg, prof.pixel_mm)
        ow, oh = _turned(next(iter(maps.paths.values())).shape, angle)
        r = math.radians(base)
        dx = (b * math.cos(r) - a * math.sin(r)) / prof.pixel_mm
        dy = (b * math.sin(r) + a * math.cos(r)) / prof.pixel_mm
        things.append((thing, angle, (int(320 - ow / 2 + dx), int(240 - oh / 2 + dy))))
    return things


@pytest.mark.parametrize(
    ("mine", "theirs", "turn", "side_mm"),
    [
        ("ethanol", "ethanol", 0.0, 0.0),
        ("ethanol", "water", 8.0, 0.0),
        ("water", "water", 0.0, 25.0),
        ("ethanol", "oil", 20.0, 0.0),
        ("water", "sugar", 0.0, 0.0),
    ],
)
def test_an_undeclared_bottle_on_a_declared_one_is_held(
    machine: tuple[MachineProfile, Calibration], mine: str, theirs: str, turn: float, side_mm: float
) -> None:
    prof, cal = machine
    hidden = _bottle(theirs, 190.0, 34.0)
    hidden = Thing(hidden.cls, hidden.parts, 0.0, "undeclared_liquid", None)
    things = _pair(prof, _bottle(mine, 210.0, 36.0), hidden, turn, (side_mm, 0.0))
    ph = render_scene(prof, things, clothes_cm=1.0)
    res = screen(encode_png(ph.image, 0), cal, declared(SHIRT, NAMES[mine]))
    assert res.state is XrayState.SUSPECT, _liquids(res)
    assert any(not by and sig.score >= 0.5 for by, sig in _liquids(res)), _liquids(res)


def test_a_bottle_of_water_beside_and_on_a_declared_perfume_is_held() -> None:
    """Moved 25 mm across, ethanol and water read 1.34 at Z 7.0, as a sugar drink, but wider.

    Cleared until the spread was read (a known hole then, kept as a strict xfail).
    """
    prof, cal = small_machine("sandwich-120")
    rng = np.random.default_rng(508)
    perfume, water = bottle(rng, "ethanol"), bottle(rng, "water")
    water = Thing(water.cls, water.parts, 0.0, "undeclared_liquid", None)
    things = _pair(prof, perfume, water, 0.0, (25.0, 0.0), float(rng.uniform(0, 180)))
    ph = render_scene(prof, things, clothes_cm=float(rng.uniform(0, 3)))
    res = screen(encode_png(ph.image, 0), cal, declared(SHIRT, NAMES["ethanol"]))
    assert res.state is XrayState.SUSPECT, _liquids(res)
    (by, sig), *_ = _liquids(res)
    assert not by and sig.spread > MOST_SPREAD and "as wide as one" in sig.detail, sig.detail


def _sig(dens: float, z: float = math.inf) -> Signature:
    return Signature(
        SigKind.LIQUID, 1.0, (0, 0, 1, 1), 100.0, "", 150.0, (200.0, 80.0), density=dens, liquid_z=z
    )


def _decl(*lines: tuple[str, str]) -> Declaration:
    return Declaration(
        kind=DocKind.POSTAL,
        message_type="CN23",
        business_key="RR123456785CN",
        lines=tuple(
            GoodsLine(gnum=i, hs_code=h, name=n, qty=Decimal(1))
            for i, (h, n) in enumerate(lines, 1)
        ),
    )


def test_a_drink_explains_no_region_denser_than_honey_nor_a_light_liquid_denser_than_water() -> (
    None
):
    drink = _decl(NAMES["water"])
    assert explain([_sig(0.9)], drink)[0].explained_by
    assert explain([_sig(1.3, 6.9)], drink)[0].explained_by  # a syrup
    assert not explain([_sig(1.3, 6.5)], drink)[0].explained_by  # two bottles of spirits
    assert not explain([_sig(1.5, 7.2)], drink)[0].explained_by  # two bottles of water
    food, tin = _decl(("1905900000", "biscuits 饼干")), _decl(("1604140000", "canned tuna"))
    assert not explain([_sig(1.5, 7.2)], food)[0].explained_by
    assert explain([_sig(1.2, 7.0)], food)[0].explained_by
    assert not explain([_sig(1.2, 6.4)], tin)[0].explained_by


def test_held_out_seed_1001156_an_undeclared_bottle_on_a_declared_perfume_is_held() -> None:
    """Cleared on three machines by the code before; two bottles of spirits read 1.35 at Z 6.5."""
    prof = load_profiles()["eff-60-100"]
    ph = render_phantom(prof, 1_001_156, "undeclared_liquid")
    res = screen(encode_png(ph.image, 0), machine_calibration(prof), declaration_of(ph, "156"))
    assert res.state is XrayState.SUSPECT, res.reasons
    (by, sig), *_ = _liquids(res)
    assert not by and sig.density > 1.0 and sig.liquid_z < 6.75, sig.detail


def _peer_bottle(
    scene: Scene, liquid: str, cx: float, length: float, r: float, turn: float
) -> Scene:
    """A PET bottle of ``liquid`` (0.4 mm wall) lying down on the second machine."""
    scene.cylinder(liquid, cx, 140, length, r - 0.4, turn)
    return scene.cylinder("pet", cx, 140, length, r, turn, inner=r - 0.4)


@pytest.mark.parametrize("r", [28.0, 44.0])
@pytest.mark.parametrize("liquid", ["water", "ethanol"])
def test_on_the_second_machine_one_bottle_clears_and_two_are_held(liquid: str, r: float) -> None:
    """The machine built apart (80/140 kVp, NIST tables, its own drawing; ``peer.py``).

    PMMA there is 1.19 g/cm³, so water should read 0.865 and ethanol 0.694; two bottles of
    ethanol one on the other read as much as a sugar drink and are held by their low Z.
    """
    name = NAMES[liquid]
    one = _peer_bottle(_parcel(), liquid, 190, 200, r, 25)
    res = _peer_screen(one, PEER_SHIRT, name)
    (by, sig), *rest = _liquids(res)
    assert not rest and by == name[1], sig.detail
    assert sig.density == pytest.approx(PEER_EXPECTED[liquid], rel=0.06)
    two = _peer_bottle(
        _peer_bottle(_parcel(), liquid, 190, 200, r, 25), liquid, 192, 180, r - 2, 27
    )
    res = _peer_screen(two, PEER_SHIRT, name)
    assert res.state is XrayState.SUSPECT, _liquids(res)
    (by, sig), *_ = _liquids(res)
    assert not by and sig.density > 1.0, sig.detail


#: ρ·(Z/A) over the second machine's PMMA (1.19 g/cm³, the density ``peer.py`` gives it).
PEER_EXPECTED = {
    liquid: PUBLISHED[liquid][0] * _z_over_a(PUBLISHED[liquid][1]) * 1.18 / 1.19 / PMMA
    for liquid in ("water", "ethanol")
}


@pytest.mark.parametrize(("r", "turn", "off"), [(28.0, 60, 25), (36.0, 60, 40), (28.0, 25, 40)])
def test_on_the_second_machine_two_bottles_side_by_side_are_held(
    r: float, turn: float, off: float
) -> None:
    """Water and ethanol moved apart read 0.9-1.4 at Z over 6.75, as one drink would.

    Each cleared before the spread was read; they are 1.18-1.24 × as wide as one bottle.
    """
    name = NAMES["water"]
    one = _peer_bottle(_parcel(), "water", 190, 200, r, turn)
    two = _peer_bottle(one, "ethanol", 190 + off, 180, r - 2, turn + 3)
    res = _peer_screen(two, PEER_SHIRT, name)
    assert res.state is XrayState.SUSPECT, _liquids(res)
    (by, sig), *_ = _liquids(res)
    assert not by and sig.density <= 1.4 and sig.spread > MOST_SPREAD, sig.detail


@pytest.mark.parametrize("name", ["eff-60-100", "sandwich-120"])
def test_held_out_seed_1000280_a_bottle_along_a_declared_perfume_is_held(name: str) -> None:
    """Cleared from the seventh change to the twenty-fourth: 1.33-1.38 at Z 6.8-6.9, as one
    sugar drink would read, but 1.20 × as wide as one bottle."""
    prof = load_profiles()[name]
    ph = render_phantom(prof, 1_000_280, "undeclared_liquid")
    res = screen(encode_png(ph.image, 0), machine_calibration(prof), declaration_of(ph, "280"))
    assert res.state is XrayState.SUSPECT, res.reasons
    assert any(not by and sig.spread > MOST_SPREAD for by, sig in _liquids(res)), res.reasons
