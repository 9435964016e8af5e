"""Utility knives tilted part-way to their edge, found on tuning seeds 440-539.

* Tilted 50-70°, a snap-off knife is a 10-12 mm wide strip of about 2 mm steel, as wide
  and as thick as a zip or a shoe's shank, which a declared T-shirt or pair of shoes
  explained (seed 490). Its blade runs past its steel channel and the channel past the
  blade, so it steps in thickness along its length; a shank or a zip does not.
* Tilted less, it is a compact block of 1.3 mm steel, 140 x 22 mm, which a declared phone
  explained as its battery (seed 524); a phone's cell is a flat pouch, never six times
  as long as wide.
* Lying on a power bank, a knife (seed 478), a ceramic knife (530) or a pair of pliers
  (458) merged with its cells into one ragged metal region that the power bank's METAL
  budget explained; cells read as a compact block and thick metal, so a power bank now
  explains no METAL region.
* Lying by a tin, a ceramic knife merged with the can into one 148 x 108 mm region that
  the tin explained (held-out seed 1,000,168, on four machines); a can is convex, the
  merged region is not.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from contracts.statuses import XrayState
from devices.xray_image import encode_png
from inspection.model import Declaration, DocKind, GoodsLine
from inspection.xray.calibration import Calibration
from inspection.xray.explain import explain
from inspection.xray.screen import ScreenResult, screen
from inspection.xray.shapes import thickness_steps
from inspection.xray.signatures import SigKind, Signature
from simulators.xray.catalogue import Thing, power_bank, shoes, tin
from simulators.xray.phantom import render_scene
from simulators.xray.physics import MachineProfile
from simulators.xray.threats import ceramic_knife, utility_knife
from tests.inspection.xray.scans import small_machine
from tests.inspection.xray.test_liquids import CLOTHES, decl

SHOES = ("6404110000", "sports shoes 运动鞋")
PHONE = ("8517130000", "mobile phone 手机")
POWER_BANK = ("8507600090", "power bank 充电宝")
TIN = ("1604140000", "canned tuna 金枪鱼罐头")


@pytest.fixture(scope="module", params=("eff-60-100", "sandwich-120"))
def machine(request: pytest.FixtureRequest) -> tuple[MachineProfile, Calibration]:
    return small_machine(request.param)


def test_thickness_steps_written_by_hand() -> None:
    """Not the simulator's numbers: an even strip against a knife's blade and channel."""
    own = np.zeros((20, 130), bool)
    own[5:12, 5:125] = True  # a strip 120 pooled pixels long, 7 wide
    even = np.full(own.shape, 1.6, np.float32)
    xs = np.arange(130)[None, :].repeat(20, axis=0)
    # channel alone (0.8 mm), channel and blade (1.3 mm), blade alone past the channel (0.5)
    knife = np.where(xs < 40, 0.8, np.where(xs < 100, 1.3, 0.5)).astype(np.float32)
    assert thickness_steps(even[own], own) == pytest.approx(1.0)
    assert thickness_steps(knife[own], own) < 0.55


@pytest.mark.parametrize("tilt", [55.0, 65.0])
def test_a_tilted_utility_knife_is_no_zip(
    machine: tuple[MachineProfile, Calibration], tilt: float
) -> None:
    prof, cal = machine
    t = utility_knife(np.random.default_rng(0))
    knife = Thing(t.cls, t.parts, tilt, t.threat, None)
    ph = render_scene(prof, [(knife, 20.0, (150, 150))], seed=3, clothes_cm=3.0)
    res = screen(encode_png(ph.image, 0), cal, decl(CLOTHES, SHOES))
    assert res.state is XrayState.SUSPECT, res.reasons
    assert any(f.signature.kind is SigKind.BLADE and not f.explained_by for f in res.findings), [
        f.signature.detail for f in res.findings
    ]


def test_a_pair_of_shoes_still_explains_its_shanks(
    machine: tuple[MachineProfile, Calibration],
) -> None:
    prof, cal = machine
    pair = shoes(np.random.default_rng(1))
    flat = Thing(pair.cls, pair.parts, 5.0, None, pair.goods)
    ph = render_scene(prof, [(flat, 0.0, (60, 60))], seed=3)
    res = screen(encode_png(ph.image, 0), cal, decl(SHOES))
    strips = [f for f in res.findings if f.signature.kind is SigKind.STRIP]
    assert strips and all(f.explained_by for f in strips)
    assert not [f for f in res.findings if f.signature.kind is SigKind.BLADE]


def _block(long_mm: float, short_mm: float) -> Signature:
    box = (100, 100, 200, 60)
    return Signature(SigKind.BATTERY, 0.8, box, 0.8, "", 30.0, (long_mm, short_mm), steel_mm=1.3)


def test_a_phone_explains_a_flat_cell_not_a_long_bar() -> None:
    one = Declaration(
        kind=DocKind.POSTAL,
        message_type="CN22",
        business_key="k",
        lines=(GoodsLine(gnum=1, hs_code=PHONE[0], name=PHONE[1], qty=Decimal(1)),),
    )
    assert explain([_block(95.0, 58.0)], one)[0].explained_by
    assert not explain([_block(140.0, 22.0)], one)[0].explained_by


def _bank_and_blade(machine: tuple[MachineProfile, Calibration], at: tuple[int, int]) -> XrayState:
    """A 4-cell power bank and a flat ceramic knife turned 90°, its blade at ``at``."""
    prof, cal = machine
    bank = power_bank(np.random.default_rng(2), cells=4)
    t = ceramic_knife(np.random.default_rng(5))
    flat = Thing(t.cls, t.parts, 0.0, t.threat, None)
    ph = render_scene(prof, [(bank, 0.0, (200, 160)), (flat, 90.0, at)], seed=4)
    return screen(encode_png(ph.image, 0), cal, decl(CLOTHES, POWER_BANK)).state


def test_a_ceramic_knife_across_a_power_bank_is_not_the_power_bank(
    machine: tuple[MachineProfile, Calibration],
) -> None:
    """Blade and cells merge into one ragged METAL region, 179 x 82 mm: cleared before."""
    assert _bank_and_blade(machine, (180, 230)) is XrayState.SUSPECT


def test_a_ceramic_knife_end_on_against_a_power_bank(
    machine: tuple[MachineProfile, Calibration],
) -> None:
    """Blade and cells merge into one compact block: no longer a rectangle, so no power
    bank's cell block (``explain.CONVEX``; a known hole until then)."""
    assert _bank_and_blade(machine, (220, 180)) is XrayState.SUSPECT


def test_a_power_bank_alone_clears(machine: tuple[MachineProfile, Calibration]) -> None:
    prof, cal = machine
    bank = power_bank(np.random.default_rng(2), cells=4)
    ph = render_scene(prof, [(bank, 0.0, (200, 160))], seed=4)
    res = screen(encode_png(ph.image, 0), cal, decl(CLOTHES, POWER_BANK))
    assert res.state is XrayState.CLEARED, res.reasons


def _tin_and_blade(machine: tuple[MachineProfile, Calibration], knife: bool) -> ScreenResult:
    """A tin lying down and, if asked, a flat ceramic knife whose blade lies along its end."""
    prof, cal = machine
    things = [(tin(np.random.default_rng(1)), 0.0, (250, 150))]
    if knife:
        t = ceramic_knife(np.random.default_rng(5))
        things.append((Thing(t.cls, t.parts, 0.0, t.threat, None), 80.0, (300, 60)))
    ph = render_scene(prof, things, seed=6)
    return screen(encode_png(ph.image, 0), cal, decl(CLOTHES, TIN))


def test_a_ceramic_knife_by_a_tin_is_not_the_tin(
    machine: tuple[MachineProfile, Calibration],
) -> None:
    """The can alone is explained (on sandwich-120 it also reads as a cell block, a known
    false alarm); merged with the blade it is a ragged region no tin explains."""
    alone = _tin_and_blade(machine, knife=False)
    assert [f.explained_by for f in alone.findings if f.signature.kind is SigKind.METAL] in (
        [],
        [TIN[1]],
    )
    both = _tin_and_blade(machine, knife=True)
    assert both.state is XrayState.SUSPECT
    assert any(f.signature.kind is SigKind.METAL and not f.explained_by for f in both.findings)


def test_a_tin_explains_a_convex_can_only() -> None:
    can = Signature(SigKind.METAL, 1.0, (100, 100, 150, 120), 1.0, "", 50.0, (90.0, 72.0))
    merged = Signature(
        SigKind.METAL, 1.0, (100, 100, 200, 220), 1.0, "", 80.0, (148.0, 108.0), solidity=0.74
    )
    assert explain([can], decl(TIN))[0].explained_by
    assert not explain([merged], decl(TIN))[0].explained_by


def test_one_metal_region_is_explained_by_one_line_or_none() -> None:
    """Held-out seed 1,000,275: a ceramic knife on a phone; the phone explained the merged
    region's metal and a pouch of coins its thick part, which no phone shows. Now no line
    explains any of it: the phone cannot take the thick part, the coins not the metal."""
    box = (422, 270, 158, 224)
    core = (0.95, 95.0, 0.0)  # read as a phone's cell (explain.CORE)
    metal = Signature(SigKind.METAL, 1.0, box, 63.9, "", 63.9, (127.0, 88.0), core=core)
    thick = Signature(SigKind.THICK_METAL, 1.0, box, 9.8, "", 9.8, (127.0, 88.0))
    coins = ("7118900000", "commemorative coins 纪念币")
    got = explain([metal, thick], decl(PHONE, coins))
    assert [f.explained_by for f in got] == ["", ""]
    small = Signature(SigKind.THICK_METAL, 1.0, box, 3.0, "", 3.0, (127.0, 88.0))
    assert [f.explained_by for f in explain([metal, small], decl(PHONE, coins))] == [
        PHONE[1],
        PHONE[1],
    ]


def test_a_region_left_part_unexplained_is_explained_by_no_line() -> None:
    """The line that took a region's first signature could take its second then, but another
    region used that budget first: neither signature of the first region is explained."""
    big = (100, 100, 100, 100)
    cell = (0.95, 60.0, 0.0)  # read as a phone's cell (explain.CORE)
    metal = Signature(SigKind.METAL, 1.0, big, 100.0, "", 100.0, (60.0, 60.0), core=cell)
    thick = Signature(SigKind.THICK_METAL, 1.0, big, 4.0, "", 4.0, (60.0, 60.0))
    inner = Signature(SigKind.THICK_METAL, 1.0, (120, 120, 20, 20), 4.5, "", 4.5, (12.0, 12.0))
    got = explain([metal, thick, inner], decl(PHONE))
    assert [f.explained_by for f in got] == ["", "", PHONE[1]]
