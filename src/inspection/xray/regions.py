"""Analysis planes at reduced resolution and the measured metal regions (blobs) in them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import Field

from contracts.config import ConfigModel
from inspection.xray.image import ImageConfig, attenuation
from inspection.xray.materials import (
    MaterialConfig,
    classify,
    curve_value,
    metal_equivalent,
)
from inspection.xray.shapes import label

F32 = npt.NDArray[np.float32]
U16 = npt.NDArray[np.uint16]
U8 = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int]


class RegionConfig(ConfigModel):
    """How metal regions are cut out of the metal-equivalent map."""

    analysis_scale: int = Field(
        2,
        ge=1,
        le=8,
        title="Downsampling",
        description="Image pixels per analysis pixel along each axis (binning before analysis).",
    )
    metal_min_high: float = Field(
        0.12,
        gt=0.0,
        title="Metal mask level",
        description="Metal-equivalent high attenuation at or above which a pixel is metal.",
    )
    min_blob_cm2: float = Field(
        2.0,
        gt=0.0,
        title="Smallest region",
        description="Metal regions below this area, cm², are ignored.",
    )
    max_blobs: int = Field(
        40, ge=1, le=1000, title="Most regions", description="Largest regions measured per image."
    )
    ring_px: int = Field(
        3, ge=1, le=20, title="Ring width", description="Width of the background ring, analysis px."
    )
    thin_band: tuple[float, float] = Field(
        (0.3, 1.3),
        title="Thin-metal band",
        description="Metal-equivalent range of the second pass that separates thin sheet metal "
        "(blades) from thick or light objects it overlaps.",
    )


@dataclass(frozen=True, slots=True, eq=False)
class Planes:
    """Analysis-resolution planes: attenuations, metal equivalent, classes and geometry."""

    low: F32
    high: F32
    metal: F32  # metal share of A_high per pixel
    classes: U8
    scale: int  # image pixels per analysis pixel
    pixel_mm: float  # size of one analysis pixel, mm
    full_shape: tuple[int, int]  # (H, W) of one channel at full resolution

    @property
    def pixel_cm2(self) -> float:
        """Area of one analysis pixel, cm²."""
        return (self.pixel_mm / 10.0) ** 2

    def to_image_box(self, box: Box) -> Box:
        """Turn an analysis-pixel box (x, y, w, h) into image pixels, clipped to the image."""
        x, y, w, h = box
        s = self.scale
        fh, fw = self.full_shape
        x0, y0 = min(x * s, fw), min(y * s, fh)
        return (x0, y0, min(w * s, fw - x0), min(h * s, fh - y0))


def _bin(plane: F32, scale: int) -> F32:
    """Average ``scale`` x ``scale`` blocks (edges cropped to a whole number of blocks)."""
    if scale == 1:
        return plane
    h, w = plane.shape
    hh, ww = max(1, h // scale), max(1, w // scale)
    src = plane[: hh * scale, : ww * scale] if h >= scale and w >= scale else plane
    out = cv2.resize(src, (ww, hh), interpolation=cv2.INTER_AREA)
    return np.asarray(out, dtype=np.float32).reshape(hh, ww)


def _planes(
    lo: F32,
    hi: F32,
    *,
    scale: int,
    pixel_mm: float,
    full: tuple[int, int],
    materials: MaterialConfig,
) -> Planes:
    """Assemble planes from binned attenuation."""
    return Planes(
        low=lo,
        high=hi,
        metal=metal_equivalent(lo, hi, materials),
        classes=classify(lo, hi, materials),
        scale=scale,
        pixel_mm=pixel_mm * scale,
        full_shape=full,
    )


def _scale_for(shape: tuple[int, ...], regions: RegionConfig) -> int:
    """The binning factor, reduced to 1 for images too small to bin."""
    return regions.analysis_scale if min(shape) >= 4 * regions.analysis_scale else 1


def build_planes(
    low: F32,
    high: F32,
    pixel_mm: float,
    materials: MaterialConfig,
    regions: RegionConfig,
) -> Planes:
    """Bin full-resolution attenuation planes and derive the metal map and the class map."""
    scale = _scale_for(low.shape, regions)
    full = (int(low.shape[0]), int(low.shape[1]))
    return _planes(
        _bin(low, scale),
        _bin(high, scale),
        scale=scale,
        pixel_mm=pixel_mm,
        full=full,
        materials=materials,
    )


def planes_from_counts(
    low: U16,
    high: U16,
    image: ImageConfig,
    materials: MaterialConfig,
    regions: RegionConfig,
) -> Planes:
    """Bin detector counts (intensities add physically), then take attenuation and build planes."""
    scale = _scale_for(low.shape, regions)
    full = (int(low.shape[0]), int(low.shape[1]))
    lo = attenuation(_bin(low.astype(np.float32), scale), image.air_counts)
    hi = attenuation(_bin(high.astype(np.float32), scale), image.air_counts)
    return _planes(lo, hi, scale=scale, pixel_mm=image.pixel_mm, full=full, materials=materials)


@dataclass(frozen=True, slots=True)
class Blob:
    """One connected metal region and what was measured on it (analysis pixels, mm, g, cm³)."""

    label: int
    box: Box  # x, y, w, h in analysis pixels
    area_px: int
    area_cm2: float
    object_ratio: float  # low/high ratio of the object itself, background ring removed
    own_high: float  # mean high attenuation of the object itself, background removed
    saturated_share: float  # share of pixels with a saturated low channel
    impenetrable_share: float
    metal_mm: float  # median metal-equivalent thickness, mm of the metal basis
    metal_mass_g: float  # metal-equivalent mass
    length_mm: float  # long side of the minimum-area rectangle
    width_mm: float  # short side
    fill: float  # area / minimum-area rectangle area
    solidity: float  # area / convex hull area
    casing: bool  # the surrounding ring holds organic/mixed matter (the object sits in something)

    @property
    def elongation(self) -> float:
        """Long side over short side of the minimum-area rectangle (≥ 1)."""
        return self.length_mm / max(self.width_mm, 1e-6)


@dataclass(frozen=True, slots=True, eq=False)
class BlobMap:
    """The labelled metal map and its measured blobs."""

    labels: npt.NDArray[np.int32]
    mask: U8
    blobs: tuple[Blob, ...]


def _shape(comp: U8, pixel_mm: float) -> tuple[float, float, float, float]:
    """Return (length mm, width mm, fill, solidity) of a binary region."""
    contours, _ = cv2.findContours(comp, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return 0.0, 0.0, 0.0, 0.0
    pts = np.vstack(contours)
    (_, _), (rw, rh), _ = cv2.minAreaRect(pts)
    area = float(np.count_nonzero(comp))
    length, width = max(rw, rh) + 1.0, min(rw, rh) + 1.0
    hull = float(cv2.contourArea(cv2.convexHull(pts))) + 0.5 * cv2.arcLength(
        cv2.convexHull(pts), True
    )
    fill = min(1.0, area / (length * width))
    solidity = min(1.0, area / hull) if hull > 0 else 0.0
    return length * pixel_mm, width * pixel_mm, fill, solidity


def metal_mask(planes: Planes, materials: MaterialConfig, lo: float, hi: float) -> U8:
    """Pixels whose metal equivalent lies in [lo, hi) (plus impenetrable ones when hi is inf)."""
    m = planes.metal
    mask = (m >= lo) if math.isinf(hi) else ((m >= lo) & (m < hi))
    if math.isinf(hi):
        mask |= planes.high >= materials.impenetrable_min_high
    out = mask.astype(np.uint8)
    return np.asarray(cv2.morphologyEx(out, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)), np.uint8)


def measure_blobs(
    planes: Planes,
    materials: MaterialConfig,
    cfg: RegionConfig,
    mask: U8 | None = None,
    metal_any: U8 | None = None,
) -> BlobMap:
    """Cut a metal mask into connected regions and measure the larger ones.

    ``mask`` defaults to every metal pixel (``cfg.metal_min_high`` and up); the background
    ring of each region leaves out every pixel of ``metal_any`` (default: ``mask``).
    """
    if mask is None:
        mask = metal_mask(planes, materials, cfg.metal_min_high, math.inf)
    ring_exclude = mask if metal_any is None else metal_any
    n, raw, stats = label(mask)
    labels = np.asarray(raw, np.int32)
    min_px = max(4, math.ceil(cfg.min_blob_cm2 / planes.pixel_cm2))
    order = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= min_px]
    order.sort(key=lambda i: -int(stats[i, cv2.CC_STAT_AREA]))
    blobs = tuple(
        _measure(
            planes, materials, cfg, labels=labels, exclude=ring_exclude, label=i, stat=stats[i]
        )
        for i in order[: cfg.max_blobs]
    )
    return BlobMap(labels=labels, mask=mask, blobs=blobs)


def _edge_ratio(
    lo: F32, hi: F32, inside: npt.NDArray[np.bool_], outside: npt.NDArray[np.bool_], win: int
) -> float:
    """Low/high ratio of an object from the steps at its edge (local background, both sides).

    For every object pixel near the edge, the mean of the object pixels and the mean of the
    outside pixels within a ``win`` x ``win`` window are compared; the ratio of the summed
    low-energy steps to the summed high-energy steps is the object's own ratio, whatever
    lies under it, even when the background changes along the edge.
    """
    if not inside.any() or not outside.any():
        return 0.0
    fin, fout = inside.astype(np.float32), outside.astype(np.float32)
    size = (win, win)

    def box(a: F32) -> F32:
        return np.asarray(cv2.boxFilter(a, -1, size, normalize=False), np.float32)

    n_in, n_out = box(fin), box(fout)
    edge = inside & (n_out >= 2.0) & (n_in >= 2.0)
    if not edge.any():
        return 0.0
    step_lo = box(lo * fin)[edge] / n_in[edge] - box(lo * fout)[edge] / n_out[edge]
    step_hi = box(hi * fin)[edge] / n_in[edge] - box(hi * fout)[edge] / n_out[edge]
    total_hi = float(step_hi.sum())
    if total_hi <= 0.03 * float(edge.sum()):
        return 0.0
    return float(step_lo.sum()) / total_hi


def _measure(
    planes: Planes,
    materials: MaterialConfig,
    cfg: RegionConfig,
    *,
    labels: npt.NDArray[np.int32],
    exclude: U8,
    label: int,
    stat: npt.NDArray[np.int32],
) -> Blob:
    """Measure one labelled region."""
    x, y, w, h = (int(v) for v in stat[:4])
    pad = cfg.ring_px + 1
    hh, ww = labels.shape
    ys, xs = (
        slice(max(0, y - pad), min(hh, y + h + pad)),
        slice(max(0, x - pad), min(ww, x + w + pad)),
    )
    comp = (labels[ys, xs] == label).astype(np.uint8)
    k = 2 * cfg.ring_px + 1
    ring = (cv2.dilate(comp, np.ones((k, k), np.uint8)) > 0) & (exclude[ys, xs] == 0)
    lo, hi, met = planes.low[ys, xs], planes.high[ys, xs], planes.metal[ys, xs]
    inside = comp > 0
    area_px = int(np.count_nonzero(inside))
    sat = inside & (lo >= materials.low_saturation)
    imp = inside & (hi >= materials.impenetrable_min_high)
    usable = inside & ~sat & ~imp
    bg_lo = float(np.median(lo[ring])) if ring.any() else 0.0
    bg_hi = float(np.median(hi[ring])) if ring.any() else 0.0
    own_hi = float(hi[inside].mean()) - bg_hi
    obj_ratio = _edge_ratio(lo, hi, usable, ring, 2 * cfg.ring_px + 1)
    casing = bg_hi > materials.background_max_high and (
        bg_lo / max(bg_hi, 1e-3) < curve_value(materials.metal_min_ratio, bg_hi)
    )
    metal_cm = float(np.median(met[inside])) / materials.metal_high_per_cm
    mass = float(met[inside].sum()) / materials.metal_high_cm2_g * planes.pixel_cm2
    length, width, fill, solidity = _shape(comp, planes.pixel_mm)
    return Blob(
        label=label,
        box=(x, y, w, h),
        area_px=area_px,
        area_cm2=area_px * planes.pixel_cm2,
        object_ratio=obj_ratio,
        own_high=own_hi,
        saturated_share=float(np.count_nonzero(sat)) / area_px,
        impenetrable_share=float(np.count_nonzero(imp)) / area_px,
        metal_mm=metal_cm * 10.0,
        metal_mass_g=mass,
        length_mm=length,
        width_mm=width,
        fill=fill,
        solidity=solidity,
        casing=bool(casing),
    )
