"""Review views: vendor palettes and display transforms."""

from __future__ import annotations

import numpy as np
import pytest

from inspection.xray.colour import (
    PALETTES,
    VIEWS,
    Palette,
    contrast_stretch,
    invert,
    palette_named,
    pseudo_colour,
)
from inspection.xray.image import XrayImageError
from inspection.xray.materials import MaterialConfig
from simulators.xray.materials import material


def strip() -> tuple[np.ndarray, np.ndarray]:
    """Four 8 x 8 tiles side by side: belt, 3 cm paper, 0.4 cm steel, 2 cm lead."""
    lo, hi = np.zeros((8, 32), np.float32), np.zeros((8, 32), np.float32)
    for k, (name, cm) in enumerate((("paper", 0.0), ("paper", 3.0), ("steel", 0.4), ("lead", 2.0))):
        m = material(name)
        lo[:, 8 * k : 8 * k + 8] = min(11.0, 0.09 + m.linear_low_per_cm * cm)
        hi[:, 8 * k : 8 * k + 8] = min(11.0, 0.074 + m.linear_high_per_cm * cm)
    return lo, hi


def test_standard_palette_colours_by_material() -> None:
    lo, hi = strip()
    rgb = pseudo_colour(lo, hi)
    belt, paper, steel, lead = (rgb[4, 8 * k + 4].astype(int) for k in range(4))
    assert belt.tolist() == [255, 255, 255]
    assert paper[0] > paper[1] > paper[2]  # orange: red over green over blue
    assert steel[2] > steel[0] and steel[2] > steel[1]  # blue
    assert lead.tolist() == [0, 0, 0]  # impenetrable is black by default


def test_vendor_palette_shows_impenetrable_in_red() -> None:
    lo, hi = strip()
    rgb = pseudo_colour(lo, hi, palette_named("red_impenetrable"))
    assert rgb[4, 28].tolist() == [200, 0, 0]
    custom = Palette(name="site", metal=(10, 200, 200))
    assert pseudo_colour(lo, hi, custom)[4, 20].tolist() != pseudo_colour(lo, hi)[4, 20].tolist()


def test_thicker_matter_is_drawn_darker() -> None:
    m = material("water")
    thin = np.full((4, 4), 0.074 + m.linear_high_per_cm * 2, np.float32)
    thick = np.full((4, 4), 0.074 + m.linear_high_per_cm * 20, np.float32)
    a = pseudo_colour(thin * 1.2, thin).astype(int).sum()
    b = pseudo_colour(thick * 1.2, thick).astype(int).sum()
    assert b < a


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_every_view_returns_8_bit_rgb_of_the_image_size(name: str) -> None:
    lo, hi = strip()
    out = VIEWS[name](lo, hi)
    assert out.dtype == np.uint8
    assert out.shape == (8, 32, 3)


def test_stripping_views_keep_only_their_classes_in_colour() -> None:
    lo, hi = strip()
    organic = VIEWS["organic_only"](lo, hi)
    inorganic = VIEWS["inorganic_only"](lo, hi)
    standard = pseudo_colour(lo, hi)
    assert organic[4, 12].tolist() == standard[4, 12].tolist()  # paper kept
    assert organic[4, 20].tolist() != standard[4, 20].tolist()  # steel greyed
    assert inorganic[4, 20].tolist() == standard[4, 20].tolist()
    grey_paper = inorganic[4, 12]
    assert grey_paper[0] == grey_paper[1] == grey_paper[2]


def test_high_density_marks_only_dense_pixels() -> None:
    lo, hi = strip()
    out = VIEWS["high_density"](lo, hi)
    assert out[4, 28].tolist() == [255, 0, 255]
    assert out[4, 12].tolist() != [255, 0, 255]


def test_invert_is_its_own_inverse_and_refuses_non_rgb() -> None:
    lo, hi = strip()
    rgb = pseudo_colour(lo, hi)
    assert np.array_equal(invert(invert(rgb)), rgb)
    with pytest.raises(XrayImageError, match="H x W x 3"):
        invert(rgb[:, :, 0])


def test_contrast_stretch_uses_the_full_range_and_checks_percentiles() -> None:
    lo, hi = strip()
    out = contrast_stretch(lo, hi, 0.0, 100.0)
    assert out.min() == 0 and out.max() == 255
    with pytest.raises(XrayImageError, match="percentiles"):
        contrast_stretch(lo, hi, 90.0, 10.0)


def test_unknown_palette_names_the_known_ones() -> None:
    with pytest.raises(XrayImageError, match="standard"):
        palette_named("acme")
    assert set(PALETTES) >= {"standard", "red_impenetrable"}


def test_classification_config_reaches_the_view() -> None:
    lo, hi = strip()
    everything_organic = MaterialConfig(
        organic_max_ratio=((0.1, 9.0),), metal_min_ratio=((0.1, 9.5),), low_saturation=20.0
    )
    rgb = pseudo_colour(lo, hi, materials=everything_organic)
    steel = rgb[4, 20].astype(int)
    assert steel[0] > steel[2]  # drawn orange now
