"""A thin line broken where it crosses the edge of something dense, read whole again.

A blade on its edge that lies half on a block of cells and half beside it is two lines on
the top-hat's mask: the opening that makes the top-hat reaches over the block's edge and
takes the line's contrast away there, and the part on the block joins the cells' own
lines (their cans' walls) into one branched region. A 140 mm blade split 70 and 70 mm is
two lines each shorter than a blade, and neither is read as one. Each line shorter than a
blade is followed along its own axis, over the whole mask, as far as the mask holds a line
there; the run that comes out a blade long is read as a line cut from a branched region.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from inspection.xray.shapes import main_axis
from inspection.xray.signatures import Box, SignatureConfig

Mask = npt.NDArray[np.bool_]

#: Widest gap (mm) along a run that still joins its two sides: the reach of the top-hat's
#: opening, over which an edge takes a line's contrast away (scaled with the blur with it).
GAP_OF_RIDGE = 3.0

#: Widest mean width of a run, as a share of ``ridge_width_mm``: a line followed into a
#: broad dark region fills the corridor there and is that region, not a line.
RUN_FILL = 0.6

#: Largest share of a run's pixels that may belong to lines read on their own.
TAKEN = 0.25


def broken_lines(
    mask: Mask,
    regions: list[tuple[Box, Mask, tuple[float, float]]],
    cfg: SignatureConfig,
) -> Iterator[tuple[Box, Mask, tuple[float, float], bool]]:
    """Runs of ``mask`` a blade long along lines shorter than a blade: (box, own, mm, cut).

    ``regions``: the mask's regions (box, own, length and width mm). The thin ones from
    ``short_line_mm`` to a blade long are followed, longest first; those a blade long are
    read on their own, and a run that is mostly their pixels (over ``TAKEN``) is one of
    them again, while a line crossing a run takes a few pixels of it.
    """
    pieces = []
    taken = np.zeros(mask.shape, bool)
    for (x, y, w, h), own, (length, width) in regions:
        if width <= cfg.ridge_width_mm:
            if length >= cfg.ridge_length_mm:
                taken[y : y + h, x : x + w] |= own
            elif length >= cfg.short_line_mm:
                pieces.append(((x, y, w, h), own, length))
    length_px = cfg.ridge_length_mm / cfg.pixel_mm
    half = cfg.ridge_width_mm / cfg.pixel_mm / 2.0
    gap = GAP_OF_RIDGE * cfg.ridge_mm / cfg.pixel_mm
    seen = np.zeros(mask.shape, bool)
    for (x, y, w, h), own, _ in sorted(pieces, key=lambda p: -p[2]):
        if seen[y : y + h, x : x + w][own].mean() > 0.5:
            continue
        centre, u, along = main_axis(own)
        reach = length_px + gap
        x0, y0 = max(0, int(x - reach)), max(0, int(y - reach))
        x1 = min(mask.shape[1], int(x + w + reach) + 1)
        y1 = min(mask.shape[0], int(y + h + reach) + 1)
        ys, xs = np.nonzero(mask[y0:y1, x0:x1])
        rx, ry = xs + x0 - (centre[0] + x), ys + y0 - (centre[1] + y)
        on, across = rx * u[0] + ry * u[1], ry * u[0] - rx * u[1]
        near = np.abs(across) <= half
        run = _run(on[near], float(along.min()), float(along.max()), gap)
        if run is None:
            continue
        lo, hi = run
        sel = np.flatnonzero(near)[(on[near] >= lo) & (on[near] <= hi)]
        px, py = xs[sel] + x0, ys[sel] + y0
        if taken[py, px].mean() > TAKEN:
            continue
        seen[py, px] = True
        run_mm = (hi - lo + 1.0) * cfg.pixel_mm
        if run_mm < cfg.ridge_length_mm or sel.size * cfg.pixel_mm**2 / run_mm > (
            RUN_FILL * cfg.ridge_width_mm
        ):
            continue
        a, b = np.percentile(across[sel], (5, 95))
        bx, by = int(px.min()), int(py.min())
        out = np.zeros((int(py.max()) - by + 1, int(px.max()) - bx + 1), bool)
        out[py - by, px - bx] = True
        size = (run_mm, (float(b - a) + 1.0) * cfg.pixel_mm)
        yield (bx, by, out.shape[1], out.shape[0]), out, size, True


def _run(
    on: npt.NDArray[np.float64], lo: float, hi: float, gap: float
) -> tuple[float, float] | None:
    """The stretch of places ``on`` a line that holds ``lo``..``hi`` with no gap over ``gap``."""
    if on.size == 0:
        return None
    places = np.unique(np.floor(on))
    breaks = np.flatnonzero(np.diff(places) > gap)
    starts = np.concatenate(([places[0]], places[breaks + 1]))
    ends = np.concatenate((places[breaks], [places[-1]]))
    k = int(np.searchsorted(ends, lo))  # the first stretch that ends at or past the piece
    if k >= starts.size or starts[k] > hi:
        return None
    j = k
    while j + 1 < starts.size and starts[j + 1] <= hi:
        j += 1  # the piece itself had a gap wider than ``gap``: one stretch over it
    return float(starts[k]), float(ends[j])
