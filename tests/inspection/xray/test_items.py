"""Regions are explained item by item: within one item's outline, by the line that fits."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import numpy as np
import pytest

from clearline.bench.xray_phys import machine_calibration
from contracts.statuses import XrayState
from devices.xray_image import encode_png
from inspection.model import Declaration, DocKind, GoodsLine
from inspection.xray.calibration import Calibration
from inspection.xray.explain import explain
from inspection.xray.screen import screen
from inspection.xray.signatures import SigKind, Signature
from simulators.xray.catalogue import Thing, phone, pliers, power_bank
from simulators.xray.phantom import render_scene
from simulators.xray.physics import MachineProfile, load_profiles
from simulators.xray.solids import Cyl, Plate, rect
from simulators.xray.threats import knife

PROF: MachineProfile = load_profiles()["eff-60-100"].model_copy(
    update={"width_px": 640, "height_px": 480}
)
CLOTHES = ("6109100021", "cotton T-shirt")
PHONE = ("8517130000", "mobile phone")
POWER_BANK = ("8507600090", "power bank")
PLIERS = ("8203200000", "pliers")
UMBRELLA = ("6601910000", "umbrella")


@pytest.fixture(scope="module")
def cal() -> Calibration:
    return machine_calibration(PROF)


def decl(*goods: tuple[str, str]) -> Declaration:
    lines = tuple(
        GoodsLine(gnum=i, hs_code=hs, name=n, qty=Decimal(1)) for i, (hs, n) in enumerate(goods, 1)
    )
    return Declaration(kind=DocKind.POSTAL, message_type="CN22", business_key="k", lines=lines)


def png_of(things: list[tuple[Thing, float, tuple[int, int]]]) -> bytes:
    return encode_png(render_scene(PROF, things, seed=1, clothes_cm=4.0).image, 0)


def region(kind: SigKind, at: tuple[float, float], size: tuple[float, float]) -> Signature:
    """A region of ``size`` mm whose rectangle starts at ``at`` mm on the belt."""
    (x, y), (length, width) = at, size
    corners = ((x, y), (x + length, y), (x + length, y + width), (x, y + width))
    area = length * width / 100.0 * 0.8
    return Signature(kind, 1.0, (0, 0, 1, 1), area, "", area, size, outline=corners)


def flat(thing: Thing) -> Thing:
    return dataclasses.replace(thing, tilt_deg=0.0)


def test_an_item_explains_only_regions_lying_within_its_own_outline() -> None:
    cells = region(SigKind.BATTERY, (0.0, 0.0), (66.0, 54.0))
    near = region(SigKind.METAL, (70.0, 0.0), (60.0, 40.0))
    far = region(SigKind.METAL, (300.0, 200.0), (60.0, 40.0))
    assert all(f.explained_by for f in explain([cells, near], decl(POWER_BANK)))
    found = explain([cells, far], decl(POWER_BANK))
    assert found[0].explained_by and not found[1].explained_by


def test_a_region_goes_to_the_line_that_can_take_it_whatever_the_order() -> None:
    """A phone's block fits a tool's size too; first fit gave it to the pliers."""
    block = region(SigKind.METAL, (0.0, 0.0), (94.0, 68.0))
    arm = region(SigKind.METAL, (300.0, 0.0), (204.0, 18.0))
    found = explain([block, arm], decl(PLIERS, PHONE))
    assert [f.explained_by for f in found] == [PHONE[1], PLIERS[1]]


@pytest.mark.parametrize("seed", [0, 2])
def test_pliers_show_jaws_and_two_arms_and_one_declared_pair_explains_them(
    cal: Calibration, seed: int
) -> None:
    png = png_of([(pliers(np.random.default_rng(seed)), 30.0, (200, 150))])
    res = screen(png, cal, decl(CLOTHES, PLIERS))
    thick = [f for f in res.findings if f.signature.kind is SigKind.THICK_METAL]
    assert len(thick) == 2 and all(f.explained_by == PLIERS[1] for f in thick)
    assert res.state is XrayState.CLEARED, res.reasons
    assert screen(png, cal, decl(CLOTHES)).state is XrayState.SUSPECT


def test_a_power_bank_does_not_explain_a_metal_plate_across_the_parcel(cal: Calibration) -> None:
    bank = flat(power_bank(np.random.default_rng(4), 4))
    plate = Thing("plate", [Plate("steel", 0, 60, rect(0, 40), 0, 0.6)], 0.0, None, None)
    far = screen(
        png_of([(bank, 10.0, (120, 120)), (plate, 0.0, (450, 300))]), cal, decl(CLOTHES, POWER_BANK)
    )
    assert far.state is XrayState.SUSPECT
    assert any(f.signature.kind is SigKind.METAL and not f.explained_by for f in far.findings)
    alone = screen(png_of([(bank, 10.0, (120, 120))]), cal, decl(CLOTHES, POWER_BANK))
    assert alone.state is XrayState.CLEARED, alone.reasons


def test_a_shaft_across_a_phone_is_cut_off_and_never_explained(cal: Calibration) -> None:
    """The phone's block is explained on its own; the shaft cut off it never is.

    A long part (at least 150 mm, longer than a knife's handle) waits for an inspector;
    shorter ends, which may be a handle whose blade is hidden in the block, are an alarm.
    """
    shaft = Thing("umbrella", [Cyl("steel", 0, 260, 0, 0, 5.0, 4.4)], 0.0, None, UMBRELLA)
    one = flat(phone(np.random.default_rng(1)))
    goods = decl(CLOTHES, PHONE, UMBRELLA)
    near_end = screen(png_of([(one, 0.0, (250, 60)), (shaft, 90.0, (400, 40))]), cal, goods)
    cut = [f for f in near_end.findings if f.signature.cut]
    assert len(cut) == 1 and not cut[0].explained_by and cut[0].signature.size_mm[0] >= 150
    assert any(f.explained_by == PHONE[1] for f in near_end.findings)
    assert near_end.state is XrayState.PENDING
    assert any("lies across another item" in r for r in near_end.reasons), near_end.reasons
    middle = screen(png_of([(one, 0.0, (250, 180)), (shaft, 90.0, (400, 60))]), cal, goods)
    cut = [f for f in middle.findings if f.signature.cut]
    assert len(cut) == 2 and not any(f.explained_by for f in cut)
    assert middle.state is XrayState.SUSPECT


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_knife_across_a_phone_is_not_cleared_by_cutting_it_apart(
    cal: Calibration, seed: int
) -> None:
    """Cut off, the knife's handle is a strip an umbrella could explain; its blade stays."""
    blade = flat(knife(np.random.default_rng(seed)))
    one = flat(phone(np.random.default_rng(1)))
    res = screen(
        png_of([(one, 0.0, (250, 180)), (blade, 80.0, (300, 60))]),
        cal,
        decl(CLOTHES, PHONE, UMBRELLA),
    )
    assert res.state is XrayState.SUSPECT, [f.as_dict() for f in res.findings]
