"""The material map from two energies: classes, metal equivalent, shares and its config."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from inspection.xray.materials import (
    MaterialClass,
    MaterialConfig,
    classify,
    metal_equivalent,
    shares,
)
from simulators.xray.materials import material

BELT = material("belt_rubber")


def plane(name: str, cm: float) -> tuple[np.ndarray, np.ndarray]:
    """Attenuation of ``cm`` of a material on the 4 mm belt, as a 4 x 4 patch."""
    m = material(name)
    lo = m.linear_low_per_cm * cm + BELT.linear_low_per_cm * 0.4
    hi = m.linear_high_per_cm * cm + BELT.linear_high_per_cm * 0.4
    return np.full((4, 4), lo, np.float32), np.full((4, 4), hi, np.float32)


@pytest.mark.parametrize(
    ("name", "cm", "klass"),
    [
        ("paper", 2.0, MaterialClass.ORGANIC),
        ("cotton", 4.0, MaterialClass.ORGANIC),
        ("water", 8.0, MaterialClass.ORGANIC),
        ("aluminium", 1.0, MaterialClass.MIXED),
        ("glass", 1.5, MaterialClass.MIXED),
        ("steel", 0.3, MaterialClass.METAL),
        ("steel", 1.2, MaterialClass.METAL),  # low channel near saturation
        ("copper", 0.4, MaterialClass.METAL),
        ("lead", 2.0, MaterialClass.IMPENETRABLE),
    ],
)
def test_materials_fall_in_their_class(name: str, cm: float, klass: MaterialClass) -> None:
    lo, hi = plane(name, cm)
    lo, hi = np.minimum(lo, 11.0), np.minimum(hi, 11.0)  # what a 16-bit detector can show
    assert set(np.unique(classify(lo, hi)).tolist()) == {int(klass)}


def test_bare_belt_is_background() -> None:
    lo, hi = plane("paper", 0.0)
    assert (classify(lo, hi) == MaterialClass.BACKGROUND).all()


def test_metal_equivalent_ignores_organics_on_the_ray() -> None:
    s_lo, s_hi = plane("steel", 0.2)
    w_lo, w_hi = plane("water", 10.0)
    steel_alone = metal_equivalent(s_lo, s_hi)
    steel_in_water = metal_equivalent(s_lo + w_lo, s_hi + w_hi)
    expected = material("steel").linear_high_per_cm * 0.2
    assert np.allclose(steel_alone, expected, rtol=0.05)
    assert np.allclose(steel_in_water, expected, rtol=0.08)
    assert float(metal_equivalent(w_lo, w_hi).max()) < 0.02


def test_shares_count_only_imaged_matter() -> None:
    classes = np.array([[0, 0, 1, 1], [1, 1, 2, 3]], np.uint8)
    s = shares(classes, pixel_mm=10.0)
    assert s.organic == pytest.approx(4 / 6)
    assert s.mixed == pytest.approx(1 / 6)
    assert s.metal == pytest.approx(1 / 6)
    assert s.impenetrable == 0.0
    assert s.object_area_cm2 == pytest.approx(6.0)


@pytest.mark.parametrize(
    "bad",
    [
        {"organic_max_ratio": ((1.0, 1.4), (0.5, 1.4))},
        {"metal_min_ratio": ((0.1, 1.3),)},
        {"metal_ratio": 1.1},
        {"impenetrable_min_high": 0.05},
        {"unknown_key": 1},
    ],
)
def test_inconsistent_config_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        MaterialConfig.model_validate(bad)
