"""Fail-safe pre-screen: refuses without calibration, never explains away a threat signature."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clearline.bench.xray_phys import machine_calibration
from clearline.xray_cli import xray_app
from contracts.statuses import XrayState
from devices.xray_image import encode_png
from inspection.model import Declaration, DocKind, GoodsLine
from inspection.xray.calibration import Calibration
from inspection.xray.explain import BUDGETS, explain, family
from inspection.xray.findings import _solid
from inspection.xray.screen import NEVER_EXPLAINED, screen
from inspection.xray.signatures import SigKind, Signature
from simulators.xray.catalogue import Thing, laptop, power_bank
from simulators.xray.phantom import render_scene
from simulators.xray.physics import MachineProfile, load_profiles
from simulators.xray.solids import Plate, rect
from simulators.xray.threats import ceramic_knife, lead_foil, utility_knife

PROF: MachineProfile = load_profiles()["eff-60-100"].model_copy(
    update={"width_px": 640, "height_px": 480}
)


@pytest.fixture(scope="module")
def cal() -> Calibration:
    return machine_calibration(PROF)


def decl(*goods: tuple[str, str], qty: int = 1) -> Declaration:
    lines = tuple(
        GoodsLine(gnum=i, hs_code=hs, name=n, qty=Decimal(qty))
        for i, (hs, n) in enumerate(goods, 1)
    )
    return Declaration(kind=DocKind.POSTAL, message_type="CN22", business_key="k", lines=lines)


CLOTHES = ("6109100021", "cotton T-shirt")
TOY = ("9503008900", "plastic toy car")
POWER_BANK = ("8507600090", "power bank")
PHONE = ("8517130000", "mobile phone")
LAPTOP = ("8471300000", "laptop computer")


def png_of(things: list[tuple[object, float, tuple[int, int]]], clothes_cm: float = 4.0) -> bytes:
    ph = render_scene(PROF, things, seed=1, clothes_cm=clothes_cm)  # type: ignore[arg-type]
    return encode_png(ph.image, 0)


def test_no_calibration_means_pending_not_a_guess() -> None:
    res = screen(png_of([]), None, decl(CLOTHES))
    assert res.state is XrayState.PENDING and not res.findings
    assert "calibration" in res.reasons[0]


def test_calibration_of_another_detector_width_means_pending(cal: Calibration) -> None:
    other = PROF.model_copy(update={"width_px": 512})
    ph = render_scene(other, [], seed=1)
    res = screen(encode_png(ph.image, 0), cal, decl(CLOTHES))
    assert res.state is XrayState.PENDING


def test_clothes_alone_clear_and_need_a_declaration(cal: Calibration) -> None:
    png = png_of([])
    assert screen(png, cal, decl(CLOTHES)).state is XrayState.CLEARED
    assert screen(png, cal, None).state is XrayState.PENDING


def test_lead_foil_is_high_z_whatever_is_declared(cal: Calibration) -> None:
    foil = lead_foil(np.random.default_rng(2))
    foil = type(foil)(foil.cls, foil.parts, 0.0, foil.threat, None)
    png = png_of([(foil, 0.0, (200, 150))])
    everything = decl(*(("7806000000", "lead sheet"), CLOTHES, POWER_BANK, TOY))
    res = screen(png, cal, everything)
    kinds = {f.signature.kind for f in res.findings if f.signature.score >= 0.5}
    assert kinds & {SigKind.HIGH_Z, SigKind.IMPENETRABLE}
    assert res.state is XrayState.SUSPECT


def test_edge_on_utility_knife_is_seen_at_full_resolution(cal: Calibration) -> None:
    knife = utility_knife(np.random.default_rng(0))
    knife = type(knife)(knife.cls, knife.parts, 90.0, knife.threat, None)
    res = screen(png_of([(knife, 30.0, (250, 150))]), cal, decl(CLOTHES))
    edge = [f for f in res.findings if f.signature.kind is SigKind.EDGE_BLADE]
    assert edge and max(f.signature.score for f in edge) >= 0.5
    assert res.state is XrayState.SUSPECT


def test_cells_in_a_toy_are_not_explained_but_a_declared_power_bank_is(cal: Calibration) -> None:
    bank = power_bank(np.random.default_rng(4), 4)
    bank = type(bank)(bank.cls, bank.parts, 0.0, None, bank.goods)
    png = png_of([(bank, 10.0, (220, 160))])
    as_toy = screen(png, cal, decl(CLOTHES, TOY))
    assert as_toy.state is XrayState.SUSPECT
    assert any(f.signature.kind is SigKind.BATTERY and not f.explained_by for f in as_toy.findings)
    as_bank = screen(png, cal, decl(CLOTHES, POWER_BANK))
    assert as_bank.state is XrayState.CLEARED, as_bank.reasons


def test_a_declaration_can_only_add_suspicion(cal: Calibration) -> None:
    png = png_of([])
    res = screen(png, cal, decl(CLOTHES, ("8211910000", "kitchen knife")))
    assert res.state is XrayState.SUSPECT


def test_never_kinds_are_never_in_a_budget() -> None:
    for budget in BUDGETS.values():
        assert not {kind for kind, _, _ in budget} & NEVER_EXPLAINED
    sig = [Signature(k, 1.0, (0, 0, 1, 1), 1.0, "", 1.0) for k in NEVER_EXPLAINED]
    every = decl(
        *((hs, n) for hs, n in (CLOTHES, TOY, POWER_BANK, PHONE, ("8203200000", "pliers")))
    )
    assert all(not f.explained_by for f in explain(sig, every))


def test_budget_counts_regions_and_quantity_multiplies() -> None:
    cells = [
        Signature(SigKind.BATTERY, 1.0, (0, 2 * i, 1, 1), 1.0, "", 40.0, steel_mm=1.3)
        for i in range(3)
    ]
    assert sum(bool(f.explained_by) for f in explain(cells, decl(PHONE))) == 1
    assert sum(bool(f.explained_by) for f in explain(cells, decl(PHONE, qty=2))) == 2
    assert not any(f.explained_by for f in explain(cells, decl(TOY)))
    big = [Signature(SigKind.METAL, 1.0, (0, 0, 1, 1), 1.0, "", 80.0)]
    assert not explain(big, decl(TOY))[0].explained_by  # a toy shows a motor, not 80 cm²


def test_family_by_heading_chapter_and_name() -> None:
    assert family(GoodsLine(gnum=1, hs_code="8471300000")) == "computer"
    assert family(GoodsLine(gnum=1, hs_code="9503000000")) == "toy"
    assert family(GoodsLine(gnum=1, name="充电宝")) == "power_bank"
    assert family(GoodsLine(gnum=1, name="mystery")) is None


def test_cli_calibrates_and_replays_stored_images(tmp_path: Path) -> None:
    run = CliRunner()
    small = ["--machine", "eff-60-100"]
    r = run.invoke(xray_app, ["wedge", *small, "--out", str(tmp_path / "w")])
    assert r.exit_code == 0, r.output
    w = tmp_path / "w"
    r = run.invoke(
        xray_app,
        [
            "calibrate",
            *small,
            "--organic",
            str(w / "organic.png"),
            "--aluminium",
            str(w / "aluminium.png"),
            "--steel",
            str(w / "steel.png"),
            "--lead",
            str(w / "lead.png"),
            "--calibration-dir",
            str(tmp_path / "cal"),
        ],
    )
    assert r.exit_code == 0, r.output
    # σ 0.5 px at 0.6 mm: a line spread of about 0.62 mm, within the rules' 1.15 mm.
    assert "line spread 1.0" in r.output and "within the blur the line rules were set on" in (
        r.output
    ), r.output
    r = run.invoke(
        xray_app,
        ["phantoms", *small, "--out", str(tmp_path / "p"), "--count", "2", "--threat", "gun"],
    )
    assert r.exit_code == 0, r.output
    pngs = sorted(str(p) for p in (tmp_path / "p").glob("*.png"))
    r = run.invoke(
        xray_app,
        [
            "screen",
            *pngs,
            *small,
            "--json",
            "--calibration-dir",
            str(tmp_path / "cal"),
            "--declarations",
            str(tmp_path / "p" / "declarations.json"),
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["calibrated"] and len(doc["images"]) == 2
    for row in doc["images"]:
        assert row["state"] == "SUSPECT" and row["flags"] and row["regions"]
    at = [*small, "--json", "--calibration-dir", str(tmp_path / "cal"), "--pixel-mm", "1.2"]
    coarse = json.loads(run.invoke(xray_app, ["screen", pngs[0], *at]).output)["images"][0]
    longest = [max(g["size_mm"][0] for g in row["regions"]) for row in (coarse, doc["images"][0])]
    assert longest[0] > 1.8 * longest[1], longest  # every rule in mm, at the machine's own pitch
    r = run.invoke(
        xray_app,
        [
            "screen",
            pngs[0],
            "--machine",
            "uncalibrated",
            "--json",
            "--calibration-dir",
            str(tmp_path / "cal"),
        ],
    )
    assert json.loads(r.output)["images"][0]["state"] == "PENDING"


def test_a_thin_organic_wall_on_its_edge_is_no_blade(cal: Calibration) -> None:
    wall = Thing("board", [Plate("pmma", 0, 150, rect(0, 60), 0, 2.0)], 90.0, None, None)
    res = screen(png_of([(wall, 20.0, (200, 150))]), cal, decl(CLOTHES))
    assert not [f for f in res.findings if f.signature.kind is SigKind.EDGE_BLADE]


def test_an_edge_on_ceramic_knife_is_a_blade(cal: Calibration) -> None:
    blade = ceramic_knife(np.random.default_rng(3))
    blade = type(blade)(blade.cls, blade.parts, 90.0, blade.threat, None)
    res = screen(png_of([(blade, 20.0, (200, 150))]), cal, decl(CLOTHES))
    assert res.state is XrayState.SUSPECT, res.reasons


def test_a_declared_laptop_waits_for_an_inspector_as_it_can_hide_things(cal: Calibration) -> None:
    pc = laptop(np.random.default_rng(5))
    pc = type(pc)(pc.cls, pc.parts, 0.0, None, pc.goods)
    res = screen(png_of([(pc, 5.0, (120, 100))]), cal, decl(CLOTHES, LAPTOP))
    assert res.state is XrayState.PENDING, res.reasons
    assert any("cannot be read" in r for r in res.reasons)
    blade = ceramic_knife(np.random.default_rng(3))
    with_blade = png_of([(pc, 5.0, (120, 100)), (blade, 30.0, (200, 160))])
    assert screen(with_blade, cal, decl(CLOTHES, LAPTOP)).state is not XrayState.CLEARED


def test_an_impenetrable_line_one_pixel_wide_is_no_hiding_place() -> None:
    mask = np.zeros((40, 40), bool)
    mask[5, 2:38] = True  # the blurred edge of a shank seen edge-on
    mask[20:26, 20:26] = True  # a block that can hide something
    solid = _solid(mask)
    assert not solid[5].any() and solid[20:26, 20:26].all()
