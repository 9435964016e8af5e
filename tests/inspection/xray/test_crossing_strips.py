"""Metal strips lying across each other are read one by one; a blade among them stays a blade.

The masks in the first tests are drawn by hand (not by the simulator): two or three
strips crossing, a strip and a blade's broad triangle, a disc. The scenes after them put
garments' zips, a knife and a utility knife across each other on both tuning machines.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from contracts.statuses import XrayState
from devices.xray_image import encode_png
from inspection.xray.calibration import Calibration
from inspection.xray.screen import ScreenResult, screen
from inspection.xray.signatures import SigKind
from inspection.xray.strips import split_strips
from simulators.xray.catalogue import Thing
from simulators.xray.phantom import render_scene
from simulators.xray.physics import MachineProfile
from simulators.xray.solids import Plate, rect
from simulators.xray.threats import knife, utility_knife
from tests.inspection.xray.scans import small_machine
from tests.inspection.xray.test_liquids import CLOTHES, decl

Builder = Callable[[np.random.Generator], Thing]
PX_MM = 1.2  # a pooled pixel of the tuning machines


def _line(mask: np.ndarray, a: tuple[int, int], b: tuple[int, int], width: int) -> None:
    """Draw a strip ``width`` pixels wide from ``a`` to ``b``."""
    canvas = mask.astype(np.uint8)
    cv2.line(canvas, a, b, 1, width)
    mask |= canvas > 0


def test_two_crossing_strips_are_cut_into_two() -> None:
    own = np.zeros((160, 200), bool)
    _line(own, (10, 20), (190, 140), 5)
    _line(own, (20, 150), (180, 10), 5)
    parts = split_strips(own, PX_MM, 30.0, 50.0)
    assert len(parts) == 2
    assert (own & ~np.logical_or.reduce(parts)).sum() <= 0.03 * own.sum()  # all but corners
    assert all(not (p & ~own).any() for p in parts)  # no strip takes a pixel off the region


def test_three_zips_crossing() -> None:
    own = np.zeros((160, 220), bool)
    _line(own, (10, 30), (200, 140), 4)
    _line(own, (30, 130), (210, 20), 4)
    _line(own, (100, 10), (120, 150), 4)
    assert len(split_strips(own, PX_MM, 30.0, 50.0)) == 3


def test_a_plate_is_not_cut_lengthwise_into_strips() -> None:
    """A 24 mm blade across a zip: bands side by side in it would each pass for a zip."""
    own = np.zeros((160, 220), bool)
    _line(own, (10, 30), (200, 140), 4)
    own[60:80, 20:200] = True  # 20 pooled pixels: 24 mm wide, even, 216 mm long
    parts = split_strips(own, PX_MM, 30.0, 50.0)
    assert parts == [] or any(p[60:80, 30:190].sum() >= 0.9 * 20 * 160 for p in parts)


def test_one_strip_alone_is_not_cut() -> None:
    own = np.zeros((60, 200), bool)
    _line(own, (10, 30), (190, 30), 5)
    assert split_strips(own, PX_MM, 30.0, 50.0) == []


def test_a_blade_across_a_strip_leaves_the_region_whole() -> None:
    own = np.zeros((160, 220), bool)
    _line(own, (10, 80), (210, 80), 5)  # a zip
    blade = np.array([[60, 20], [90, 20], [75, 150]], np.int32)  # 25 mm wide at its heel
    canvas = own.astype(np.uint8)
    cv2.fillPoly(canvas, [blade], 1)
    own = canvas > 0
    parts = split_strips(own, PX_MM, 30.0, 50.0)
    # Either the blade's broad end is left over (no cut), or it is a piece of its own that
    # the metal rules then read; never is it shared out among narrow strips.
    assert parts == [] or any(p[20:40, 60:90].sum() > 0.8 * own[20:40, 60:90].sum() for p in parts)


def test_a_disc_on_a_strip_leaves_the_region_whole() -> None:
    own = np.zeros((120, 220), bool)
    _line(own, (10, 60), (210, 60), 5)
    canvas = own.astype(np.uint8)
    cv2.circle(canvas, (110, 60), 20, 1, -1)
    assert split_strips(canvas > 0, PX_MM, 30.0, 50.0) == []


@pytest.fixture(scope="module", params=("eff-60-100", "sandwich-120"))
def machine(request: pytest.FixtureRequest) -> tuple[MachineProfile, Calibration]:
    return small_machine(request.param)


def _zip(length: float = 200.0) -> Thing:
    """A garment's brass zip (5 mm wide, 1.2 mm thick), declared as a T-shirt."""
    return Thing("textiles", [Plate("brass", 0, length, rect(0, 5), 0, 1.2)], 0.0, None, CLOTHES)


def _metal(res: ScreenResult) -> list[tuple[SigKind, str | None]]:
    """(kind, explained by) of every metal finding of a screen result."""
    kinds = {SigKind.METAL, SigKind.THICK_METAL, SigKind.STRIP, SigKind.BLADE}
    return [(f.signature.kind, f.explained_by) for f in res.findings if f.signature.kind in kinds]


def test_crossing_zips_are_each_explained_by_a_garment(
    machine: tuple[MachineProfile, Calibration],
) -> None:
    prof, cal = machine
    ph = render_scene(prof, [(_zip(), 0.0, (120, 150)), (_zip(), 35.0, (130, 100))], seed=2)
    res = screen(encode_png(ph.image, 0), cal, decl(CLOTHES, CLOTHES))
    metal = _metal(res)
    assert [k for k, _ in metal] == [SigKind.STRIP, SigKind.STRIP], metal
    assert all(by for _, by in metal), res.reasons
    assert res.state is XrayState.CLEARED, res.reasons


def test_crossing_zips_were_one_unexplained_region_read_whole(
    machine: tuple[MachineProfile, Calibration], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same scene with the cut switched off: the merged region is left unexplained."""
    prof, cal = machine
    monkeypatch.setattr("inspection.xray.findings.split_strips", lambda *a: [])
    ph = render_scene(prof, [(_zip(), 0.0, (120, 150)), (_zip(), 35.0, (130, 100))], seed=2)
    res = screen(encode_png(ph.image, 0), cal, decl(CLOTHES, CLOTHES))
    assert res.state is XrayState.SUSPECT
    assert any(k is SigKind.METAL and not by for k, by in _metal(res)), _metal(res)


@pytest.mark.parametrize("make", [knife, utility_knife], ids=["knife", "utility_knife"])
@pytest.mark.parametrize("angle", [30.0, 90.0])
def test_a_knife_across_a_zip_is_never_explained(
    machine: tuple[MachineProfile, Calibration],
    make: Callable[[np.random.Generator], Thing],
    angle: float,
) -> None:
    prof, cal = machine
    t = make(np.random.default_rng(7))
    flat = Thing(t.cls, t.parts, 0.0, t.threat, None)
    scene = [(_zip(), 0.0, (120, 200)), (_zip(), 25.0, (140, 150)), (flat, angle, (200, 120))]
    ph = render_scene(prof, scene, seed=5)
    res = screen(encode_png(ph.image, 0), cal, decl(CLOTHES, CLOTHES))
    assert res.state is XrayState.SUSPECT, res.reasons
    (where,) = [o.box for o in ph.objects if o.threat]
    on_knife = [
        f
        for f in res.findings
        if not f.explained_by and f.signature.score >= 0.5 and _overlap(f.signature.box, where)
    ]
    assert on_knife, [(f.signature.kind, f.explained_by) for f in res.findings]


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """True when two (x, y, w, h) boxes share a quarter of the smaller one."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy >= 0.25 * min(a[2] * a[3], b[2] * b[3])
