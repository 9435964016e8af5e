"""Material classes per pixel from the two energies, by thickness-dependent ratio thresholds.

The ratio ``R = A_low / A_high`` of the two attenuations rises with the effective atomic
number: about 1.2 for organics (Z ≤ 10), 1.6–1.9 for light inorganics (aluminium, glass,
circuit boards), above 2 for metals. Thresholds are curves over ``A_high`` (the thickness
axis) because noise widens the spread of thin objects and the low-energy channel saturates
behind thick metal, which pulls the measured ratio down.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from contracts.config import ConfigModel

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]

Curve = tuple[tuple[float, float], ...]

#: Width of the low-energy attenuation band below saturation over which the metal map
#: blends into "all metal".
_SATURATION_RAMP = 1.5


class MaterialClass(IntEnum):
    """Per-pixel class; the value is what a class map array holds."""

    BACKGROUND = 0  # belt / air
    ORGANIC = 1  # orange
    MIXED = 2  # green: light inorganic, organic/metal mixtures
    METAL = 3  # blue: inorganic, metal
    IMPENETRABLE = 4  # black (or red): nothing gets through


class MaterialConfig(ConfigModel):
    """Thresholds of the material map; defaults are tuned on the Clearline simulator."""

    background_max_high: float = Field(
        0.10,
        ge=0.0,
        title="Background level",
        description="High-energy attenuation at or below which a pixel is belt or air.",
    )
    impenetrable_min_high: float = Field(
        6.5,
        gt=0.0,
        title="Impenetrable level",
        description="High-energy attenuation at or above which nothing useful gets through "
        "(6.5 = 0.15 % transmission).",
    )
    low_saturation: float = Field(
        8.0,
        gt=0.0,
        title="Low-energy saturation",
        description="Low-energy attenuation above which that channel is at its noise floor.",
    )
    organic_max_ratio: Curve = Field(
        ((0.10, 1.60), (0.40, 1.42), (4.0, 1.42), (6.5, 1.28)),
        title="Organic limit",
        description="(A_high, ratio) points: below the interpolated ratio a pixel is organic.",
    )
    metal_min_ratio: Curve = Field(
        ((0.10, 2.40), (0.40, 2.05), (3.0, 2.05), (4.5, 1.75), (6.5, 1.45)),
        title="Metal limit",
        description="(A_high, ratio) points: at or above the interpolated ratio a pixel is metal.",
    )
    organic_ratio: float = Field(
        1.20,
        gt=0.0,
        title="Organic basis ratio",
        description="Ratio of the organic basis material used for the metal-equivalent map.",
    )
    metal_ratio: float = Field(
        3.24,
        gt=0.0,
        title="Metal basis ratio",
        description="Ratio of the metal basis material (steel) used for the metal-equivalent map.",
    )

    metal_high_cm2_g: float = Field(
        0.372,
        gt=0.0,
        title="Metal basis mass attenuation",
        description="High-energy mass attenuation of the metal basis (steel), cm²/g.",
    )
    metal_density_g_cm3: float = Field(
        7.87, gt=0.0, title="Metal basis density", description="Density of the metal basis, g/cm³."
    )

    @property
    def metal_high_per_cm(self) -> float:
        """High-energy linear attenuation of the metal basis, 1/cm."""
        return self.metal_high_cm2_g * self.metal_density_g_cm3

    @model_validator(mode="after")
    def _consistent(self) -> MaterialConfig:
        """Refuse unordered curves, a metal limit under the organic one, or crossed bases."""
        for name, curve in (
            ("organic_max_ratio", self.organic_max_ratio),
            ("metal_min_ratio", self.metal_min_ratio),
        ):
            if not curve:
                raise ValueError(f"{name} needs at least one (A_high, ratio) point")
            xs = [p[0] for p in curve]
            if any(b <= a for a, b in itertools.pairwise(xs)):
                raise ValueError(f"{name} A_high values must rise strictly, got {xs}")
            if any(p[1] <= 0 for p in curve):
                raise ValueError(f"{name} ratios must be positive, got {list(curve)}")
        grid = sorted({p[0] for p in self.organic_max_ratio + self.metal_min_ratio})
        bad = [
            g
            for g in grid
            if curve_value(self.metal_min_ratio, g) < curve_value(self.organic_max_ratio, g)
        ]
        if bad:
            raise ValueError(f"metal_min_ratio is below organic_max_ratio at A_high {bad}")
        if self.metal_ratio <= self.organic_ratio:
            raise ValueError(
                f"metal_ratio {self.metal_ratio} must exceed organic_ratio {self.organic_ratio}"
            )
        if self.impenetrable_min_high <= self.background_max_high:
            raise ValueError("impenetrable_min_high must exceed background_max_high")
        return self


def curve_value(points: Curve, x: float) -> float:
    """Interpolate a threshold curve at one A_high value (flat beyond its ends)."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return float(np.interp(x, xs, ys))


def _curve(points: Curve, x: F32) -> F32:
    """Interpolate a threshold curve at every pixel (flat beyond its ends)."""
    xs = np.array([p[0] for p in points], np.float32)
    ys = np.array([p[1] for p in points], np.float32)
    return np.interp(x, xs, ys).astype(np.float32)


def ratio(low: F32, high: F32) -> F32:
    """Return ``A_low / A_high`` per pixel (dimensionless; 0 where A_high is about 0)."""
    safe = np.maximum(high, np.float32(1e-3))
    return np.asarray(low / safe, dtype=np.float32)


def classify(low: F32, high: F32, cfg: MaterialConfig | None = None) -> U8:
    """Return the MaterialClass of every pixel (uint8 map) from low/high attenuation."""
    cfg = cfg or MaterialConfig()
    r = ratio(low, high)
    out = np.full(high.shape, MaterialClass.MIXED, np.uint8)
    out[r < _curve(cfg.organic_max_ratio, high)] = MaterialClass.ORGANIC
    # A saturated low channel only gives a lower bound of the ratio: never call it organic.
    metal = (r >= _curve(cfg.metal_min_ratio, high)) | (low >= cfg.low_saturation)
    out[metal] = MaterialClass.METAL
    out[high >= cfg.impenetrable_min_high] = MaterialClass.IMPENETRABLE
    out[high <= cfg.background_max_high] = MaterialClass.BACKGROUND
    return out


def metal_equivalent(low: F32, high: F32, cfg: MaterialConfig | None = None) -> F32:
    """Return the metal share of the high-energy attenuation per pixel (A_high units).

    Two-basis decomposition: ``A_high = o + m`` and ``A_low = r_org·o + r_met·m`` give
    ``m = (A_low − r_org·A_high) / (r_met − r_org)``, which is the same whatever organic
    matter lies on the ray. Where the low channel is saturated the pixel is taken as all
    metal (``m = A_high``), blended in over the last 1.5 below saturation. Divide by the
    metal's μ·ρ (1/cm) for a thickness.
    """
    cfg = cfg or MaterialConfig()
    m = (low - np.float32(cfg.organic_ratio) * high) / np.float32(
        cfg.metal_ratio - cfg.organic_ratio
    )
    m = np.clip(m, np.float32(0.0), high).astype(np.float32, copy=False)
    start = cfg.low_saturation - _SATURATION_RAMP
    if float(low.max(initial=0.0)) > start:
        # Blend towards "all metal" as the low channel runs into its noise floor.
        w = np.clip((low - np.float32(start)) / np.float32(_SATURATION_RAMP), 0.0, 1.0)
        m = np.maximum(m, (w * high).astype(np.float32))
    return np.asarray(m, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class MaterialShares:
    """Shares (0..1) of the parcel's imaged area per class, and that area in cm²."""

    organic: float
    mixed: float
    metal: float
    impenetrable: float
    object_area_cm2: float

    def as_dict(self) -> dict[str, float]:
        """JSON-ready form, shares rounded to 4 places."""
        return {
            "organic": round(self.organic, 4),
            "mixed": round(self.mixed, 4),
            "metal": round(self.metal, 4),
            "impenetrable": round(self.impenetrable, 4),
            "object_area_cm2": round(self.object_area_cm2, 1),
        }


def shares(classes: U8, pixel_mm: float) -> MaterialShares:
    """Share of each class among non-background pixels of a class map (pixel size in mm)."""
    counts = np.bincount(classes.ravel(), minlength=len(MaterialClass)).astype(np.float64)
    obj = float(counts[1:].sum())
    area_cm2 = obj * (pixel_mm / 10.0) ** 2
    if obj == 0:
        return MaterialShares(0.0, 0.0, 0.0, 0.0, 0.0)
    return MaterialShares(
        organic=float(counts[MaterialClass.ORGANIC] / obj),
        mixed=float(counts[MaterialClass.MIXED] / obj),
        metal=float(counts[MaterialClass.METAL] / obj),
        impenetrable=float(counts[MaterialClass.IMPENETRABLE] / obj),
        object_area_cm2=area_cm2,
    )
