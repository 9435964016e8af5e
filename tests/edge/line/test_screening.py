"""The edge's pre-screen: one calibration per machine, and no calibration means an inspector."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from clearline.bench.xray_phys import machine_calibration
from contracts.statuses import XrayState
from devices.events import ImageCaptured
from devices.xray_image import encode_png
from edge.config import XrayDevice
from edge.line.screening import COARSE, LEAD_BLIND, UNCALIBRATED, screener
from inspection.model import Declaration, DocKind, GoodsLine
from inspection.xray.calibration import STANDARD_STEPS_MM, WEDGE_MATERIALS, calibrate
from inspection.xray.screen import ScreenConfig, at_pitch, screen
from simulators.line.config import XrayMachineConfig
from simulators.site.xray_worker import wedge_images
from simulators.xray.catalogue import Thing
from simulators.xray.phantom import render_scene
from simulators.xray.physics import MachineProfile, load_profiles
from simulators.xray.solids import Plate, taper
from simulators.xray.threats import lead_foil

PROF: MachineProfile = load_profiles()["eff-60-100"].model_copy(
    update={"width_px": 640, "height_px": 480}
)
AT = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def cal_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cal") / "xr1.json"
    machine_calibration(PROF).model_copy(update={"machine": "xr1"}).save(path)
    return path


def clothes() -> Declaration:
    line = GoodsLine(gnum=1, hs_code="6109100021", name="cotton T-shirt", qty=Decimal(1))
    return Declaration(kind=DocKind.POSTAL, message_type="CN22", business_key="k", lines=(line,))


def image(things: list[tuple[object, float, tuple[int, int]]]) -> ImageCaptured:
    ph = render_scene(PROF, things, seed=1, clothes_cm=4.0)  # type: ignore[arg-type]
    return ImageCaptured("xr1", 7, encode_png(ph.image, 0), AT)


def test_without_calibration_every_image_waits_for_an_inspector() -> None:
    run = screener(XrayDevice(device_id="xr1"))
    got = run(image([]), clothes())
    assert got.state is XrayState.PENDING and got.flags == (UNCALIBRATED,)


def test_unreadable_calibration_file_is_no_calibration(tmp_path: Path) -> None:
    bad = tmp_path / "xr1.json"
    bad.write_text('{"machine": "xr1"}', "utf-8")
    got = screener(XrayDevice(device_id="xr1", calibration=bad))(image([]), clothes())
    assert got.state is XrayState.PENDING and got.flags == (UNCALIBRATED,)
    missing = screener(XrayDevice(device_id="xr1", calibration=tmp_path / "none.json"))
    assert missing(image([]), clothes()).state is XrayState.PENDING


def test_calibrated_machine_clears_declared_clothes_and_flags_lead(cal_file: Path) -> None:
    run = screener(XrayDevice(device_id="xr1", calibration=cal_file))
    plain = run(image([]), clothes())
    assert plain.state is XrayState.CLEARED and plain.flags == () and plain.device_id == "xr1"
    assert run(image([]), None).state is XrayState.PENDING  # nothing to explain it by
    foil = lead_foil(np.random.default_rng(2))
    foil = type(foil)(foil.cls, foil.parts, 0.0, foil.threat, None)
    hot = run(image([(foil, 0.0, (200, 150))]), clothes())
    assert hot.state is XrayState.SUSPECT and "HIGH_Z" in hot.flags and hot.score >= 0.5


def test_a_machine_blind_to_lead_clears_nothing_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """70/130 keV puts lead on the organic curve: what would clear waits, flagged LEAD_BLIND."""
    blind = PROF.model_copy(update={"name": "xr-blind", "low_kev": 70.0, "high_kev": 130.0})
    path = tmp_path / "xr1.json"
    machine_calibration(blind).model_copy(update={"machine": "xr1"}).save(path)
    with caplog.at_level("WARNING"):
        run = screener(XrayDevice(device_id="xr1", calibration=path))
    assert "reads lead like organic matter" in caplog.text
    ph = render_scene(blind, [], seed=1, clothes_cm=4.0)
    got = run(ImageCaptured("xr1", 7, encode_png(ph.image, 0), AT), clothes())
    assert got.state is XrayState.PENDING and got.flags == (LEAD_BLIND,)
    coarse = screener(XrayDevice(device_id="xr1", calibration=path, pixel_mm=0.75))
    got = coarse(ImageCaptured("xr1", 7, encode_png(ph.image, 0), AT), clothes())
    assert got.state is XrayState.PENDING and got.flags == (LEAD_BLIND, COARSE)  # both reasons


def test_unreadable_image_waits(cal_file: Path) -> None:
    run = screener(XrayDevice(device_id="xr1", calibration=cal_file))
    got = run(ImageCaptured("xr1", 8, b"not a png", AT), clothes())
    assert got.state is XrayState.PENDING and got.flags == ("UNREADABLE",)


def test_the_site_machine_calibrates_from_its_own_wedges() -> None:
    machine = XrayMachineConfig(device_id="xr1", width_px=256)
    wedges = wedge_images(machine, 3, STANDARD_STEPS_MM)
    cal = calibrate("xr1", wedges)
    assert cal.width_px == 256
    for base in WEDGE_MATERIALS:
        assert len(cal.curves[base]) >= (2 if base == "lead" else 3)
        highs = [s.a_high for s in cal.curves[base]]
        assert highs == sorted(highs)
    steel, plastic = cal.table("steel"), cal.table("organic")
    assert float(steel[1].mean()) > float(plastic[1].mean())  # steel's low/high ratio is higher


def test_a_clear_needs_both_screens(cal_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The calibrated screen clears declared clothes; a second screen's alarm still holds it."""
    from edge.line import screening

    run = screener(XrayDevice(device_id="xr1", calibration=cal_file))
    assert run(image([]), clothes()).state is XrayState.CLEARED
    monkeypatch.setattr(screening, "xray_state", lambda _result: XrayState.SUSPECT)
    assert run(image([]), clothes()).state is XrayState.SUSPECT
    monkeypatch.setattr(screening, "xray_state", lambda _result: XrayState.PENDING)
    assert run(image([]), clothes()).state is XrayState.PENDING


def test_an_image_too_coarse_for_blades_is_never_auto_cleared(cal_file: Path) -> None:
    """Pixels coarser than the 0.6 mm the rules were set at: what would clear waits."""
    fine = screener(XrayDevice(device_id="xr1", calibration=cal_file, pixel_mm=0.6))
    assert fine(image([]), clothes()).state is XrayState.CLEARED
    for pixel_mm in (0.75, 1.2, 4.8):
        run = screener(XrayDevice(device_id="xr1", calibration=cal_file, pixel_mm=pixel_mm))
        got = run(image([]), clothes())
        assert got.state is XrayState.PENDING and got.flags == (COARSE,), pixel_mm
    foil = lead_foil(np.random.default_rng(2))
    foil = type(foil)(foil.cls, foil.parts, 0.0, foil.threat, None)
    assert run(image([(foil, 0.0, (200, 150))]), clothes()).state is not XrayState.CLEARED


def test_the_screen_measures_at_the_machines_own_pixel_pitch(tmp_path: Path) -> None:
    """Every rule is in mm: a 1.2 mm machine read as if 0.6 mm sees a 75 mm blade 38 mm long.

    Until 2026-12-07 the edge read every machine at 0.6 mm; on the demo's 1.2 mm machine a
    narrow knife among declared pliers then cleared (18 of 18 probed; docs/xray-calibration.md).
    """
    prof = PROF.model_copy(update={"pixel_mm": 1.2, "width_px": 320, "height_px": 240})
    steel = Plate("steel", 0, 75, taper(0, 10, 0, 75, 45), 0, 1.5)
    knife = Thing("knife", [steel], 0.0, "knife", None)
    ph = render_scene(prof, [(knife, 20.0, (90, 80))], seed=1, clothes_cm=2.0)
    captured = ImageCaptured("xr1", 9, encode_png(ph.image, 0), AT)
    path = tmp_path / "xr1.json"
    machine_calibration(prof).model_copy(update={"machine": "xr1"}).save(path)
    pliers = GoodsLine(gnum=1, hs_code="8203200000", name="pliers 钳子", qty=Decimal(1))
    tools = Declaration(kind=DocKind.POSTAL, message_type="CN22", business_key="k", lines=(pliers,))
    own = screener(XrayDevice(device_id="xr1", calibration=path, pixel_mm=1.2))(captured, tools)
    assert own.state is XrayState.SUSPECT and "BLADE" in own.flags, own
    as_if = at_pitch(ScreenConfig(), 0.6)  # how the edge read it before the mend
    assert screen(captured.png, machine_calibration(prof), tools, as_if).state is XrayState.CLEARED
