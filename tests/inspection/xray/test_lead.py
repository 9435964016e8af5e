"""Lead on machines whose energies put it below organic, among the metals, or on organic.

Lead's K-edge (88.0 keV) moves where lead reads from one machine to the next, so the
calibration measures it with a lead wedge. The probe machines here are not evaluation
profiles (``machines.json``): they are built in the test from energies and detector layers.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import xraydb
from typer.testing import CliRunner

from clearline.xray_cli import xray_app
from contracts.statuses import XrayState
from devices.xray_image import encode_png
from edge.line.screening import load_calibration
from inspection.model import Declaration, DocKind, GoodsLine
from inspection.xray.calibration import WEDGE_MATERIALS, Calibration, calibrate
from inspection.xray.screen import screen
from simulators.xray.catalogue import Thing
from simulators.xray.phantom import render_scene, render_wedge
from simulators.xray.physics import Layer, MachineProfile
from simulators.xray.solids import Plate, rect

SIZE = {"width_px": 512, "height_px": 400}

#: Straddles the K-edge: lead reads below organic.
EFF_55_95 = MachineProfile(name="probe-55-95", kind="effective", low_kev=55, high_kev=95, **SIZE)
#: Straddles it so that lead reads like organic matter.
EFF_70_130 = MachineProfile(name="probe-70-130", kind="effective", low_kev=70, high_kev=130, **SIZE)
#: A hard sandwich machine: lead reads among the metals when thin, near organic when thick.
SANDWICH_160 = MachineProfile(
    name="probe-sandwich-160",
    kind="sandwich",
    kvp=160,
    filters=(Layer(material="aluminium", mm=3.0), Layer(material="copper", mm=0.5)),
    front=Layer(material="gos", mm=0.3),
    interlayer=Layer(material="copper", mm=1.0),
    back=Layer(material="csi", mm=5.0),
    **SIZE,
)
EFF_60_100 = MachineProfile(name="probe-60-100", kind="effective", low_kev=60, high_kev=100, **SIZE)

CLOTHES = Declaration(
    kind=DocKind.POSTAL,
    message_type="CN22",
    business_key="k",
    category="sale_of_goods",
    lines=(GoodsLine(gnum=1, hs_code="6109100000", name="T-shirts 棉制T恤", qty=Decimal(2)),),
)


def machine(profile: MachineProfile) -> Calibration:
    """Calibrate a probe machine from its own four wedges."""
    wedges = {}
    for b in WEDGE_MATERIALS:
        img = render_wedge(profile, b)
        wedges[b] = (img.low, img.high)
    return calibrate(profile.name, wedges)


def foil(mm: float, length: float = 120.0, width: float = 80.0) -> Thing:
    """A flat lead sheet ``mm`` thick, ``length`` x ``width`` mm."""
    parts = [Plate("lead", 0, length, rect(0, width), 0, mm)]
    return Thing("lead_foil", parts, 0.0, "lead", None)


def test_lead_wedge_reads_the_tabulated_ratio() -> None:
    cal = machine(EFF_60_100)
    mu = xraydb.material_mu("Pb", [60000.0, 100000.0], density=11.35)
    _, ratio, _ = cal.table("lead")
    assert float(np.median(ratio)) == pytest.approx(mu[0] / mu[1], rel=0.03)
    _, z = cal.lead_z()
    assert float(np.median(z)) < -0.4  # below organic: the K-edge lies between 60 and 100 keV


@pytest.mark.parametrize("mm", [0.1, 0.2, 0.4])
def test_lead_sheet_is_high_z_where_lead_reads_just_below_organic(mm: float) -> None:
    cal = machine(EFF_55_95)
    _, z = cal.lead_z()
    assert -0.5 < float(np.median(z)) < -0.3  # inside the fixed 0.5 margin: only the curve finds it
    ph = render_scene(EFF_55_95, [(foil(mm), 20.0, (150, 120))], seed=1, clothes_cm=4.0)
    res = screen(encode_png(ph.image, 0), cal, CLOTHES)
    assert res.state is XrayState.SUSPECT
    kinds = {f.signature.kind.value for f in res.findings if not f.explained_by}
    assert "HIGH_Z" in kinds


@pytest.mark.parametrize("mm", [0.1, 0.2, 0.4, 0.8])
@pytest.mark.parametrize("profile", [EFF_70_130, SANDWICH_160], ids=lambda p: p.name)
def test_where_lead_reads_like_organic_a_lead_sheet_is_never_cleared(
    profile: MachineProfile, mm: float
) -> None:
    cal = machine(profile)
    assert cal.lead_blind(0.3) is not None
    hidden = render_scene(profile, [(foil(mm), 20.0, (150, 120))], seed=1, clothes_cm=4.0)
    res = screen(encode_png(hidden.image, 0), cal, CLOTHES)
    assert res.state is not XrayState.CLEARED, res.reasons


def test_only_matter_in_the_blind_span_holds_an_image() -> None:
    """70/130 keV reads lead like organic from 0.17 to 2.6 A_high: even clothes may be lead.

    The 160 kVp machine does so only from 0.4 (thick lead reads lower): clothes clear there.
    """
    blind = machine(EFF_70_130)
    clothes = render_scene(EFF_70_130, [], seed=1, clothes_cm=4.0)
    res = screen(encode_png(clothes.image, 0), blind, CLOTHES)
    assert res.state is XrayState.PENDING and res.lead_blind
    assert any("reads lead like organic matter" in r for r in res.reasons)
    hard = machine(SANDWICH_160)
    clothes = render_scene(SANDWICH_160, [], seed=1, clothes_cm=4.0)
    assert screen(encode_png(clothes.image, 0), hard, CLOTHES).state is XrayState.CLEARED


def test_the_same_clothes_clear_on_a_machine_that_sees_lead() -> None:
    cal = machine(EFF_60_100)
    assert cal.lead_blind(0.3) is None
    clothes = render_scene(EFF_60_100, [], seed=1, clothes_cm=4.0)
    assert screen(encode_png(clothes.image, 0), cal, CLOTHES).state is XrayState.CLEARED


def test_a_version_1_calibration_is_refused_everywhere(tmp_path: Path) -> None:
    doc = json.loads(machine(EFF_60_100).model_dump_json())
    doc["version"] = 1
    del doc["curves"]["lead"]
    with pytest.raises(ValueError, match="version 1"):
        Calibration.model_validate(doc)
    folder = tmp_path / "cal"
    folder.mkdir()
    (folder / "xr1.json").write_text(json.dumps(doc), "utf-8")
    assert load_calibration(folder / "xr1.json", "xr1") is None  # the edge: uncalibrated
    png = tmp_path / "a.png"
    png.write_bytes(encode_png(render_scene(EFF_60_100, [], seed=1).image, 0))
    r = CliRunner().invoke(
        xray_app,
        ["screen", str(png), "--machine", "xr1", "--calibration-dir", str(folder)],
    )
    assert r.exit_code == 2
    assert "version 1" in r.output and "xr1.json" in r.output
