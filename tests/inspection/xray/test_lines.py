"""The edge-on line rule where lines meet: a blade across a can is a blade, a can's walls are not.

Found on tuning seeds 400-439: a utility knife on its edge lying across a tin of tuna made
one branched line with the tin's wall seen edge-on; the branch was wider than a blade, so
the rule dropped it, and the tin's budget explained the rest. Each case below failed before
branched lines were cut into their straight parts.
"""

from __future__ import annotations

import numpy as np
import pytest

from contracts.statuses import XrayState
from devices.xray_image import encode_png
from inspection.xray.calibration import Calibration
from inspection.xray.evaluate import overlap
from inspection.xray.findings import find_signatures
from inspection.xray.lines import _effective_width
from inspection.xray.screen import screen
from inspection.xray.signatures import SigKind, Signature, SignatureConfig
from simulators.xray.catalogue import Thing, tin
from simulators.xray.phantom import render_scene
from simulators.xray.physics import MachineProfile
from simulators.xray.solids import Cyl
from simulators.xray.threats import utility_knife
from tests.inspection.xray.scans import small_machine
from tests.inspection.xray.test_liquids import CLOTHES, decl

TIN = ("1604140000", "canned tuna 金枪鱼罐头")


@pytest.fixture(scope="module", params=("eff-60-100", "sandwich-120"))
def machine(request: pytest.FixtureRequest) -> tuple[MachineProfile, Calibration]:
    return small_machine(request.param)


def a_tin(seed: int) -> Thing:
    """A tin of 100 mm or more, so its walls are longer than the shortest blade."""
    rng = np.random.default_rng(seed)
    while True:
        t = tin(rng)
        if max(p.x1 for p in t.parts if isinstance(p, Cyl)) >= 100.0:
            return t


@pytest.mark.parametrize(("knife_at", "angle"), [((205, 170), 50.0), ((190, 150), 125.0)])
def test_a_knife_on_its_edge_across_a_tin_is_a_blade(
    machine: tuple[MachineProfile, Calibration], knife_at: tuple[int, int], angle: float
) -> None:
    prof, cal = machine
    t = utility_knife(np.random.default_rng(0))
    knife = Thing(t.cls, t.parts, 90.0, t.threat, None)
    ph = render_scene(prof, [(a_tin(3), 20.0, (150, 150)), (knife, angle, knife_at)], seed=2)
    res = screen(encode_png(ph.image, 0), cal, decl(CLOTHES, TIN))
    assert res.state is XrayState.SUSPECT, res.reasons
    blade = [
        f
        for f in res.findings
        if f.signature.kind is SigKind.EDGE_BLADE and f.signature.score >= 0.5
    ]
    assert blade and not blade[0].explained_by
    truth = next(o.box for o in ph.objects if o.threat == "knife")
    assert overlap(blade[0].signature.box, truth) >= 0.5


@pytest.mark.parametrize("angle", [0.0, 20.0, 65.0, 140.0])
def test_a_tins_walls_seen_edge_on_are_no_blade(
    machine: tuple[MachineProfile, Calibration], angle: float, request: pytest.FixtureRequest
) -> None:
    if angle == 140.0 and machine[0].name == "sandwich-120":
        request.applymarker(
            pytest.mark.xfail(
                reason="one wall alone, not meeting another, is read as a line (a known false "
                "alarm: docs/xray-prescreen.md)",
                strict=True,
            )
        )
    prof, cal = machine
    ph = render_scene(prof, [(a_tin(3), angle, (150, 120))], seed=5)
    res = screen(encode_png(ph.image, 0), cal, decl(CLOTHES, TIN))
    blades = [
        f.signature.detail
        for f in res.findings
        if f.signature.kind is SigKind.EDGE_BLADE and f.signature.score >= 0.5
    ]
    assert not blades


def _hand_lines(crossing: bool) -> list[Signature]:
    """A can and, if asked, an opaque sheet on its edge across it: counts written by hand.

    The can is 150 x 100 mm of 1.5 attenuation (80 mm of water at about 70 keV), walls
    2 pixels wide adding 1.5 along all four sides (0.25 mm tinplate seen tangentially, some
    9 mm of steel); the sheet adds -ln(0.3) in both channels over 2 pixels (70 % of each
    pixel covered), from outside the can to its middle.
    """
    prof, cal = small_machine("eff-60-100")
    ho, ro, _ = cal.table("organic")
    hs, rs, _ = cal.table("steel")
    h, w = prof.height_px, prof.width_px
    a_high = np.full((h, w), 0.4, np.float32)
    a_low = a_high * np.float32(np.interp(0.4, ho, ro))
    top, left, bottom, right = 150, 150, 317, 400  # 100 x 150 mm
    a_high[top:bottom, left:right] += 1.5
    a_low[top:bottom, left:right] += 1.5 * float(np.interp(1.9, ho, ro))
    wall = np.zeros((h, w), bool)
    wall[top : top + 2, left:right] = wall[bottom - 2 : bottom, left:right] = True
    wall[top:bottom, left : left + 2] = wall[top:bottom, right - 2 : right] = True
    a_high[wall] += 1.5
    a_low[wall] += 1.5 * float(np.interp(1.5, hs, rs))
    if crossing:
        opaque = -float(np.log(0.3))
        for k in range(230):  # 45 degrees, 195 mm, into the can from its lower left corner
            y, x = bottom + 60 - k, left - 60 + k
            a_high[y : y + 2, x] += opaque
            a_low[y : y + 2, x] += opaque
    counts = [
        np.clip(np.asarray(air, np.float32)[None, :] * np.exp(-a), 0, 65535).astype(np.uint16)
        for air, a in ((cal.air_low, a_low), (cal.air_high, a_high))
    ]
    sigs, _ = find_signatures(counts[0], counts[1], cal, SignatureConfig(pixel_mm=prof.pixel_mm))
    return [s for s in sigs if s.kind is SigKind.EDGE_BLADE and s.score >= 0.5]


def test_a_sheet_crossing_a_can_written_by_hand() -> None:
    """Not the simulator's image: the can's walls are no blade, the sheet across them is."""
    assert not _hand_lines(crossing=False)
    got = _hand_lines(crossing=True)
    assert len(got) == 1, [s.detail for s in got]
    _, _, bw, bh = got[0].box
    assert bw > 100 and bh > 100  # the diagonal, not a wall


def _knife_on_its_edge(name: str, tilt_deg: float) -> XrayState:
    """A snap-off knife alone, tilted ``tilt_deg`` from lying flat, under a declared T-shirt."""
    prof, cal = small_machine(name)
    t = utility_knife(np.random.default_rng(1))
    knife = Thing(t.cls, t.parts, tilt_deg, t.threat, None)
    ph = render_scene(prof, [(knife, 80.0, (300, 150))], seed=3)
    return screen(encode_png(ph.image, 0), cal, decl(CLOTHES)).state


@pytest.mark.parametrize("name", ["eff-60-100", "sandwich-120", "sandwich-135", "eff-50-90"])
@pytest.mark.parametrize("tilt", [80.0, 86.0, 90.0])
def test_a_knife_on_its_edge_is_flagged(name: str, tilt: float) -> None:
    assert _knife_on_its_edge(name, tilt) is XrayState.SUSPECT


def test_a_knife_exactly_on_its_edge_on_the_150_kvp_machine() -> None:
    """Held-out seed 1,000,325: its ratio reads like organic matter there, but the line is
    no wider than the blur, which no organic line as strong is (lines.ridge_sharp_mm)."""
    assert _knife_on_its_edge("sandwich-150", 90.0) is XrayState.SUSPECT


def test_effective_width_written_by_hand() -> None:
    """A line blurred from a point (Gaussian, sigma 0.5 mm) against a 4 mm slab: mass over
    peak is sigma times the square root of two pi (1.25 mm), and the slab's own width."""
    px = 0.1
    across = (np.arange(-40, 41) * px)[:, None]
    point = np.repeat(np.exp(-0.5 * (across / 0.5) ** 2), 100, axis=1).astype(np.float32)
    slab = np.repeat((np.abs(across) <= 2.0).astype(np.float32), 100, axis=1)
    own = np.ones(point.shape, bool)
    assert _effective_width(point, own, px) == pytest.approx(0.5 * (2 * np.pi) ** 0.5, rel=0.02)
    assert _effective_width(slab, own, px) == pytest.approx(4.1, abs=0.05)
