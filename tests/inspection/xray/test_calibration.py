"""Per-machine calibration from step-wedge images, checked against the published tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xraydb

from inspection.xray.calibration import (
    STANDARD_STEPS_MM,
    WEDGE_MATERIALS,
    Calibration,
    CalibrationError,
    calibrate,
)
from inspection.xray.signatures import SignatureConfig, material_maps
from simulators.xray.phantom import WEDGES, render_wedge
from simulators.xray.physics import MATERIALS, load_profiles

PROFILES = load_profiles()


def wedges(name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    prof = PROFILES[name].model_copy(update={"width_px": 256, "height_px": 400})
    out = {}
    for b in WEDGE_MATERIALS:
        img = render_wedge(prof, b)
        out[b] = (img.low, img.high)
    return out


def test_standard_wedge_matches_the_simulated_one() -> None:
    assert {k: v[1] for k, v in WEDGES.items()} == STANDARD_STEPS_MM


def test_calibration_measures_the_tabulated_ratios_at_effective_energies() -> None:
    cal = calibrate("eff-60-100", wedges("eff-60-100"))
    for base, (formula, density) in (("organic", MATERIALS["pmma"]), ("steel", MATERIALS["steel"])):
        mu = xraydb.material_mu(formula, [60000.0, 100000.0], density=density)
        _, ratio, _ = cal.table(base)
        assert float(np.median(ratio)) == pytest.approx(mu[0] / mu[1], rel=0.03)
    formula, density = MATERIALS["rubber"]
    belt = xraydb.material_mu(formula, [60000.0], density=density)[0] * 0.4  # 4 mm belt
    assert np.mean(cal.air_low) == pytest.approx(60000 * np.exp(-belt), rel=0.01)


def test_calibrated_curves_follow_beam_hardening_on_a_sandwich_machine() -> None:
    cal = calibrate("sandwich-150", wedges("sandwich-150"))
    _, ratio, mm = cal.table("steel")
    assert list(mm) == sorted(mm)
    assert ratio[-1] < ratio[0]  # thick steel reads softer: the measured curve bends


def test_a_saturated_step_is_left_out() -> None:
    cal = calibrate("eff-50-90", wedges("eff-50-90"))
    assert len(cal.curves["steel"]) < len(STANDARD_STEPS_MM["steel"])
    assert all(s.a_low < 6.9 for s in cal.curves["steel"])


def test_wrong_step_count_is_refused() -> None:
    with pytest.raises(CalibrationError, match="wedge steps"):
        calibrate("m", wedges("eff-60-100"), {**STANDARD_STEPS_MM, "steel": (1.0, 2.0)})


def test_missing_wedge_is_refused() -> None:
    w = wedges("eff-60-100")
    del w["aluminium"]
    with pytest.raises(CalibrationError, match="aluminium"):
        calibrate("m", w)


def test_calibration_file_round_trip(tmp_path: Path) -> None:
    cal = calibrate("eff-60-100", wedges("eff-60-100"))
    cal.save(tmp_path / "m.json")
    assert Calibration.load(tmp_path / "m.json") == cal


@pytest.mark.parametrize(
    ("base", "material", "mm"), [("steel", "steel", 0.1), ("organic", "pmma", 2.0)]
)
def test_matter_thinner_than_the_thinnest_step_reads_its_own_thickness(
    base: str, material: str, mm: float
) -> None:
    """0.1 mm of steel and 2 mm of PMMA alone on the belt, attenuations from the tables at
    the machine's two energies: each reads about its thickness, not the thinnest wedge step
    (0.25 mm, 5 mm), and no matter reads as none."""
    cal = calibrate("eff-60-100", wedges("eff-60-100"))
    formula, density = MATERIALS[material]
    mu = xraydb.material_mu(formula, [60000.0, 100000.0], density=density) * (mm / 10.0)
    a_low = np.zeros((40, 40), np.float32)
    a_high = np.zeros((40, 40), np.float32)
    a_low[10:30, 10:30], a_high[10:30, 10:30] = mu[0], mu[1]
    maps = material_maps(a_low, a_high, cal, SignatureConfig())
    read = maps.steel_mm if base == "steel" else maps.organic_mm
    assert float(read[10, 10]) == pytest.approx(mm, rel=0.25)
    assert float(read[0, 0]) == pytest.approx(0.0, abs=0.01)
