"""Solid primitives seen by a vertical beam: plates and cylinders, tilted about their long axis.

An object is built in its own frame (x along its length, y across, z up along the beam, all
in mm) from plates (a plan-view outline extruded along z) and cylinders (axis along x). It
may be tilted about x by any angle before it is projected; the projection gives, for every
material, the path length in cm through it at every pixel. Chords are exact for a
rectangular cross-section rotated by the tilt and for a circular one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

#: Outline of a plate: for positions x (mm) the (low, high) y bounds (mm) of its plan view.
Outline = Callable[[F64], tuple[F64, F64]]


@dataclass(frozen=True, slots=True)
class Plate:
    """A plate of ``h`` mm along z centred at ``z``, between ``x0`` and ``x1`` with an outline."""

    material: str
    x0: float
    x1: float
    outline: Outline
    z: float
    h: float


@dataclass(frozen=True, slots=True)
class Cyl:
    """A cylinder (or a tube when ``r_in`` > 0) along x, centred at (y, z), radii in mm."""

    material: str
    x0: float
    x1: float
    y: float
    z: float
    r: float
    r_in: float = 0.0


@dataclass(frozen=True, slots=True)
class Field:
    """A plan-view path-length map (cm) placed with its top-left corner at (x0, y0) mm."""

    material: str
    x0: float
    y0: float
    cm: F32 = field(repr=False)


Part = Plate | Cyl | Field


def rect(y0: float, y1: float) -> Outline:
    """Constant outline between y0 and y1."""
    return lambda x: (np.full_like(x, y0), np.full_like(x, y1))


def taper(y0: float, y1: float, x0: float, x1: float, tip: float) -> Outline:
    """Outline that keeps [y0, y1] up to ``tip`` then narrows to the point at x1 on y0 (a blade)."""

    def fn(x: F64) -> tuple[F64, F64]:
        share = np.clip((x - tip) / max(x1 - tip, 1e-6), 0.0, 1.0)
        return np.full_like(x, y0), y1 - (y1 - y0) * share

    return fn


def disc(cx: float, cy: float, r: float) -> Outline:
    """Circular outline (a coin, a standing cartridge); x0/x1 of the plate are cx ∓ r."""

    def fn(x: F64) -> tuple[F64, F64]:
        half = np.sqrt(np.clip(r * r - (x - cx) ** 2, 0.0, None))
        return cy - half, cy + half

    return fn


def _rect_chord(d: F64, half_w: F64, half_h: float, tilt: float) -> F64:
    """Length along z' through a w x h rectangle rotated by ``tilt``, at lateral offsets d."""
    c, s = math.cos(tilt), math.sin(tilt)
    lo = np.full_like(d, -np.inf)
    hi = np.full_like(d, np.inf)
    if abs(s) > 1e-9:
        a, b = (-half_w - d * c) / s, (half_w - d * c) / s
        lo, hi = np.maximum(lo, np.minimum(a, b)), np.minimum(hi, np.maximum(a, b))
    else:
        lo = np.where(np.abs(d * c) <= half_w, lo, np.inf)
    if abs(c) > 1e-9:
        a, b = (-half_h + d * s) / c, (half_h + d * s) / c
        lo, hi = np.maximum(lo, np.minimum(a, b)), np.minimum(hi, np.maximum(a, b))
    else:
        lo = np.where(np.abs(d * s) <= half_h, lo, np.inf)
    return np.clip(hi - lo, 0.0, None)


def _rect_chord_mean(d: F64, half_w: F64, half_h: float, tilt: float, pixel: float) -> F64:
    """``_rect_chord`` averaged over a pixel ``pixel`` mm wide centred at each offset d.

    Across the beam the chord of a rotated rectangle is a trapezoid: flat out to |A − B|,
    falling to zero at A + B (A, B: the half sides projected across the beam), enclosing
    the cross-section's area. The mean over a pixel is the difference of its integral at
    the pixel's two sides, divided by the pixel's width.
    """
    a = half_w * abs(math.cos(tilt))
    b = np.full_like(half_w, half_h * abs(math.sin(tilt)))
    u, v = np.abs(a - b), a + b
    ramp = np.maximum(v - u, 1e-12)
    top = 2.0 * half_w * half_h / np.maximum(np.maximum(a, b), 1e-12)

    def integral(x: F64) -> F64:
        """Integral of the trapezoid from −∞ to x."""
        y = np.clip(np.abs(x), None, v)
        inside = np.where(y <= u, top * y, top * u + top * (y - u) * (1 - (y - u) / (2 * ramp)))
        return np.asarray(np.sign(x) * inside + top * (u + v) / 2.0, np.float64)

    return (integral(d + pixel / 2) - integral(d - pixel / 2)) / pixel


def _bounds(parts: list[Part], tilt: float) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) mm of the projected parts."""
    c, s = math.cos(tilt), math.sin(tilt)
    xs: list[float] = []
    ys: list[float] = []
    for p in parts:
        if isinstance(p, Field):
            h, w = p.cm.shape
            xs += [p.x0, p.x0 + w]
            ys += [p.y0, p.y0 + h]
            continue
        xs += [p.x0, p.x1]
        if isinstance(p, Cyl):
            yc = p.y * c - p.z * s
            ys += [yc - p.r, yc + p.r]
        else:
            grid = np.linspace(p.x0, p.x1, 64)
            lo, hi = p.outline(grid)
            for y in (float(lo.min()), float(hi.max())):
                for z in (p.z - p.h / 2, p.z + p.h / 2):
                    ys.append(y * c - z * s)
    return min(xs), max(xs), min(ys), max(ys)


@dataclass(frozen=True, slots=True)
class Layers:
    """Path lengths (cm) per material as a detector sees them, thin sheets held apart.

    ``paths`` fill each pixel whole. A sheet narrower than a few pixels covers only part of
    some pixels: ``edge`` holds its path averaged over the pixel and ``cover`` the share of
    the pixel it covers, so that the covered share sees ``paths + edge / cover`` and the rest
    ``paths`` alone. A detector averages the light over a pixel, not the path: a 1 mm
    tungsten sheet on its edge lets through the light beside it. Where thin sheets overlap in
    a pixel, ``cover`` is the largest of their shares and ``edge`` their summed path: the
    path is kept, the sheets are taken to lie behind one another.
    """

    paths: dict[str, F32]
    cover: F32 | None = None
    edge: dict[str, F32] = field(default_factory=dict)

    def merged(self) -> dict[str, F32]:
        """Path averaged over each pixel, thin sheets included."""
        out = {k: v.copy() for k, v in self.paths.items()}
        for k, v in self.edge.items():
            out[k] = out[k] + v if k in out else v.copy()
        return out


def project_layers(parts: list[Part], tilt_deg: float, pixel_mm: float) -> Layers:
    """Path length (cm) per material through the parts tilted by ``tilt_deg`` about x.

    Rows of the maps run along y, columns along x; ``Field`` parts ignore the tilt (pass
    them only for flat-lying objects).
    """
    tilt = math.radians(tilt_deg)
    c, s = math.cos(tilt), math.sin(tilt)
    bx0, bx1, by0, by1 = _bounds(parts, tilt)
    w = max(1, math.ceil((bx1 - bx0) / pixel_mm) + 2)
    h = max(1, math.ceil((by1 - by0) / pixel_mm) + 2)
    xs = bx0 + (np.arange(w) + 0.5 - 1) * pixel_mm
    ys = by0 + (np.arange(h) + 0.5 - 1) * pixel_mm
    out: dict[str, F32] = {}
    edge: dict[str, F32] = {}
    cover: F32 | None = None
    for p in parts:
        m = out.setdefault(p.material, np.zeros((h, w), np.float32))
        if isinstance(p, Field):
            fh, fw = p.cm.shape
            scale = 1.0 / pixel_mm
            sized = cv2.resize(p.cm, (max(1, round(fw * scale)), max(1, round(fh * scale))))
            r0, c0 = round((p.y0 - by0) / pixel_mm) + 1, round((p.x0 - bx0) / pixel_mm) + 1
            sh, sw = sized.shape
            m[r0 : r0 + sh, c0 : c0 + sw] += sized[: h - r0, : w - c0]
            continue
        cols = (xs >= p.x0) & (xs < p.x1)
        if not cols.any():
            continue
        if isinstance(p, Cyl):
            d = ys - (p.y * c - p.z * s)
            chord = 2.0 * np.sqrt(np.clip(p.r * p.r - d * d, 0.0, None))
            if p.r_in > 0:
                chord -= 2.0 * np.sqrt(np.clip(p.r_in * p.r_in - d * d, 0.0, None))
            m[:, cols] += (chord[:, None] / 10.0).astype(np.float32)
            continue
        lo, hi = p.outline(np.asarray(xs[cols], np.float64))
        yc = np.asarray((lo + hi) / 2.0, np.float64)
        half = np.asarray(np.clip((hi - lo) / 2.0, 0.0, None), np.float64)
        centre = yc * c - p.z * s  # projected centre of each column's cross-section
        # A cross-section narrower than eight pixels (a thin sheet on or near its edge) is
        # averaged over each pixel's width, not sampled at its centre: sampled, a 0.4 mm
        # foil on its edge fell between two pixel centres and was not drawn at all. It is
        # held apart as a share of the pixel covered by the sheet's full chord (the path
        # kept), so that the light, not the path, is averaged. Wider ones, where sampling
        # errs only at the edges, are drawn whole.
        narrow = float(np.max(half, initial=0.0)) * abs(c) + p.h / 2.0 * abs(s) < 4 * pixel_mm
        off: F64 = np.asarray(ys[:, None] - centre[None, :], np.float64)
        halves: F64 = np.asarray(np.broadcast_to(half, off.shape), np.float64)
        if not narrow:
            m[:, cols] += (_rect_chord(off, halves, p.h / 2.0, tilt) / 10.0).astype(np.float32)
            continue
        mean = _rect_chord_mean(off, halves, p.h / 2.0, tilt, pixel_mm)
        a, b = half * abs(c), p.h / 2.0 * abs(s)
        full = (2.0 * half * p.h / 2.0 / np.maximum(np.maximum(a, b), 1e-9))[None, :]
        share = np.clip(mean / np.maximum(full, 1e-9), 0.0, 1.0).astype(np.float32)
        cover = np.zeros((h, w), np.float32) if cover is None else cover
        cover[:, cols] = np.maximum(cover[:, cols], share)
        e = edge.setdefault(p.material, np.zeros((h, w), np.float32))
        e[:, cols] += (mean / 10.0).astype(np.float32)
    return Layers(out, cover, edge)
