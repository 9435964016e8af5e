"""Knives tilted 70-89° towards their edge: narrow bars of thick steel.

A blade W wide and t thick, tilted by θ about its length, is W·cos θ + t·sin θ wide and
t / cos θ of steel deep. Past 65-78° (t 2.5-1.2 mm) it is deeper than the BLADE rule's
6 mm (``blade_steel_mm``), and short of 90° wider than the line an edge-on blade makes
(``ridge_width_mm``): it read as METAL and THICK_METAL only, which a declared pair of pliers
or a tin explained. The phantoms' knives lie at 0-70° or exactly on their edge, so the
bench never drew such a knife; probing every tilt from 68° to 89° found it (65 of 3,888
knives cleared on the tuning machines, 95 of 7,128 on the held-out ones). A narrow bar of
thick metal is now a BLADE as well (``bar_width_mm``), and a declared tool, itself thick
steel, explains no THICK_METAL: a knife lying by a pair of pliers merged with them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from contracts.statuses import XrayState
from devices.xray_image import encode_png
from inspection.xray.calibration import Calibration
from inspection.xray.explain import explain
from inspection.xray.screen import ScreenResult, screen
from inspection.xray.signatures import SigKind, Signature
from simulators.xray.catalogue import Thing, pliers
from simulators.xray.phantom import _turned, render_scene
from simulators.xray.physics import MachineProfile
from simulators.xray.solids import project_layers
from simulators.xray.threats import ceramic_knife, folding_knife, knife, utility_knife
from tests.inspection.xray.peer import Scene
from tests.inspection.xray.scans import declared, small_machine
from tests.inspection.xray.test_liquids import CLOTHES
from tests.inspection.xray.test_peer_machine import peer
from tests.inspection.xray.test_tilted_knives import PHONE, TIN, machine

__all__ = ["machine"]  # the fixture: the two tuning machines

Build = Callable[[np.random.Generator], Thing]

PLIERS = ("8203200000", "pliers 钳子")
COINS = ("7118900000", "commemorative coins 纪念币")


def _centred(prof: MachineProfile, thing: Thing, angle: float) -> tuple[int, int]:
    """Top-left pixel that puts ``thing``, turned by ``angle``, in the middle of the belt."""
    maps = project_layers(thing.parts, thing.tilt_deg, prof.pixel_mm).merged()
    w, h = _turned(next(iter(maps.values())).shape, angle)
    return prof.width_px // 2 - w // 2, prof.height_px // 2 - h // 2


def _tilted(
    machine: tuple[MachineProfile, Calibration], build: Build, seed: int, tilt: float
) -> bytes:
    """The PNG of one knife of ``build`` tilted ``tilt`` degrees, under a folded T-shirt."""
    prof, _ = machine
    t = build(np.random.default_rng(seed))
    thing = Thing(t.cls, t.parts, tilt, t.threat, None)
    ph = render_scene(prof, [(thing, 33.0, _centred(prof, thing, 33.0))], seed=seed, clothes_cm=3)
    return encode_png(ph.image, 0)


def _bar(res: ScreenResult) -> bool:
    """True when an unexplained BLADE at or above the threshold is among the findings."""
    return any(
        f.signature.kind is SigKind.BLADE and not f.explained_by and f.signature.score >= 0.5
        for f in res.findings
    )


# Each of these cleared before the rule, on at least one of the two machines.
CASES = [
    (knife, 1, 82.0, PLIERS),
    (knife, 2, 78.0, PLIERS),
    (ceramic_knife, 2, 70.0, TIN),
    (ceramic_knife, 2, 74.0, PLIERS),
    (folding_knife, 1, 86.0, TIN),
    (folding_knife, 1, 89.0, PHONE),
    (folding_knife, 1, 84.0, COINS),
]


@pytest.mark.parametrize(("build", "seed", "tilt", "line"), CASES)
def test_a_knife_tilted_towards_its_edge_is_a_blade(
    machine: tuple[MachineProfile, Calibration],
    build: Build,
    seed: int,
    tilt: float,
    line: tuple[str, str],
) -> None:
    png = _tilted(machine, build, seed, tilt)
    res = screen(png, machine[1], declared(CLOTHES, line))
    assert res.state is XrayState.SUSPECT, res.reasons
    assert _bar(res), [f.signature.detail for f in res.findings]


@pytest.mark.parametrize("tilt", [70.0, 76.0, 80.0, 84.0, 88.0])
def test_every_steep_tilt_of_a_kitchen_knife_is_flagged(
    machine: tuple[MachineProfile, Calibration], tilt: float
) -> None:
    """Whatever a declaration offers to explain it with, and as a blade-like bar or line that
    no declaration explains (on the code before, 76-84° cleared with pliers declared)."""
    png = _tilted(machine, knife, 2, tilt)
    for line in (PLIERS, TIN, COINS):
        res = screen(png, machine[1], declared(CLOTHES, line))
        assert res.state is XrayState.SUSPECT, (line, res.reasons)
        blade = {SigKind.BLADE, SigKind.EDGE_BLADE}
        assert any(
            f.signature.kind in blade and not f.explained_by and f.signature.score >= 0.5
            for f in res.findings
        ), (line, [f.signature.detail for f in res.findings])


def test_declared_pliers_no_longer_clear(machine: tuple[MachineProfile, Calibration]) -> None:
    """The price of the rules: a pair of pliers turned 45°, one 208 x 26 mm region of 6.2-6.7
    mm steel that the pliers' THICK_METAL budget explained (the one pose of 48 per tuning
    machine that cleared before; none does now). A tool is itself thick steel."""
    prof, cal = machine
    pair = pliers(np.random.default_rng(5))
    ph = render_scene(prof, [(pair, 45.0, (200, 180))], seed=5)
    res = screen(encode_png(ph.image, 0), cal, declared(CLOTHES, PLIERS))
    assert res.state is XrayState.SUSPECT, res.reasons
    assert any(f.signature.kind is SigKind.THICK_METAL and not f.explained_by for f in res.findings)


@pytest.mark.parametrize(
    ("build", "tilt", "at"), [(knife, 72.0, (150, 120)), (ceramic_knife, 78.0, (150, 180))]
)
def test_a_tilted_knife_lying_by_declared_pliers(
    machine: tuple[MachineProfile, Calibration], build: Build, tilt: float, at: tuple[int, int]
) -> None:
    """Knife and pliers merge into one region wider than a bar (188-233 x 40-68 mm), which
    the pliers' budget explained: every hand tool is itself thick steel, so a declared tool
    explains no THICK_METAL."""
    prof, cal = machine
    t = build(np.random.default_rng(2))
    blade = Thing(t.cls, t.parts, tilt, t.threat, None)
    pair = pliers(np.random.default_rng(1))
    ph = render_scene(prof, [(pair, 10.0, (180, 150)), (blade, 30.0, at)], seed=2, clothes_cm=3)
    res = screen(encode_png(ph.image, 0), cal, declared(CLOTHES, PLIERS))
    assert res.state is XrayState.SUSPECT, res.reasons
    assert any(f.signature.kind is SigKind.THICK_METAL and not f.explained_by for f in res.findings)


def test_a_tool_explains_thin_metal_only() -> None:
    box = (100, 100, 300, 80)
    metal = Signature(SigKind.METAL, 1.0, box, 40.0, "", 40.0, (190.0, 45.0))
    thick = Signature(SigKind.THICK_METAL, 1.0, box, 12.0, "", 12.0, (190.0, 45.0))
    assert explain([metal], declared(CLOTHES, PLIERS))[0].explained_by == PLIERS[1]
    assert [f.explained_by for f in explain([metal, thick], declared(CLOTHES, PLIERS))] == [
        "",
        "",
    ]


@pytest.mark.parametrize("tilt", [74.0, 80.0, 86.0])
def test_a_tilted_knife_on_the_second_machine(tilt: float) -> None:
    """The second machine (built apart from the simulator): a 180 x 30 x 2 mm blade tilted
    ``tilt``° is a 30·cos θ + 2·sin θ mm wide strip of 2 / cos θ mm steel (capped at its
    width), its plastic handle beside it, under a T-shirt."""
    m, cal = peer()
    a = math.radians(tilt)
    wide, deep = 30.0 * math.cos(a) + 2.0 * math.sin(a), min(2.0 / math.cos(a), 30.0)
    scene = Scene(m).carton().box("cotton", 190, 140, 250, 200, 20.0, 5)
    scene.box("steel", 180, 140, 180, wide, deep, 25, point=60)
    hx, hy = 180 - 140 * math.cos(math.radians(25)), 140 - 140 * math.sin(math.radians(25))
    scene.box("polyethylene", hx, hy, 110, 22, 18, 25)
    png = scene.png(7)
    for line in (PLIERS, TIN):
        res = screen(png, cal, declared(CLOTHES, line))
        assert res.state is XrayState.SUSPECT, (line, res.reasons)
        assert _bar(res), [f.signature.detail for f in res.findings]


@pytest.mark.parametrize("angle", [24.0, 30.0, 33.0, 36.0, 42.0])
def test_a_utility_knife_on_its_edge_turned_on_the_belt_on_the_150_kvp_machine(
    angle: float,
) -> None:
    """A snap-off knife exactly on its edge, turned 24-42° on the belt, on the 150 kVp
    machine: its 0.5 mm blade is a line 2.0 above its surroundings whose ratio reads like
    plastic, 1.25-1.35 mm wide by the blur at these angles. At 30°, 33° and 36° it was wider
    than the sharp-line rule's 1.35 mm and cleared (the seventeenth change: 1.9 mm)."""
    prof, cal = small_machine("sandwich-150")
    t = utility_knife(np.random.default_rng(2))
    edge = Thing(t.cls, t.parts, 90.0, t.threat, None)
    ph = render_scene(prof, [(edge, angle, _centred(prof, edge, angle))], seed=2, clothes_cm=3)
    res = screen(encode_png(ph.image, 0), cal, declared(CLOTHES))
    assert res.state is XrayState.SUSPECT, res.reasons
    assert any(
        f.signature.kind is SigKind.EDGE_BLADE and not f.explained_by for f in res.findings
    ), [f.signature.detail for f in res.findings]
