"""Crossing strips: a metal region that is only straight strips lying across each other.

Zips in a pile of garments, a shoe's shank under a zip and an umbrella's shaft over
either touch or cross in the image and make one metal region, far larger and more ragged
than any one of them, which no goods line explains. Where such a region is wholly made of
straight strips (each no wider than a strip can be, each a strip's length), it is cut
into them, and each strip is then read by every metal rule as if it lay alone: a blade
among them is a blade. Where anything is left over (a blade's broad end, a tool's jaw,
a cell), the region is not cut and is read whole, as before.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from inspection.xray.shapes import principal_axis

Mask = npt.NDArray[np.bool_]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Segment = tuple[int, int, int, int]  # x1, y1, x2, y2 (pixels)

#: Largest share of a region's pixels that may be left out of every strip for it to count
#: as strips only (anti-aliased corners where two strips cross).
LEFT_OVER = 0.03
#: Least share of a strip's band that its own pixels fill: a line drawn through a broad
#: region takes a band that is far from full of one strip.
FILL = 0.6
#: Least share of a strip's length with none of the region just beside it on either side.
BORDERED = 0.6
#: Least ratio of a strip's width at its narrower end to that at its wider end.
EVEN = 0.75


def _band(
    xs: F64, ys: F64, centre: F64, unit: F64, half: float
) -> tuple[npt.NDArray[np.bool_], float]:
    """Pixels of a region within ``half`` of a line, in one run along it, and its length (px).

    The run is the one through the line's centre: a strip ends where the region leaves its
    line, and pixels further along the same line belong to something else.
    """
    rx, ry = xs - centre[0], ys - centre[1]
    along, across = rx * unit[0] + ry * unit[1], ry * unit[0] - rx * unit[1]
    near = np.abs(across) <= half
    if not near.any():
        return near, 0.0
    steps = np.unique(np.floor(along[near]).astype(np.int64))
    gaps = np.nonzero(np.diff(steps) > 2)[0]
    starts = np.concatenate(([steps[0]], steps[gaps + 1]))
    ends = np.concatenate((steps[gaps], [steps[-1]]))
    k = int(np.argmin(np.where((starts <= 0) & (ends >= 0), 0, np.abs(starts + ends))))
    sel = near & (along >= starts[k]) & (along <= ends[k] + 1)
    return sel, float(ends[k] - starts[k]) + 1.0


def segments(mask: Mask, length_px: float, step_deg: float, gap_px: int) -> list[Segment]:
    """Straight segments of a mask at least 0.8 ``length_px`` long, longest first.

    A probabilistic Hough transform (one pixel, ``step_deg``), bridging gaps of ``gap_px``.
    """
    found = cv2.HoughLinesP(
        mask.astype(np.uint8),
        1.0,
        math.radians(step_deg),
        threshold=max(3, round(length_px / 2.0)),
        minLineLength=round(0.8 * length_px),
        maxLineGap=gap_px,
    )
    if found is None:
        return []
    return sorted(
        ((int(a), int(b), int(c), int(d)) for a, b, c, d in found.reshape(-1, 4)),
        key=lambda s: -math.hypot(s[2] - s[0], s[3] - s[1]),
    )


def _on_axis(
    shape: tuple[int, ...], xs: F64, ys: F64, centre: F64, unit: F64, shift: F64
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """(rows, cols, inside the grid) of the points one pixel apart along an axis, as far as
    the pixels ``xs``, ``ys`` reach along it, moved across it by ``shift``."""
    along = (xs - centre[0]) * unit[0] + (ys - centre[1]) * unit[1]
    t = np.arange(float(along.min()), float(along.max()) + 1.0)
    cols = np.rint(centre[0] + t * unit[0] + shift[0]).astype(np.int64)
    rows = np.rint(centre[1] + t * unit[1] + shift[1]).astype(np.int64)
    inside = (cols >= 0) & (cols < shape[1]) & (rows >= 0) & (rows < shape[0])
    return rows, cols, inside


def _half_width(dist: F32, xs: F64, ys: F64, centre: F64, unit: F64) -> float:
    """Half a strip's width (px): its inscribed radius along its axis (middle value), plus
    half a pixel, so that the band around the axis takes the strip's edge pixels too."""
    rows, cols, inside = _on_axis(dist.shape, xs, ys, centre, unit, np.zeros(2))
    return float(np.median(dist[rows[inside], cols[inside]])) + 0.5


def _bordered(own: Mask, xs: F64, ys: F64, centre: F64, unit: F64, half: float) -> bool:
    """True when a band has none of the region on either side along most of its length.

    A strip lies alone but where others cross it; a band cut lengthwise out of a broader
    piece (a knife's blade, a plate) has the rest of that piece beside it all along.
    """
    normal = np.array([-unit[1], unit[0]]) * (half + 1.5)
    clear: npt.NDArray[np.bool_] | None = None
    for side in (normal, -normal):
        rows, cols, inside = _on_axis(own.shape, xs, ys, centre, unit, side)
        hit = np.zeros(rows.shape, bool)
        hit[inside] = own[rows[inside], cols[inside]]
        clear = ~hit if clear is None else clear & ~hit
    return clear is not None and float(clear.mean()) >= BORDERED


def _even(xs: F64, ys: F64, sel: npt.NDArray[np.bool_], unit: F64) -> bool:
    """True when a band is as wide at one end as at the other: a strip, not a blade.

    The band's pixels are counted per pixel step along it; the middle counts of its first
    and last quarters must be within ``EVEN`` of each other (a blade narrows to its point).
    """
    along = xs[sel] * unit[0] + ys[sel] * unit[1]
    counts = np.bincount(np.floor(along - along.min()).astype(np.int64))
    q = max(1, len(counts) // 4)
    first, last = float(np.median(counts[:q])), float(np.median(counts[-q:]))
    return min(first, last) >= EVEN * max(first, last)


def _same_line(centre: F64, unit: F64, half: float, c: F64, u: F64, h: float) -> bool:
    """True when a line lies along a strip already taken, within its band and parallel."""
    if abs(float(unit @ u)) < math.cos(math.radians(5.0)):
        return False
    return abs(float((centre - c) @ np.array([-u[1], u[0]]))) <= h + half


def split_strips(own: Mask, px_mm: float, widest_mm: float, shortest_mm: float) -> list[Mask]:
    """The straight strips ``own`` is made of (masks like ``own``), or [] when it is not.

    A strip is a band about a straight line, as wide as the region is there, at most
    ``widest_mm`` wide, at least ``shortest_mm`` long and full of the region's pixels;
    pixels where two strips cross belong to both. Two strips at least are needed.
    """
    region = own.astype(np.uint8)
    dist = np.asarray(cv2.distanceTransform(region, cv2.DIST_L2, 3), np.float32)
    shortest = shortest_mm / px_mm
    iy, ix = np.nonzero(own)
    xs, ys = ix.astype(np.float64), iy.astype(np.float64)
    taken = np.zeros(xs.shape, bool)  # per pixel of the region
    taken_at = np.zeros(own.shape, bool)  # the same, on the region's grid
    parts: list[npt.NDArray[np.bool_]] = []
    axes: list[tuple[F64, F64, float]] = []
    for x1, y1, x2, y2 in segments(own, shortest, 0.5, 6):
        n = max(2, round(math.hypot(x2 - x1, y2 - y1)))
        px = np.rint(np.linspace(x1, x2, n)).astype(np.int64)
        py = np.rint(np.linspace(y1, y2, n)).astype(np.int64)
        if float(taken_at[py, px].mean()) > 0.5:
            continue  # a line along a strip already taken
        # Half the strip's width: the middle of its inscribed radii along the segment
        # (larger where another strip crosses), then the band is refitted to its pixels.
        half = float(np.percentile(dist[py, px], 75)) + 0.5
        if 2.0 * half * px_mm > widest_mm:
            continue
        centre = np.array([(x1 + x2) / 2.0, (y1 + y2) / 2.0])
        unit = np.array([x2 - x1, y2 - y1], np.float64) / max(n - 1, 1)
        unit /= np.linalg.norm(unit)
        sel, length = _band(xs, ys, centre, unit, half)
        sel &= ~taken  # fit the axis to pixels no strip took: one met at a sharp angle pulls it
        if sel.sum() < 8:
            continue
        centre, unit = principal_axis(np.stack([xs[sel], ys[sel]], axis=1))
        half = _half_width(dist, xs[sel], ys[sel], centre, unit)
        if 2.0 * half * px_mm > widest_mm:
            continue
        if any(_same_line(centre, unit, half, *axis) for axis in axes):
            continue  # the edge of a strip already taken
        sel, length = _band(xs, ys, centre, unit, half)
        if length < shortest or taken[sel].mean() > 0.5:
            continue
        if float(sel.sum()) < FILL * length * 2.0 * half or not _even(xs, ys, sel, unit):
            continue
        if not _bordered(own, xs[sel], ys[sel], centre, unit, half):
            continue  # a band cut out of something broader: a blade, a plate
        taken |= sel
        taken_at[iy[sel], ix[sel]] = True
        parts.append(sel)
        axes.append((centre, unit, half))
    if len(parts) < 2:
        return []
    bands = []
    for sel in parts:
        mask = np.zeros(own.shape, np.uint8)
        mask[iy[sel], ix[sel]] = 1
        bands.append(mask)
    missed = own & ~np.logical_or.reduce([b > 0 for b in bands])
    # A pixel on a strip's edge that its band just missed belongs to it.
    kernel = np.ones((3, 3), np.uint8)
    out = [(b > 0) | (missed & (cv2.dilate(b, kernel) > 0)) for b in bands]
    left = own & ~np.logical_or.reduce(out)
    return out if float(left.sum()) <= LEFT_OVER * float(own.sum()) else []
