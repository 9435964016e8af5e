"""Region labels and measures taken the fast way agree with a second library's.

The pre-screen labels regions with OpenCV's block-based scan and measures a region by its
outer edge pixels rather than all its pixels. Both are checked here against independent
peers on drawn masks: SciPy's labelling, Qhull's convex hull (through SciPy) and OpenCV's
rectangle over every pixel.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from inspection.xray.shapes import label, outline, rect_mm, solidity


def _masks(seed: int, n: int) -> list[np.ndarray]:
    """Masks of up to three tilted bars, some with scattered pixels beside them."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    while len(out) < n:
        h, w = int(rng.integers(2, 90)), int(rng.integers(2, 90))
        yy, xx = np.mgrid[0:h, 0:w]
        mask = np.zeros((h, w), bool)
        for _ in range(int(rng.integers(1, 4))):
            a, cx, cy = rng.random() * np.pi, rng.random() * w, rng.random() * h
            along = (xx - cx) * np.cos(a) + (yy - cy) * np.sin(a)
            across = -(xx - cx) * np.sin(a) + (yy - cy) * np.cos(a)
            mask |= (np.abs(along) < rng.random() * 35) & (np.abs(across) < rng.random() * 4 + 0.3)
        if rng.random() < 0.3:
            mask |= rng.random((h, w)) < 0.05
        if mask.any():
            out.append(mask)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_labels_match_scipy_and_opencv_default(seed: int) -> None:
    """Same regions (area and box) as SciPy's 8-connected labels; same labels as OpenCV's."""
    for mask in _masks(seed, 150):
        m8 = mask.astype(np.uint8)
        n, labels, stats = label(m8)
        _, default, _, _ = cv2.connectedComponentsWithStats(m8, connectivity=8)
        assert np.array_equal(labels, default)
        peer, count = ndimage.label(mask, structure=np.ones((3, 3), int))
        assert n - 1 == count
        ours = sorted((int(s[4]), *(int(v) for v in s[:4])) for s in stats[1:])
        theirs = []
        for k, (ys, xs) in enumerate(ndimage.find_objects(peer), start=1):
            area = int((peer[ys, xs] == k).sum())
            theirs.append((area, xs.start, ys.start, xs.stop - xs.start, ys.stop - ys.start))
        assert ours == sorted(theirs)


def test_label_of_an_empty_mask_is_background_only() -> None:
    """No region in an empty mask."""
    n, labels, stats = label(np.zeros((7, 9), np.uint8))
    assert n == 1 and not labels.any() and stats.shape == (1, 5)


@pytest.mark.parametrize("seed", [4, 5])
def test_rectangle_from_outline_is_the_rectangle_of_every_pixel(seed: int) -> None:
    """The outline gives exactly the minimum-area rectangle all pixels give, ties included."""
    for mask in _masks(seed, 300):
        pts = np.argwhere(mask)[:, ::-1].astype(np.float32)
        (_, _), (rw, rh), _ = cv2.minAreaRect(pts)
        length, width = max(rw, rh) + 1.0, min(rw, rh) + 1.0
        assert rect_mm(mask, 0.5) == (0.5 * length, 0.5 * width, mask.sum() / (length * width))


def test_outline_is_in_argwhere_order_and_holds_the_hull() -> None:
    """Outline pixels are region pixels, row by row, and every hull corner is among them."""
    for mask in _masks(6, 100):
        xy = outline(mask)
        assert mask[xy[:, 1], xy[:, 0]].all()
        order = xy[:, 1] * mask.shape[1] + xy[:, 0]
        assert (np.diff(order) > 0).all()
        corners = cv2.convexHull(np.argwhere(mask)[:, ::-1].astype(np.int32)).reshape(-1, 2)
        assert {tuple(p) for p in corners} <= {tuple(p) for p in xy}


@pytest.mark.parametrize("seed", [7, 8])
def test_solidity_matches_qhull(seed: int) -> None:
    """Area over the pixels inside the hull (area + half perimeter + 1), hull from Qhull."""
    checked = 0
    for mask in _masks(seed, 200):
        pts = np.argwhere(mask)[:, ::-1].astype(float)
        try:
            hull = ConvexHull(pts)
        except QhullError:  # all pixels on one line: Qhull has no 2-D hull to give
            continue
        inside = hull.volume + hull.area / 2.0 + 1.0  # in 2-D: volume is area, area perimeter
        assert solidity(mask) == pytest.approx(min(1.0, mask.sum() / inside), rel=1e-5)
        checked += 1
    assert checked > 100
