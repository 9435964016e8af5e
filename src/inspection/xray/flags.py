"""Pre-screen flags: what each one means, its scoring levels and the image rules behind it.

Every flag has a measured value in natural units (cm², g, cells, or a 0..1 likeness) and two
levels: at ``report`` the flag is shown (score 0.25), at ``alarm`` it makes the image suspect
(score 0.5); the score keeps rising to 1.0 above the alarm level. Regions are ``(x, y, w, h)``
in pixels of the high-energy image.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
from pydantic import Field, model_validator

from contracts.config import ConfigModel
from inspection.xray.materials import MaterialConfig
from inspection.xray.regions import Blob, BlobMap, Box, Planes
from inspection.xray.shapes import label

#: Score of a flag exactly at its report level and at its alarm level.
REPORT_SCORE = 0.25
ALARM_SCORE = 0.5


class FlagKind(StrEnum):
    """Kinds of pre-screen flags (stable strings)."""

    IMPENETRABLE = "IMPENETRABLE"  # X-rays do not get through: cannot be cleared by image
    DENSE_METAL = "DENSE_METAL"  # a large mass of metal that can hide other things
    BATTERY = "BATTERY"  # lithium-cell signature; alarm above the installed-cell limit
    BLADE = "BLADE"  # thin, elongated, straight steel
    GUN = "GUN"  # thick metal barrel with a grip at an angle
    DECLARATION_MISMATCH = "DECLARATION_MISMATCH"  # image contradicts the declared goods


@dataclass(frozen=True, slots=True)
class Flag:
    """One finding: kind, score 0..1, region in high-energy image pixels, value and a note."""

    kind: FlagKind
    score: float
    region: Box
    value: float  # the measured value in the flag's unit (see FlagConfig)
    detail: str

    @property
    def alarm(self) -> bool:
        """True when the score reached the alarm level (the image is then suspect)."""
        return self.score >= ALARM_SCORE

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "kind": self.kind.value,
            "score": round(self.score, 3),
            "alarm": self.alarm,
            "region": list(self.region),
            "value": round(self.value, 3),
            "detail": self.detail,
        }


class Levels(ConfigModel):
    """Report and alarm levels of one flag, in the flag's own unit."""

    report: float = Field(gt=0.0, title="Report level", description="Value at which it is shown.")
    alarm: float = Field(gt=0.0, title="Alarm level", description="Value that makes it suspect.")

    @model_validator(mode="after")
    def _ordered(self) -> Levels:
        """Refuse an alarm level below the report level."""
        if self.alarm < self.report:
            raise ValueError(f"alarm level {self.alarm} is below report level {self.report}")
        return self

    def score(self, value: float) -> float:
        """Map a value onto 0..1: report → 0.25, alarm → 0.5, rising linearly to 1.0."""
        span = max(self.alarm - self.report, 0.25 * self.alarm)
        xs = [0.0, self.report, self.alarm, self.alarm + 2.0 * span]
        if self.alarm == self.report:
            xs[1] = self.report * (1.0 - 1e-9)
        return float(np.interp(value, xs, [0.0, REPORT_SCORE, ALARM_SCORE, 1.0]))


def _ramp(value: float, lo: float, hi: float) -> float:
    """0 at ``lo``, 1 at ``hi``, linear between (``lo > hi`` makes a falling ramp)."""
    if lo == hi:
        return 1.0 if value >= hi else 0.0
    return float(min(1.0, max(0.0, (value - lo) / (hi - lo))))


class FlagConfig(ConfigModel):
    """Levels and shape cues of every image flag; defaults tuned on the Clearline simulator."""

    impenetrable_cm2: Levels = Field(
        Levels(report=0.5, alarm=1.0),
        title="IMPENETRABLE area",
        description="Area of one impenetrable region, cm².",
    )
    dense_metal_g: Levels = Field(
        Levels(report=150.0, alarm=2500.0),
        title="DENSE_METAL mass",
        description="Steel-equivalent mass of one metal region, g.",
    )
    battery_cells: Levels = Field(
        Levels(report=0.3, alarm=4.5),
        title="BATTERY cells",
        description="Estimated lithium cells in one region (alarm above the postal limit of 4).",
    )
    blade_likeness: Levels = Field(
        Levels(report=0.3, alarm=0.6), title="BLADE", description="Blade likeness 0..1."
    )
    gun_likeness: Levels = Field(
        Levels(report=0.3, alarm=0.6), title="GUN", description="Gun likeness 0..1."
    )
    steel_min_ratio: float = Field(
        2.9, gt=0.0, description="Object ratio from which a region is steel-like (not a cell)."
    )
    cell_ratio: tuple[float, float] = Field(
        (1.95, 2.9), description="Object ratio range of lithium-ion cells."
    )
    cell_volume_cm3: float = Field(
        15.5, gt=0.0, description="Apparent volume of one 18650 cell as measured here, cm³."
    )
    thin_cell_volume_cm3: float = Field(
        13.2, gt=0.0, description="Apparent volume of one cell in the thin-metal pass, cm³."
    )
    cell_high_per_cm: float = Field(
        0.621, gt=0.0, description="High-energy linear attenuation of cell material, 1/cm."
    )
    cell_min_fill: float = Field(
        0.5, ge=0.0, le=1.0, description="Smallest rectangle fill of a cell region."
    )
    blade_max_mm: float = Field(
        5.0, gt=0.0, description="Metal thickness above which a region is not blade-like, mm."
    )
    blade_min_length_mm: float = Field(60.0, gt=0.0, description="Shortest blade, mm.")
    blade_elongation: tuple[float, float] = Field(
        (2.5, 4.0), description="Elongation where blade likeness rises from 0 to 1."
    )
    barrel_min_mm: float = Field(
        9.0, gt=0.0, description="Metal thickness of a gun barrel/slide, mm, at least."
    )
    barrel_length_mm: tuple[float, float] = Field(
        (80.0, 120.0), description="Barrel length where gun likeness rises from 0 to 1, mm."
    )
    grip_area_share: tuple[float, float] = Field(
        (0.1, 0.3), description="Grip area / barrel area where gun likeness rises from 0 to 1."
    )
    cell_cluster_mm: float = Field(
        12.0, ge=0.0, description="Cell regions closer than this, mm, count as one battery pack."
    )


def score_impenetrable(planes: Planes, materials: MaterialConfig, cfg: FlagConfig) -> list[Flag]:
    """IMPENETRABLE: each region where the high energy does not get through."""
    mask = (planes.high >= materials.impenetrable_min_high).astype(np.uint8)
    if not mask.any():
        return []
    n, _, stats = label(mask)
    flags: list[Flag] = []
    for i in range(1, n):
        area = float(stats[i, cv2.CC_STAT_AREA]) * planes.pixel_cm2
        if area < cfg.impenetrable_cm2.report:
            continue
        box = tuple(int(v) for v in stats[i, :4])
        flags.append(
            Flag(
                FlagKind.IMPENETRABLE,
                cfg.impenetrable_cm2.score(area),
                planes.to_image_box((box[0], box[1], box[2], box[3])),
                area,
                f"{area:.1f} cm² the X-rays do not penetrate: cannot be cleared by image",
            )
        )
    return flags


def _steel_like(blob: Blob, cfg: FlagConfig) -> bool:
    """True for a region whose own ratio says steel (or whose low channel is saturated)."""
    return blob.object_ratio >= cfg.steel_min_ratio or blob.saturated_share >= 0.3


def blade_likeness(blob: Blob, cfg: FlagConfig) -> float:
    """0..1: thin, long, elongated, straight steel."""
    if not _steel_like(blob, cfg) or blob.impenetrable_share > 0.2:
        return 0.0
    return min(
        _ramp(blob.elongation, *cfg.blade_elongation),
        _ramp(blob.metal_mm, cfg.blade_max_mm, 0.8 * cfg.blade_max_mm),
        _ramp(blob.length_mm, 0.7 * cfg.blade_min_length_mm, cfg.blade_min_length_mm),
        _ramp(blob.fill, 0.35, 0.5),
    )


def gun_likeness(
    planes: Planes, blobs: BlobMap, blob: Blob, materials: MaterialConfig, cfg: FlagConfig
) -> float:
    """0..1: a thick elongated metal barrel with a grip-sized arm offset to one side (an L).

    The barrel is the largest region of metal at least ``barrel_min_mm`` thick; its width is
    twice its largest inscribed radius (robust to things lying across it), its length is its
    area over that width, its axis the principal axis of its pixels. The arm is the rest of
    the metal region lying beside the barrel, farther from the axis than the barrel is wide.
    """
    if blob.metal_mm < 0.5 * cfg.barrel_min_mm and blob.saturated_share < 0.2:
        return 0.0
    x, y, w, h = blob.box
    comp = blobs.labels[y : y + h, x : x + w] == blob.label
    metal = planes.metal[y : y + h, x : x + w]
    barrel_level = cfg.barrel_min_mm / 10.0 * materials.metal_high_per_cm
    smooth = cv2.medianBlur(np.ascontiguousarray(metal), 5) if min(metal.shape) >= 5 else metal
    thick = (comp & (smooth >= barrel_level)).astype(np.uint8)
    thick = cv2.morphologyEx(thick, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    n, lab, stats = label(np.asarray(thick, np.uint8))
    if n < 2:
        return 0.0
    big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    core = (lab == big).astype(np.uint8)
    area = float(stats[big, cv2.CC_STAT_AREA])
    radius = float(cv2.distanceTransform(np.pad(core, 1), cv2.DIST_L2, 3).max())
    width = 2.0 * radius
    if width < 2.0:
        return 0.0
    length = area / width
    cy_, cx_ = np.nonzero(core)
    cx, cy = float(cx_.mean()), float(cy_.mean())
    cov = np.cov(np.vstack((cx_ - cx, cy_ - cy))) if cx_.size > 2 else np.eye(2)
    evals, evecs = np.linalg.eigh(cov)
    ux, uy = (float(v) for v in evecs[:, int(np.argmax(evals))])
    grow = max(1, round(4.0 / planes.pixel_mm))
    rest = comp & (cv2.dilate(core, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)) == 0)
    ry, rx = np.nonzero(rest)
    if rx.size == 0:
        return 0.0
    dx, dy = rx - cx, ry - cy
    along = np.abs(ux * dx + uy * dy)
    perp = np.abs(-uy * dx + ux * dy)
    arm = (perp > 0.5 * width + grow) & (along <= 0.6 * length)
    arm_share = float(np.count_nonzero(arm)) / area
    core_along = ux * (cx_ - cx) + uy * (cy_ - cy)
    extent = float(core_along.max() - core_along.min()) + 1.0
    fullness = area / (width * extent)  # a straight bar of even width fills its own box
    return min(
        _ramp(length * planes.pixel_mm, *cfg.barrel_length_mm),
        _ramp(length / width, 2.0, 3.0),
        _ramp(fullness, 0.6, 0.8),
        _ramp(arm_share, *cfg.grip_area_share),
    )


def battery_cells(blob: Blob, cfg: FlagConfig, cell_volume_cm3: float) -> float | None:
    """Estimated lithium cells in a cell-like region (compact, cell ratio, in a casing), or None.

    ``cell_volume_cm3`` is the apparent volume of one cell in the pass the region comes from.
    """
    lo, hi = cfg.cell_ratio
    if not lo <= blob.object_ratio <= hi or blob.saturated_share > 0.05:
        return None
    if blob.fill < cfg.cell_min_fill or not blob.casing or blob.own_high <= 0:
        return None
    volume = blob.own_high / cfg.cell_high_per_cm * blob.area_cm2
    return volume / cell_volume_cm3
