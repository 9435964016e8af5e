"""A sheet thinner than a few pixels covers part of a pixel: the detector averages its light.

A detector element counts the photons that reach it. Where an opaque sheet on its edge
covers half of it, half the light gets through; averaging the sheet's path over the pixel
instead (what the simulator did until 2026-12-07) spreads 20 mm of tungsten as 10 mm over
the whole pixel, which stops everything. The second machine (``tests/inspection/xray/
peer.py``, which shares no code with the simulator) draws at twice the pitch and averages
the transmitted light; the simulator's thin lines must be as dark as its, no darker.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulators.xray.catalogue import Thing
from simulators.xray.phantom import render_scene
from simulators.xray.physics import load_profiles, transmission, transmission_mixed
from simulators.xray.solids import Plate, project_layers, rect
from tests.inspection.xray.test_dense_sheets import _on_the_second_machine

PIXEL = 0.6


def _edge_sheet(thick: float, shift: float = 0.0) -> list[Plate]:
    """A tungsten sheet ``thick`` mm thick standing on its edge, 20 mm along the beam."""
    return [Plate("tungsten", 0, 60, rect(shift, 20.0 + shift), 0, thick)]


@pytest.mark.parametrize("thick", [0.3, 1.0, 2.0, 4.0])
def test_a_sheet_on_its_edge_keeps_its_path_and_covers_its_thickness(thick: float) -> None:
    """Per column, the covered share of the pixels adds up to the sheet's thickness, the
    covered share sees the sheet's whole chord (20 mm), and the path averaged over the pixels
    adds up to the sheet's cross-section (thickness x 20 mm)."""
    layers = project_layers(_edge_sheet(thick), 90.0, PIXEL)
    assert layers.cover is not None
    col = layers.cover.shape[1] // 2
    assert float(layers.cover[:, col].sum()) * PIXEL == pytest.approx(thick, rel=0.02)
    covered = layers.cover[:, col] > 0.05
    chord = layers.edge["tungsten"][covered, col] / layers.cover[covered, col]
    assert chord == pytest.approx(2.0, rel=0.02)  # cm
    merged = layers.merged()["tungsten"][:, col]  # cm, the path averaged over each pixel
    assert float(merged.sum()) * 10.0 * PIXEL == pytest.approx(thick * 20.0, rel=0.02)


def test_a_sheet_flat_is_no_thin_sheet() -> None:
    """Lying flat the same sheet fills its pixels: nothing is held apart."""
    layers = project_layers(_edge_sheet(1.0), 0.0, PIXEL)
    assert layers.cover is None and not layers.edge
    assert float(layers.paths["tungsten"].max()) == pytest.approx(0.1, rel=0.01)


@pytest.mark.parametrize("name", ["eff-60-100", "sandwich-150"])
def test_half_a_pixel_under_an_opaque_sheet_lets_half_the_light_through(name: str) -> None:
    """A 0.3 mm tungsten sheet (20 mm along the beam, opaque) across half a 0.6 mm pixel."""
    prof = load_profiles()[name]
    layers = project_layers(_edge_sheet(0.3, shift=0.15), 90.0, PIXEL)
    assert layers.cover is not None
    low, high = transmission_mixed(prof, layers.paths, layers.cover, layers.edge)
    most = float(layers.cover.max())
    assert 0.45 <= most <= 0.55
    for t in (low, high):
        assert float(t.min()) == pytest.approx(1.0 - most, abs=0.01)
    averaged = transmission(prof, layers.merged())  # the path spread over the pixel
    assert all(float(t.min()) < 1e-3 for t in averaged)


def _darkest(low: np.ndarray, high: np.ndarray, air: tuple[float, float]) -> tuple[float, float]:
    """Mean attenuation (high, low) of the 20 darkest pixels of the high image."""
    a_low = -np.log(np.maximum(low.astype(float), 1.0) / air[0])
    a_high = -np.log(np.maximum(high.astype(float), 1.0) / air[1])
    top = np.argsort(a_high.ravel())[-20:]
    return float(a_high.ravel()[top].mean()), float(a_low.ravel()[top].mean())


@pytest.mark.parametrize("thick", [1.0, 2.0])
def test_a_thin_sheet_on_its_edge_is_as_dark_as_on_the_second_machine(thick: float) -> None:
    """A tungsten sheet 40 mm long and 20 mm along the beam, turned 33° on the belt, on both
    machines at 0.6 mm pitch: the line is dark by how much of each pixel it covers, not by
    the spectrum (20 mm of tungsten stops both). Path averaged, a 2 mm sheet read 10.9."""
    scene = _on_the_second_machine(40.0, thick, 33.0)
    p_low, p_high = scene.m.expose(scene.paths, 7)
    box = (slice(200, 270), slice(290, 380))
    peer = _darkest(p_low[box], p_high[box], (scene.m.low.air, scene.m.high.air))
    prof = load_profiles()["eff-60-100"]
    sheet = Thing(
        "tungsten", [Plate("tungsten", 0, 40.0, rect(0, 20.0), 0, thick)], 90.0, "tungsten", None
    )
    ph = render_scene(prof, [(sheet, 33.0, (300, 200))], seed=3, clothes_cm=1.0)
    box = (slice(190, 290), slice(290, 400))
    air = (float(prof.air_counts[0]), float(prof.air_counts[1]))
    ours = _darkest(ph.image.low[box], ph.image.high[box], air)
    assert peer[0] < 6.0  # light gets through beside the sheet on the second machine
    assert ours[0] == pytest.approx(peer[0], rel=0.15), (ours, peer)
    assert ours[1] == pytest.approx(peer[1], rel=0.15), (ours, peer)
