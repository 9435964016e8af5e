"""Short dark lines along a block of cells' side, as long as it, are the cells' ends.

18650 cells side by side in a power bank lying flat show their end caps as one line, 18 mm
per cell, as dark as a tungsten sheet on its edge. The block is a BATTERY of its own, which
only a declared power bank, phone or laptop explains; a short line within it that runs along
one of its sides and spans most of it is not read. Until 2026-12-07 every short line whose
box lay within the block's box was let go, and a tungsten sheet lying on a declared phone
cleared on four machines (held-out seed 1,001,238; docs/xray-prescreen-changes.md, the
twenty-fifth change).
"""

from __future__ import annotations

import numpy as np
import pytest

from clearline.bench.xray_phys import declaration_of, machine_calibration
from contracts.statuses import XrayState
from devices.xray_image import encode_png
from inspection.xray.calibration import Calibration
from inspection.xray.findings import find_signatures
from inspection.xray.lines import edge_lines
from inspection.xray.screen import screen
from inspection.xray.signatures import SigKind, Signature, SignatureConfig, attenuations
from simulators.xray.catalogue import Thing, power_bank
from simulators.xray.phantom import Phantom, render_phantom, render_scene
from simulators.xray.physics import MachineProfile, load_profiles
from simulators.xray.solids import Plate, rect
from tests.inspection.xray.peer import cells
from tests.inspection.xray.scans import small_machine
from tests.inspection.xray.test_dense_sheets import NO_SHORT
from tests.inspection.xray.test_liquids import decl
from tests.inspection.xray.test_peer_machine import POWER_BANK, SHIRT, _parcel, declared, peer


@pytest.fixture(scope="module", params=("eff-60-100", "sandwich-120"))
def machine(request: pytest.FixtureRequest) -> tuple[MachineProfile, Calibration]:
    return small_machine(request.param)


def _flat_bank(prof: MachineProfile, cells: int, angle: float, *extra: Thing) -> Phantom:
    """A power bank of ``cells`` cells lying flat, turned ``angle`` on the belt."""
    bank = power_bank(np.random.default_rng(1), cells)
    flat = Thing(bank.cls, bank.parts, 0.0, bank.threat, bank.goods)
    things = [(flat, angle, (200, 150)), *((t, 90.0, (230, 170)) for t in extra)]
    return render_scene(prof, things, seed=3, clothes_cm=1.0)


def _short(sigs: list[Signature]) -> list[str]:
    """Details of the short dark lines among signatures."""
    return [s.detail for s in sigs if "short dark line" in s.detail]


@pytest.mark.parametrize("cells", [2, 3, 4])
@pytest.mark.parametrize("angle", [0.0, 30.0, 90.0])
def test_a_declared_power_bank_lying_flat_clears(
    machine: tuple[MachineProfile, Calibration], cells: int, angle: float
) -> None:
    """Its caps make a short dark line; within the cells' block it is not read as a sheet."""
    prof, cal = machine
    image = _flat_bank(prof, cells, angle).image
    cfg = SignatureConfig()
    a_low, a_high = attenuations(image.low, image.high, cal)
    assert _short(edge_lines(a_low, a_high, cal, cfg)), "the caps make no dark line at all"
    sigs, _ = find_signatures(image.low, image.high, cal, cfg)
    assert any(s.kind is SigKind.BATTERY for s in sigs)
    assert not _short(sigs)
    res = screen(encode_png(image, 0), cal, decl(POWER_BANK))
    assert res.state is XrayState.CLEARED, res.reasons


def test_the_cells_undeclared_are_still_held(machine: tuple[MachineProfile, Calibration]) -> None:
    """The same block with a T-shirt declared: the BATTERY itself is unexplained."""
    prof, cal = machine
    res = screen(encode_png(_flat_bank(prof, 3, 30.0).image, 0), cal, decl(SHIRT))
    assert res.state is XrayState.SUSPECT, res.reasons


def test_a_tungsten_sheet_within_a_declared_power_bank_is_held(
    machine: tuple[MachineProfile, Calibration],
) -> None:
    """30 mm long across a block of three cells: no caps line is so short or runs so."""
    prof, cal = machine
    sheet = Thing(
        "tungsten", [Plate("tungsten", 0, 30, rect(0, 20.0), 0, 3.0)], 90.0, "tungsten", None
    )
    res = screen(encode_png(_flat_bank(prof, 3, 0.0, sheet).image, 0), cal, decl(POWER_BANK))
    assert res.state is XrayState.SUSPECT, res.reasons


@pytest.mark.parametrize("x_mm", [120.0, 280.0])
def test_a_sheet_beside_a_declared_power_bank_on_the_second_machine(x_mm: float) -> None:
    """On the second machine (``tests/inspection/xray/peer.py``, no code shared with the
    simulator), three cells in a case with a power bank declared clear; a 3 mm tungsten sheet
    on its edge beside them, turned 33°, is a short dark line outside their block, and with
    no short-line rule the parcel cleared."""
    declaration = declared(SHIRT, POWER_BANK)
    bank = screen(cells(_parcel(), 190, 140, 3, 20).png(7), peer()[1], declaration)
    assert bank.state is XrayState.CLEARED, bank.reasons
    scene = cells(_parcel(), 190, 140, 3, 20).box("tungsten", x_mm, 140, 40.0, 3.0, 20.0, 33.0)
    png = scene.png(7)
    res = screen(png, peer()[1], declaration)
    assert res.state is XrayState.SUSPECT, res.reasons
    assert _short([f.signature for f in res.findings]), [f.as_dict() for f in res.findings]
    assert screen(png, peer()[1], declaration, NO_SHORT).state is XrayState.CLEARED


@pytest.mark.parametrize("name", ["eff-60-100", "sandwich-120"])
def test_held_out_seed_1001238_a_tungsten_sheet_on_a_declared_phone_is_held(name: str) -> None:
    """A 54 mm sheet on its edge lying on the phone's cell, along its long side (115 mm)."""
    prof = load_profiles()[name]
    ph = render_phantom(prof, 1_001_238, "tungsten")
    res = screen(encode_png(ph.image, 0), machine_calibration(prof), declaration_of(ph, "238"))
    assert res.state is XrayState.SUSPECT, res.reasons
    assert _short([f.signature for f in res.findings if not f.explained_by]), res.reasons


@pytest.mark.parametrize("angle", [0.0, 90.0])
def test_a_sheet_on_the_cells_on_the_second_machine_is_held(angle: float) -> None:
    """On the second machine a 3 mm sheet 40 mm long on its edge lies on three declared
    cells, along their cans (0°) or along their caps (90°): shorter than the block's side,
    so it is no caps line, and the parcel is held."""
    declaration = declared(SHIRT, POWER_BANK)
    scene = cells(_parcel(), 190, 140, 3, 20).box("tungsten", 190, 140, 40.0, 3.0, 20.0, angle)
    res = screen(scene.png(7), peer()[1], declaration)
    assert res.state is XrayState.SUSPECT, res.reasons
    assert _short([f.signature for f in res.findings if not f.explained_by]), res.reasons
