"""What a calibrated dual-energy image shows: impenetrable, high-Z, blade, gun, cell, metal, liquid.

Every pixel is placed between the machine's measured organic, aluminium and steel curves
(``z`` 0, 1, 2) and split into an organic and a steel-equivalent part. Regions are cut on
a 2 x 2 max-pooled grid (the densest pixel of each block is kept, so nothing thin is
averaged away) and thin dense lines are looked for at full resolution. Each signature
carries a score: 0.5 where it meets its rule exactly, rising to 1.0 at twice the rule's
value; candidates down to half the rule's value are kept with scores below 0.5 so that a
policy threshold can be moved (see docs/xray-prescreen.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from inspection.xray.calibration import BASES, LOW_FLOOR, Calibration, z_between

F32 = npt.NDArray[np.float32]
U16 = npt.NDArray[np.uint16]
Mask = npt.NDArray[np.bool_]
Box = tuple[int, int, int, int]


class SigKind(StrEnum):
    """Kinds of signature (stable strings)."""

    IMPENETRABLE = "IMPENETRABLE"
    HIGH_Z = "HIGH_Z"  # lead, tungsten: off the calibrated organic..steel family
    EDGE_BLADE = "EDGE_BLADE"  # a thin dense straight line (a blade on its edge)
    GUN = "GUN"
    BLADE = "BLADE"
    BATTERY = "BATTERY"
    THICK_METAL = "THICK_METAL"
    STRIP = "STRIP"  # narrow even steel strip or rod (shank, umbrella shaft, zip)
    METAL = "METAL"
    LIQUID = "LIQUID"  # thick organic matter (liquid-like)


@dataclass(frozen=True, slots=True)
class Signature:
    """One region: kind, score 0..1, box (x, y, w, h) in full-resolution pixels, a measure."""

    kind: SigKind
    score: float
    box: Box
    value: float
    detail: str
    area_cm2: float = 0.0  # area of the region itself
    size_mm: tuple[float, float] = (0.0, 0.0)  # long and short side of its rectangle
    edge_on: bool = False  # LIQUID only: a narrow organic slab deeper than wide (on its edge)
    solidity: float = 1.0  # metal regions: area over their convex hull's (1 when convex)
    corner_mm2: float = math.inf  # metal regions: largest part no disc of ``round_mm``
    # reaches; measured only when a declared line asks (``explain.ROUND``), else not round
    straight_mm: float = math.inf  # metal regions: longest straight stretch of its outline,
    # measured with ``corner_mm2`` (``shapes.straight_mm``), else not round
    core: tuple[float, float, float] = (0.0, math.inf, math.inf)  # METAL: its core's shape
    # (``findings.core_shape``), read only when a declared line asks (``explain.CORE``)
    flatness: float = 1.0  # BATTERY: share of its pixels within 25 % of its median steel
    steel_mm: float = math.inf  # BATTERY: its median steel-equivalent, mm
    lead_gap: float = 0.0  # METAL, THICK_METAL, BATTERY: |median z - the lead curve's z| at
    # its median A_high; 0 (reads as lead) unless measured
    axis: tuple[float, float, float, float, float] | None = None  # EDGE_BLADE lines a blade
    # long: (centre x, y px; direction along, degrees 0-180; first and last pixel along it)
    opaque: bool = False  # EDGE_BLADE: some stretch of the line stops both energies alike
    # (deep metal on its edge), where a rod or a wire the beam crosses does not
    density: float = 0.0  # LIQUID: PMMA-equivalent mm of depth per mm of a round container's
    # path (liquids.density: water about 0.9, two bottles one on the other about twice one's)
    liquid_z: float = math.inf  # LIQUID: its own effective Z where read (a slab on its edge,
    # a liquid denser than water: liquids.slab_material), else inf
    spread: float = 0.0  # LIQUID: its width over one round container's of its depth (0.98)
    long_side_deg: float | None = None  # BATTERY: its rectangle's long side, degrees 0-180

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "kind": self.kind.value,
            "score": round(self.score, 3),
            "box": list(self.box),
            "value": round(self.value, 2),
            "area_cm2": round(self.area_cm2, 1),
            "size_mm": [round(v) for v in self.size_mm],
            "detail": self.detail,
            "edge_on": self.edge_on,
        }


class SignatureConfig(BaseModel):
    """Rules of the signatures; values in physical units, machine differences are calibrated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pixel_mm: float = Field(0.6, gt=0.01, description="Pixel pitch at the belt, mm.")
    impenetrable_transmission: float = Field(
        0.001, gt=0.0, lt=1.0, description="High-energy transmission below which X-rays stop."
    )
    impenetrable_cm2: float = Field(0.3, gt=0.0, description="Smallest impenetrable area, cm².")
    high_z_margin: float = Field(
        0.5, gt=0.0, description="How far below organic (or above steel + 1), in z units."
    )
    high_z_min_high: float = Field(0.3, gt=0.0, description="Least A_high for a high-Z pixel.")
    lead_min_z: float = Field(
        0.3,
        gt=0.0,
        description="Least distance (z units) between the calibrated lead and organic curves; "
        "closer, the machine cannot tell lead from organic matter and clears nothing.",
    )
    high_z_cm2: float = Field(0.5, gt=0.0, description="Smallest high-Z area, cm².")
    lead_like_z: float = Field(
        0.1,
        ge=0.0,
        description="A metal region whose median z lies within this of the calibrated lead "
        "curve (at its median A_high) may be lead: explained, it still clears nothing.",
    )
    lead_sheet_cm2: float = Field(
        20.0,
        gt=0.0,
        description="Least area, cm², reading as lead where the machine's lead curve lies "
        "between organic matter and steel: a sheet that large clears nothing.",
    )
    metal_steel_mm: float = Field(0.5, gt=0.0, description="Steel-equivalent of a metal pixel.")
    metal_cm2: float = Field(1.5, gt=0.0, description="Smallest metal region, cm².")
    thick_steel_mm: float = Field(6.0, gt=0.0, description="Steel-equivalent of thick metal.")
    thick_cm2: float = Field(3.0, gt=0.0, description="Thick area making THICK_METAL, cm².")
    gun_steel_mm: float = Field(14.0, gt=0.0, description="Steel-equivalent of a gun's slide.")
    gun_width_mm: float = Field(4.0, gt=0.0, description="Narrowest gun-thick bar, mm.")
    gun_length_mm: float = Field(70.0, gt=0.0, description="Shortest gun-thick bar, mm.")
    gun_thick_cm2: float = Field(5.0, gt=0.0, description="Area of a gun-thick bar, cm².")
    blade_elongation: float = Field(3.0, gt=1.0, description="Least length/width of a blade.")
    blade_length_mm: float = Field(50.0, gt=0.0, description="Shortest blade, mm.")
    blade_width_mm: float = Field(45.0, gt=0.0, description="Widest blade, mm.")
    blade_steel_mm: float = Field(
        6.0, gt=0.0, description="Thickest blade (steel-equivalent, 2.5 mm at 65° tilt), mm."
    )
    bar_width_mm: float = Field(
        20.0,
        gt=0.0,
        description="Widest bar read as a blade however thick its steel: a knife tilted 70-89° "
        "towards its edge is a 5-19 mm wide bar of 6-25 mm steel-equivalent.",
    )
    bar_dense_steel_mm: float = Field(
        14.0,
        gt=0.0,
        description="Steel-equivalent from which a narrow bar is a blade or a sheet of dense "
        "metal (tungsten) on its edge from half a blade's length: no goods' bar that short is "
        "that dense, mm.",
    )
    strip_width_mm: float = Field(30.0, gt=0.0, description="Widest explainable strip, mm.")
    strip_steel_mm: float = Field(3.0, gt=0.0, description="Thickest explainable strip, mm.")
    foil_width_mm: float = Field(8.0, gt=0.0, description="Widest thin strip (zip), mm.")
    strip_plate_mm: float = Field(
        15.0, gt=0.0, description="Widest strip of even thickness (a shoe's shank), mm."
    )
    plate_flat: float = Field(
        0.75,
        gt=0.0,
        le=1.0,
        description="Share of pixels within 25 % of the median steel that makes a plate.",
    )
    foil_steel_mm: float = Field(1.0, gt=0.0, description="Thickest thin strip, steel mm.")
    strip_steps: float = Field(
        0.55,
        gt=0.0,
        le=1.0,
        description="Least ratio of a narrow strip's thinnest 10 mm stretch to its thickest: "
        "a shank or a zip is even along its length, a utility knife steps where its blade "
        "runs past its channel.",
    )
    strip_width_cv: float = Field(
        0.15, gt=0.0, description="Largest spread (std/mean) of a strip's width along it."
    )
    cell_fill: float = Field(0.7, gt=0.0, le=1.0, description="Least fill of a cell pack.")
    cell_steel_mm: float = Field(0.8, gt=0.0, description="Least steel-equivalent of cells, mm.")
    cell_short_mm: float = Field(14.0, gt=0.0, description="Least short side of cells, mm.")
    cell_long_mm: tuple[float, float] = Field((52.0, 200.0), description="Long side range, mm.")
    ridge_mm: float = Field(4.0, gt=0.0, description="Widest line the line search sees, mm.")
    ridge_contrast: float = Field(
        0.5,
        gt=0.0,
        description="Least A_high step of a line (0.6 until 2026-12-07: a bare 0.6 mm blade on "
        "its edge, turned 30°, read 0.59 on a machine as blurred as the blurriest profile).",
    )
    ridge_length_mm: float = Field(
        80.0, gt=0.0, description="Shortest blade-like line, mm (an 18650 can's side is 65 mm)."
    )
    ridge_width_mm: float = Field(5.0, gt=0.0, description="Widest blade-like line, mm.")
    short_line_mm: float = Field(
        18.0,
        gt=0.0,
        description="Shortest line read as a sheet of dense metal on its edge (a tungsten "
        "sheet 20 mm long) when it is as dark as ``short_line_contrast``, mm.",
    )
    short_line_contrast: float = Field(
        2.5,
        gt=0.0,
        description="Least A_high step of a line shorter than a blade: a 2 mm tungsten sheet "
        "on its edge reads 2.7-3.1 on the tuning machines, a 1 mm one 1.3-1.9; 15 of 100 "
        "clean tuning parcels hold a line of 2.5 or more.",
    )
    ridge_min_z: float = Field(
        0.5,
        description="Least material z of a blade-like line (0 organic, 1 aluminium, 2 steel).",
    )
    ridge_segment_mm: float = Field(
        30.0, gt=0.0, description="Length of the pieces a line's material is read on, mm."
    )
    ridge_sharp_mm: float = Field(
        1.9,
        gt=0.0,
        description="Widest effective width (excess across over its peak) of a line as narrow "
        "as the blur: steel seen edge-on, whatever its ratio reads, mm.",
    )
    ridge_sharp_contrast: float = Field(
        1.2, gt=0.0, description="Least contrast of such a sharp line, A_high."
    )
    line_spread_mm: float = Field(
        1.15,
        gt=0.0,
        description="Widest line spread (calibrated blur) of the machines the line rules were "
        "set on, mm; on a blurrier machine the rules scale with its own.",
    )
    line_spread_max_mm: float = Field(
        2.75,
        gt=0.0,
        description="Widest line spread the pre-screen reads lines through, mm: a blurrier "
        "machine's images wait for an inspector.",
    )
    round_mm: float = Field(
        6.0,
        gt=0.0,
        description="Radius of the discs a region of coins is made of, less the blur, mm.",
    )
    core_mm: float = Field(
        6.0, gt=0.0, description="Half the width of the parts a region's core leaves out, mm."
    )
    liquid_mm: float = Field(
        50.0, gt=0.0, description="Organic thickness (PMMA mm) a liquid-like object adds."
    )
    liquid_span_mm: float = Field(
        100.0, gt=0.0, description="Widest liquid container; broader organic layers are ignored."
    )
    liquid_cm2: float = Field(15.0, gt=0.0, description="Smallest liquid-like area, cm².")
    round_ratio: float = Field(
        0.6,
        gt=0.0,
        description="Depth (PMMA mm) over width at which a long organic region reads as a "
        "container lying down (a bottle is about as deep as it is wide) whatever its depth.",
    )
    round_width_mm: float = Field(
        40.0, gt=0.0, description="Narrowest region the round-profile rule reads, mm."
    )
    round_elongation: float = Field(
        1.5, gt=1.0, description="Least length over width of a bottle lying down."
    )
    slab_width_mm: float = Field(
        50.0,
        gt=0.0,
        description="Widest organic region that can read as a slab on its edge (a book "
        "standing, a sole on its side), mm.",
    )
    slab_depth_ratio: float = Field(
        2.0,
        gt=1.0,
        description="Least depth (PMMA mm) over width of a slab on its edge: a round container "
        "lying down is never deeper than it is wide.",
    )
    slab_elongation: float = Field(
        2.5,
        gt=1.0,
        description="Least length over width of a slab on its edge: a bottle standing up "
        "shows a round footprint.",
    )
    split_core_cm2: float = Field(
        4.0,
        gt=0.0,
        description="Least area (cm²) of each of two or more cores reaching the depth rule "
        "for a merged organic region to be cut into one piece per core.",
    )
    split_valley_mm: float = Field(
        25.0,
        gt=0.0,
        description="Least dip (PMMA mm) of the depth between two cores, below the shallower "
        "core's peak, for them to count as two items.",
    )
    slab_max_zeff: float = Field(
        7.0,
        gt=0.0,
        description="Highest effective atomic number of a slab on its edge that a book or a "
        "sole may explain: paper reads about 6.9, water 7.3 and above.",
    )

    @property
    def pooled_cm2(self) -> float:
        """Area of one pixel of the 2 x 2 pooled grid the regions are cut on, cm²."""
        return (2 * self.pixel_mm / 10.0) ** 2

    def pooled_px(self, cm2: float) -> int:
        """Least whole number of pooled pixels (at least one) covering ``cm2``."""
        return max(1, math.ceil(cm2 / self.pooled_cm2))


def _score(value: float, rule: float) -> float:
    """0.5 at the rule's value, 1.0 at twice it, linear (0.25 at half)."""
    return float(min(1.0, max(0.0, 0.5 * value / rule)))


def _interp(x: F32, xs: F32, ys: F32) -> F32:
    """Thickness of attenuation ``x`` from wedge steps (``xs`` attenuation, ``ys`` mm).

    Piecewise-linear through (0, 0) and the steps, extended linearly past the last one:
    no attenuation is no matter, and less than the thinnest step is less than its thickness
    (before 2026-12-06 it read as the thinnest step: 0.25 mm of steel, 5 mm of PMMA).
    """
    xs = np.concatenate((np.zeros(1, np.float32), xs)).astype(np.float32)
    ys = np.concatenate((np.zeros(1, np.float32), ys)).astype(np.float32)
    out = np.interp(x, xs, ys).astype(np.float32)
    if len(xs) >= 2:
        slope = (ys[-1] - ys[-2]) / max(float(xs[-1] - xs[-2]), 1e-6)
        over = x > xs[-1]
        out[over] = ys[-1] + slope * (x[over] - xs[-1])
    return out


def _pool(a: F32) -> F32:
    """2 x 2 max pooling (edges cropped to whole blocks): pairs of rows, then of columns."""
    h, w = (a.shape[0] // 2) * 2, (a.shape[1] // 2) * 2
    rows = np.maximum(a[0:h:2, :w], a[1:h:2, :w])
    return np.asarray(np.maximum(rows[:, 0::2], rows[:, 1::2]), np.float32)


@dataclass(frozen=True, slots=True, eq=False)
class Maps:
    """Half-resolution maps: attenuations, z, steel and organic equivalents (mm), masks."""

    a_low: F32
    a_high: F32
    z: F32
    steel_mm: F32
    organic_mm: F32
    saturated: npt.NDArray[np.bool_]
    impenetrable: npt.NDArray[np.bool_]
    z_lead: F32  # where lead reads (z) at each pixel's A_high, from the calibrated lead steps

    def readable(self, min_high: float) -> npt.NDArray[np.bool_]:
        """Pixels whose two energies can be read: penetrated, unsaturated, ``A_high`` at least
        ``min_high`` (below it the ratio is noise)."""
        return ~self.impenetrable & ~self.saturated & (self.a_high >= min_high)


def attenuations(low: U16, high: U16, cal: Calibration) -> tuple[F32, F32]:
    """Full-resolution ``−ln(I/I0)`` of both channels against the calibrated flat field."""
    out: list[F32] = []
    for counts, air in ((low, cal.air_low), (high, cal.air_high)):
        c = counts.astype(np.float32)
        np.maximum(c, np.float32(1.0), out=c)
        cv2.log(c, c)
        out.append(np.subtract(np.log(np.asarray(air, np.float32))[None, :], c, out=c))
    return out[0], out[1]


#: Pooled pixels per band of rows of the material maps: a band's float64 work stays in cache.
BAND_PX = 1 << 15


def material_maps(a_low: F32, a_high: F32, cal: Calibration, cfg: SignatureConfig) -> Maps:
    """Place every (pooled) pixel among the calibrated curves, a band of rows at a time."""
    lo, hi = _pool(a_low), _pool(a_high)
    z, steel, organic, z_lead = (np.empty_like(hi) for _ in range(4))
    saturated = lo >= LOW_FLOOR - 1.5
    step = max(1, BAND_PX // max(1, hi.shape[1]))
    for y in range(0, hi.shape[0], step):
        b = slice(y, y + step)
        z[b], steel[b], organic[b] = _place(lo[b], hi[b], saturated[b], cal)
        z_lead[b] = cal.lead_z_at(hi[b])
    imp = hi >= -math.log(cfg.impenetrable_transmission)
    return Maps(lo, hi, z, steel, organic, saturated, imp, z_lead)


def _place(lo: F32, hi: F32, saturated: Mask, cal: Calibration) -> tuple[F32, F32, F32]:
    """z, steel and organic mm of a band of pooled pixels (``material_maps``)."""
    h64 = hi.astype(np.float64)  # converted once for every curve read at it
    r_o, r_a, r_f = cal.ratios_at(h64)
    z = z_between(np.asarray(lo / np.maximum(hi, np.float32(0.02)), np.float32), r_o, r_a, r_f)
    steel_a = np.clip((lo - r_o * h64) / np.maximum(r_f - r_o, 1e-3), 0.0, h64).astype(np.float32)
    np.copyto(steel_a, hi, where=saturated)  # saturated: all of it
    (ho, _, mo), _, (hf, _, mf) = (cal.table(b) for b in BASES)
    steel = np.maximum(_interp(steel_a, hf, mf), np.float32(0.0))
    organic = np.maximum(_interp(hi - steel_a, ho, mo), np.float32(0.0))
    return z, steel, organic


def _full(box: Box, scale: int) -> Box:
    """A pooled-grid box in full-resolution pixels."""
    return (box[0] * scale, box[1] * scale, box[2] * scale, box[3] * scale)
