"""Shapes of regions on a mask: labelled parts, minimum-area rectangle, main axis, solidity,
the longest straight stretch of an outline.

A region is measured by its outer edge pixels where only its convex hull matters, and by
all its pixels where their spread does (its main axis, its width along that axis).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int]


def label(mask: npt.NDArray[np.uint8]) -> tuple[int, npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """8-connected regions of a mask: (count with background, labels, stats per label).

    The block-based (BBDT) scan labels alike to OpenCV's default and, on one thread, about
    three times faster on the sparse masks of a parcel image.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask, 8, cv2.CV_32S, cv2.CCL_BBDT
    )
    return int(n), np.asarray(labels, np.int32), np.asarray(stats, np.int32)


def shared_area(a: Box, b: Box) -> int:
    """Pixels two boxes (x, y, w, h) have in common."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy


def union_box(boxes: list[Box]) -> Box:
    """Smallest box (x, y, w, h) holding every one of ``boxes`` (at least one)."""
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    return (x0, y0, x1 - x0, y1 - y0)


def components(mask: U8, min_px: int) -> list[tuple[Box, npt.NDArray[np.bool_], int]]:
    """Connected regions of at least ``min_px`` pixels: (box, own mask in box, area)."""
    n, labels, stats = label(mask)
    out = []
    for i in range(1, n):
        area = int(stats[i, cv2.CC_STAT_AREA])
        if area < min_px:
            continue
        x, y, w, h = (int(v) for v in stats[i, :4])
        out.append(((x, y, w, h), labels[y : y + h, x : x + w] == i, area))
    return out


def rect_mm(own: npt.NDArray[np.bool_], px_mm: float) -> tuple[float, float, float]:
    """(length mm, width mm, fill) of a region's minimum-area rectangle."""
    return turned_rect_mm(own, px_mm)[:3]


def turned_rect_mm(own: npt.NDArray[np.bool_], px_mm: float) -> tuple[float, float, float, float]:
    """``rect_mm`` and the direction (degrees 0-180, image axes) of the rectangle's long side."""
    (_, _), (rw, rh), angle = cv2.minAreaRect(outline(own).astype(np.float32))
    length, width = max(rw, rh) + 1.0, min(rw, rh) + 1.0
    fill = float(np.count_nonzero(own)) / (length * width)
    return length * px_mm, width * px_mm, fill, (float(angle) + (90.0 if rw < rh else 0.0)) % 180.0


def direction_degrees(u: npt.NDArray[np.float64]) -> float:
    """Direction (degrees 0-180, image axes) of a unit vector, either way along it."""
    return math.degrees(math.atan2(float(u[1]), float(u[0]))) % 180.0


def turn_degrees(a: float, b: float) -> float:
    """Angle between two directions (degrees, 0-180), degrees: at most 90."""
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d)


def outline(own: npt.NDArray[np.bool_]) -> npt.NDArray[np.int32]:
    """The outer edge pixels of a region's parts (x y), in ``np.argwhere`` order.

    They share the region's convex hull, so its minimum-area rectangle; in the same order
    as all its pixels, ties between equal rectangles fall the same way.
    """
    contours, _ = cv2.findContours(own.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return np.zeros((0, 2), np.int32)
    xy = np.concatenate(contours).reshape(-1, 2)
    edge = np.zeros(own.shape, np.uint8)
    edge[xy[:, 1], xy[:, 0]] = 1
    return np.asarray(cv2.findNonZero(edge), np.int32).reshape(-1, 2)  # row by row, as argwhere


def main_axis(own: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.float64], ...]:
    """(centre x y, unit vector along, each pixel's place along it) of a region's long axis.

    Pixels are taken in ``np.nonzero`` order; the axis is the principal one of their spread.
    """
    ys, xs = np.nonzero(own)
    pts = np.stack([xs, ys], axis=1).astype(np.float64)
    centre, unit = principal_axis(pts)
    return centre, unit, (pts - centre) @ unit


def principal_axis(pts: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], ...]:
    """(centre, unit vector along) of the principal axis of points (n x 2, x y).

    The covariance is ``np.cov``'s (centred twice, over n - 1) without its argument checks,
    which cost more than the sums on the few hundred points of a line.
    """
    n = len(pts)
    if n < 2:
        return pts.mean(axis=0), np.array([1.0, 0.0])  # one point has no direction of its own
    centre = pts.sum(axis=0) / n
    d = pts - centre
    d -= d.sum(axis=0) / n
    _, vecs = np.linalg.eigh(d.T @ d * (1.0 / (n - 1)))
    return centre, vecs[:, 1]


def _stretches(
    own: npt.NDArray[np.bool_], end: float, bin_px: int
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64], int] | None:
    """A region's pixels cut into stretches of ``bin_px`` along its main axis, ends aside.

    Return (pixels kept, in ``own`` order; the stretch of each kept pixel; whole stretches),
    or None for a region too small to cut. ``end`` is the percentage left out at each end.
    """
    if int(own.sum()) < 8:
        return None
    _, _, along = main_axis(own)
    lo, hi = np.percentile(along, (end, 100.0 - end))
    keep = (along >= lo) & (along <= hi)
    return keep, ((along[keep] - lo) // bin_px).astype(np.int64), int((hi - lo) // bin_px)


def width_spread(own: npt.NDArray[np.bool_], bin_px: int = 8) -> float:
    """Spread (std/mean) of a region's width along its main axis, ends (10 %) left out.

    The width of each stretch is its pixel count over its length. An even strip or rod
    keeps its width; a blade narrows to its point and steps to its tang, at any tilt.
    """
    cut = _stretches(own, 10.0, bin_px)
    if cut is None or cut[2] < 2:
        return 1.0
    _, bins, full = cut
    width = np.bincount(bins, minlength=full + 1)[:full] / bin_px
    return float(width.std() / max(width.mean(), 1e-6))


def thickness_steps(values: F32, own: npt.NDArray[np.bool_], bin_px: int = 8) -> float:
    """Thinnest over thickest stretch of a region along its main axis (medians, 5 % ends aside).

    ``values`` holds the region's steel-equivalent at its own pixels (``own`` order). A
    shank, a zip or a rod is as thick at one end as at the other (about 1); a utility knife's
    blade runs past its steel channel, and its channel past the blade, in steps.
    """
    cut = _stretches(own, 5.0, bin_px)
    if cut is None:
        return 1.0
    keep, bins, _ = cut
    kept = values[keep]
    medians = [float(np.median(kept[bins == k])) for k in np.unique(bins) if (bins == k).sum() >= 3]
    if len(medians) < 2:
        return 1.0
    return min(medians) / max(*medians, 1e-6)


def solidity(own: npt.NDArray[np.bool_]) -> float:
    """A region's area over the area of its convex hull (1.0 for a convex region)."""
    pts = outline(own)
    if np.count_nonzero(own) < 3:
        return 1.0
    hull = cv2.convexHull(pts)
    # Pixels inside a polygon through pixel centres: its area, half its perimeter, and one.
    inside = float(cv2.contourArea(hull)) + float(cv2.arcLength(hull, True)) / 2.0 + 1.0
    return min(1.0, float(np.count_nonzero(own)) / inside)


def straight_mm(own: npt.NDArray[np.bool_], px_mm: float, tol_px: float = 1.5) -> float:
    """Longest straight stretch (mm) of a region's outer outline.

    The outline is simplified (Douglas-Peucker) to segments that stay within ``tol_px`` of
    it, and the longest segment is returned. An arc of radius r stays within t of a chord
    2·sqrt(2·r·t) long, so a coin's edge, alone or where coins overlap, gives short
    segments; the sides of a blade, a bar or a plate are straight along their length.
    """
    contours, _ = cv2.findContours(own.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    best = 0.0
    for contour in contours:
        if len(contour) < 3:
            continue
        poly = cv2.approxPolyDP(contour, tol_px, True).reshape(-1, 2).astype(np.float64)
        seg = np.diff(np.vstack([poly, poly[:1]]), axis=0)
        best = max(best, float(np.hypot(seg[:, 0], seg[:, 1]).max()))
    return best * px_mm
