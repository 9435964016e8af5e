"""Precomputed item templates: per-pixel line integrals μ·ρ·t at both energies, canonical pose."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from simulators.xray.contents import MAX_INSTALLED_CELLS, THREAT_KINDS, ItemKind
from simulators.xray.materials import material

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True, eq=False)
class Template:
    """One item in canonical pose: attenuation (dimensionless μ·ρ·t) at the low/high energy."""

    kind: ItemKind
    material: str
    low: F32
    high: F32
    cells: int = 0

    @property
    def is_threat(self) -> bool:
        """True for threat kinds and for electronics with more cells than the postal limit."""
        return self.kind in THREAT_KINDS or self.cells > MAX_INSTALLED_CELLS


class _Canvas:
    """Builds one template by adding material thickness maps (cm) onto a patch."""

    def __init__(self, h: int, w: int) -> None:
        self.low = np.zeros((h, w), np.float32)
        self.high = np.zeros((h, w), np.float32)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.low.shape[0]), int(self.low.shape[1])

    def add(self, name: str, thickness_cm: npt.NDArray[np.floating]) -> None:
        """Add the attenuation of ``thickness_cm`` (same shape as the canvas) of a material."""
        m = material(name)
        self.low += (thickness_cm * m.linear_low_per_cm).astype(np.float32)
        self.high += (thickness_cm * m.linear_high_per_cm).astype(np.float32)

    def mask(self) -> U8:
        """A blank drawing mask of the canvas size."""
        return np.zeros(self.shape, np.uint8)


def _poly(mask: U8, points: list[tuple[float, float]]) -> U8:
    """Fill a polygon given in pixel (x, y) coordinates into ``mask``; return it."""
    pts = np.round(np.array(points, np.float64)).astype(np.int32)
    cv2.fillPoly(mask, [pts], 1)
    return mask


def _cylinder(shape: tuple[int, int], y0: float, x0: float, length: float, radius: float) -> F32:
    """Thickness map (px units) of a cylinder lying along x: chord 2·sqrt(r² − dy²)."""
    h, w = shape
    ys = np.arange(h, dtype=np.float32)[:, None] - (y0 + radius)
    chord = 2.0 * np.sqrt(np.clip(radius * radius - ys * ys, 0.0, None))
    xs = np.arange(w, dtype=np.float32)[None, :]
    inside = ((xs >= x0) & (xs < x0 + length)).astype(np.float32)
    return (chord * inside).astype(np.float32)


Builder = Callable[[np.random.Generator, float, int], Template]


def _textiles(rng: np.random.Generator, mm: float, cells: int) -> Template:
    h, w = int(rng.uniform(150, 280) / mm), int(rng.uniform(200, 350) / mm)
    c = _Canvas(h, w)
    grid = rng.uniform(0.35, 1.0, (6, 6)).astype(np.float32)
    field = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ny, nx = (yy - h / 2) / (h / 2), (xx - w / 2) / (w / 2)
    shape = (np.abs(nx) ** 4 + np.abs(ny) ** 4) <= 0.85 + 0.15 * field
    c.add("cotton", np.clip(field, 0, None) * shape * rng.uniform(3.0, 8.0))
    return Template(ItemKind.TEXTILES, "cotton", c.low, c.high)


def _paper(rng: np.random.Generator, mm: float, cells: int) -> Template:
    h, w = int(rng.uniform(100, 190) / mm), int(rng.uniform(150, 260) / mm)
    c = _Canvas(h, w)
    c.add("paper", np.full((h, w), rng.uniform(1.5, 4.0), np.float32))
    return Template(ItemKind.PAPER, "paper", c.low, c.high)


def _plastics(rng: np.random.Generator, mm: float, cells: int) -> Template:
    h, w = int(rng.uniform(80, 160) / mm), int(rng.uniform(100, 220) / mm)
    depth_cm, wall_px = rng.uniform(5.0, 12.0), max(2, int(3.0 / mm))
    c = _Canvas(h, w)
    t = np.full((h, w), 0.6, np.float32)  # top and bottom walls, 3 mm each
    t[:wall_px, :] = t[-wall_px:, :] = t[:, :wall_px] = t[:, -wall_px:] = depth_cm
    c.add("polyethylene", t)
    return Template(ItemKind.PLASTICS, "polyethylene", c.low, c.high)


def _liquid(rng: np.random.Generator, mm: float, cells: int) -> Template:
    length, radius = rng.uniform(160, 260) / mm, rng.uniform(30, 47) / mm
    neck_r, neck_len = 13 / mm, 35 / mm
    h, w = int(2 * radius) + 2, int(length + neck_len) + 2
    c = _Canvas(h, w)
    body = _cylinder((h, w), 1, 1, length, radius) * (mm / 10.0)
    neck = _cylinder((h, w), 1 + radius - neck_r, 1 + length, neck_len, neck_r) * (mm / 10.0)
    c.add("water", body + 0.5 * neck)
    c.add("polyethylene", (neck > 0) * np.float32(0.4))  # cap and neck plastic
    return Template(ItemKind.LIQUID, "water", c.low, c.high)


def _shoes(rng: np.random.Generator, mm: float, cells: int) -> Template:
    sole_l, sole_w = rng.uniform(240, 300) / mm, rng.uniform(85, 110) / mm
    gap = 15 / mm
    h, w = int(2 * sole_w + gap) + 2, int(sole_l) + 2
    c = _Canvas(h, w)
    mask = c.mask()
    for k in range(2):
        centre = (int(w / 2), int(1 + sole_w / 2 + k * (sole_w + gap)))
        cv2.ellipse(mask, centre, (int(sole_l / 2), int(sole_w / 2)), 0, 0, 360, 1, -1)
    c.add("rubber", mask * np.float32(rng.uniform(2.0, 3.0)))
    return Template(ItemKind.SHOES, "rubber", c.low, c.high)


def _electronics(rng: np.random.Generator, mm: float, cells: int) -> Template:
    cell_d, cell_l = 18 / mm, 65 / mm  # 18650 cells
    if cells <= 1:  # phone or tablet: board, pouch cell, aluminium frame
        h, w = int(rng.uniform(70, 90) / mm), int(rng.uniform(140, 170) / mm)
        c = _Canvas(h, w)
        c.add("pcb", np.full((h, w), 0.15, np.float32))
        c.add("aluminium", np.full((h, w), 0.1, np.float32))
        pouch = c.mask()
        pouch[int(h * 0.12) : int(h * 0.88), int(w * 0.1) : int(w * 0.65)] = 1
        c.add("li_ion", pouch * np.float32(0.5))
        return Template(ItemKind.ELECTRONICS, "pcb", c.low, c.high, cells=1)
    per_row = min(cells, 4)
    rows = math.ceil(cells / per_row)
    margin = 8 / mm
    h, w = int(rows * cell_d + 2 * margin), int(per_row * cell_l + 2 * margin + 10 / mm)
    c = _Canvas(h, w)
    c.add("polyethylene", np.full((h, w), 0.4, np.float32))  # case
    c.add("pcb", np.full((h, w), 0.1, np.float32))
    cyl = np.zeros((h, w), np.float32)
    for i in range(cells):
        r, k = divmod(i, per_row)
        cyl += _cylinder(
            (h, w), margin + r * cell_d, margin + k * cell_l, cell_l * 0.97, cell_d / 2
        )
    c.add("li_ion", cyl * (mm / 10.0))
    return Template(ItemKind.ELECTRONICS, "li_ion", c.low, c.high, cells=cells)


def _metal_tool(rng: np.random.Generator, mm: float, cells: int) -> Template:
    length, bar_w = rng.uniform(150, 250) / mm, rng.uniform(15, 22) / mm
    jaw_r = 1.4 * bar_w
    h, w = int(2 * jaw_r) + 4, int(length + 2 * jaw_r) + 4
    c = _Canvas(h, w)
    mask, cy = c.mask(), h / 2
    _poly(
        mask,
        [
            (jaw_r, cy - bar_w / 2),
            (w - jaw_r, cy - bar_w / 3),
            (w - jaw_r, cy + bar_w / 3),
            (jaw_r, cy + bar_w / 2),
        ],
    )
    cv2.circle(mask, (int(jaw_r) + 1, int(cy)), int(jaw_r), 1, -1)
    cv2.circle(mask, (int(w - jaw_r) - 2, int(cy)), int(jaw_r * 0.8), 1, -1)
    mask[int(cy - bar_w * 0.45) : int(cy + bar_w * 0.45), : int(jaw_r)] = 0  # open jaw
    cv2.circle(mask, (int(w - jaw_r) - 2, int(cy)), int(jaw_r * 0.45), 0, -1)  # ring hole
    c.add("steel", mask * np.float32(rng.uniform(0.5, 0.9)))
    return Template(ItemKind.METAL_TOOL, "steel", c.low, c.high)


def _blade(rng: np.random.Generator, mm: float, cells: int) -> Template:
    blade_l, blade_w = rng.uniform(90, 200) / mm, rng.uniform(18, 35) / mm
    handle_l = rng.uniform(90, 120) / mm
    h, w = int(blade_w * 1.2) + 4, int(blade_l + handle_l) + 4
    c = _Canvas(h, w)
    x0, y0 = handle_l + 2, 2.0
    outline = [
        (x0, y0),
        (x0 + blade_l, y0),
        (x0 + blade_l * 0.85, y0 + blade_w * 0.55),
        (x0 + blade_l * 0.5, y0 + blade_w),
        (x0, y0 + blade_w),
    ]
    blade = _poly(c.mask(), outline)
    c.add("steel", blade * np.float32(rng.uniform(0.15, 0.3)))
    handle = c.mask()
    handle[int(y0) : int(y0 + blade_w * 1.1), 2 : int(x0)] = 1
    tang = c.mask()
    tang[int(y0 + blade_w * 0.35) : int(y0 + blade_w * 0.65), int(x0 * 0.2) : int(x0)] = 1
    c.add("polyethylene", handle * np.float32(1.5))
    c.add("steel", tang * np.float32(0.2))
    return Template(ItemKind.BLADE, "steel", c.low, c.high)


def _gun(rng: np.random.Generator, mm: float, cells: int) -> Template:
    slide_l, slide_w = rng.uniform(150, 190) / mm, 28 / mm
    grip_l, grip_w = rng.uniform(80, 100) / mm, 30 / mm
    h, w = int(slide_w + grip_l * 0.97) + 6, int(slide_l) + 6
    c = _Canvas(h, w)
    slide = c.mask()
    slide[3 : int(3 + slide_w), 3 : int(3 + slide_l)] = 1
    gx, gy = 3 + slide_l * 0.08, 3 + slide_w  # grip leans back by about 15 degrees
    lean = grip_l * math.sin(math.radians(15))
    grip = _poly(
        c.mask(),
        [
            (gx + grip_w * 0.4, gy),
            (gx + grip_w * 1.4, gy),
            (gx + grip_w - lean + grip_w * 0.4, gy + grip_l * 0.96),
            (gx - lean + grip_w * 0.4, gy + grip_l * 0.96),
        ],
    )
    guard = c.mask()
    cv2.ellipse(
        guard,
        (int(gx + grip_w * 2.1), int(gy + 4 / mm)),
        (int(14 / mm), int(11 / mm)),
        0,
        0,
        180,
        1,
        max(1, int(4 / mm)),
    )
    c.add("steel", slide * np.float32(rng.uniform(1.0, 1.4)) + guard * np.float32(0.5))
    c.add("polyethylene", grip * np.float32(2.8))
    c.add("steel", grip * np.float32(0.3))  # magazine walls
    return Template(ItemKind.GUN, "steel", c.low, c.high)


def _dense_block(rng: np.random.Generator, mm: float, cells: int) -> Template:
    h, w = int(rng.uniform(40, 80) / mm), int(rng.uniform(40, 80) / mm)
    c = _Canvas(h, w)
    c.add("lead", np.full((h, w), rng.uniform(2.0, 5.0), np.float32))
    return Template(ItemKind.DENSE_BLOCK, "lead", c.low, c.high)


BUILDERS: dict[ItemKind, Builder] = {
    ItemKind.TEXTILES: _textiles,
    ItemKind.PAPER: _paper,
    ItemKind.PLASTICS: _plastics,
    ItemKind.LIQUID: _liquid,
    ItemKind.SHOES: _shoes,
    ItemKind.ELECTRONICS: _electronics,
    ItemKind.METAL_TOOL: _metal_tool,
    ItemKind.BLADE: _blade,
    ItemKind.GUN: _gun,
    ItemKind.DENSE_BLOCK: _dense_block,
}

#: Largest lithium-cell count a template is built for.
MAX_CELLS = 8


def build_templates(
    pixel_mm: float, variants: int, seed: int
) -> dict[tuple[ItemKind, int], list[Template]]:
    """Build ``variants`` templates per kind (and per cell count for electronics), seeded."""
    rng = np.random.default_rng(seed)
    bank: dict[tuple[ItemKind, int], list[Template]] = {}
    for kind, builder in BUILDERS.items():
        counts = range(1, MAX_CELLS + 1) if kind is ItemKind.ELECTRONICS else (0,)
        for cells in counts:
            bank[(kind, cells)] = [builder(rng, pixel_mm, cells) for _ in range(variants)]
    return bank
