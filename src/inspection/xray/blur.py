"""The machine's line spread, measured at calibration from the step wedges' edges.

A blade seen on its edge is thinner than a pixel: the image shows the machine's blur, so
the line's peak falls and its width grows as the blur widens, while the matter in it does
not change. The line rules (``lines.edge_lines``) were set on machines whose line spread is
at most ``SignatureConfig.line_spread_mm``; on a blurrier machine they scale with the
spread measured here, and a machine blurrier than ``line_spread_max_mm`` is not read.

Every edge of a wedge step is a sharp edge of known position: across the belt the step's
sides, along it the step's front and back (there the detector's afterglow adds a tail).
The transmission profile across each edge, averaged along it, is fitted with a Gaussian
edge (a normal distribution's CDF) by least squares over a grid of centres and widths;
the spread is √(2π)·σ, the effective width (excess over peak) a line thinner than a pixel
shows. The larger of the two directions' medians is kept: a line may lie either way.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
Counts = npt.NDArray[Any]  # a count image, any numeric type
F64 = npt.NDArray[np.float64]

#: Pixels either side of an edge that its fit reads: ±3σ of the widest blur it tries (σ 4 px).
HALF_WINDOW = 12
#: Least drop of transmission from air into a step for its edges to be read.
LEAST_CONTRAST = 0.3
#: Least pixels along an edge that its profile is averaged over.
LEAST_LENGTH = 8
#: Largest RMS residual of an edge's fit (clean step edges: 0.002-0.016 on the five
#: profiles): an edge with another edge or an object in its window is not read.
MAX_RESIDUAL = 0.05

_SIGMAS = np.arange(0.15, 4.0, 0.01)
_CENTRES = np.arange(-1.5, 1.5001, 0.05)
_OFFSETS = np.arange(-HALF_WINDOW, HALF_WINDOW + 1, dtype=np.float64)


@functools.cache
def _models() -> F64:
    """Model edges for every (σ, centre) pair: rows σ-major, columns the window's pixels
    (made on first use, about 0.09 s, which a process that never calibrates skips)."""
    z = (_OFFSETS[None, None, :] - _CENTRES[None, :, None]) / (
        _SIGMAS[:, None, None] * math.sqrt(2.0)
    )
    return np.asarray(0.5 * (1.0 + np.vectorize(math.erf)(z)), np.float64).reshape(
        -1, _OFFSETS.size
    )


def fit_edge(profile: F64) -> tuple[float, float]:
    """(σ px, RMS residual) of the Gaussian edge that fits ``profile`` best: 2·HALF_WINDOW+1
    values rising from 0 (inside the step) to 1 (air), crossing ½ at the middle pixel."""
    sse = ((_models() - profile[None, :]) ** 2).sum(axis=1)
    best = int(np.argmin(sse))
    return float(_SIGMAS[best // _CENTRES.size]), math.sqrt(float(sse[best]) / profile.size)


def edge_sigma(profile: F64) -> float:
    """σ (px) of the Gaussian edge that fits ``profile`` best (``fit_edge``)."""
    return fit_edge(profile)[0]


def _crossings(p: F64, level: float) -> list[tuple[int, int]]:
    """(pixel, direction) where ``p`` crosses ``level``: +1 rising into air, −1 falling."""
    above = p > level
    out = []
    for i in np.flatnonzero(above[1:] != above[:-1]):
        j = int(i) if abs(p[i] - level) <= abs(p[i + 1] - level) else int(i) + 1
        out.append((j, 1 if above[i + 1] else -1))
    return out


def _edges(p: F64, inside: float) -> list[float]:
    """σ of every edge of the profile ``p`` (transmission, air 1) into a step at ``inside``."""
    out = []
    for j, way in _crossings(p, (1.0 + inside) / 2.0):
        if j - HALF_WINDOW < 0 or j + HALF_WINDOW >= p.size:
            continue
        window = p[j - HALF_WINDOW : j + HALF_WINDOW + 1]
        rising = (window - inside) / (1.0 - inside)
        sigma, residual = fit_edge(rising if way > 0 else rising[::-1])
        if residual <= MAX_RESIDUAL:
            out.append(sigma)
    return out


def runs(on: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, end) of every run of True in ``on``."""
    padded = np.concatenate([[False], on, [False]]).astype(np.int8)
    d = np.diff(padded)
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def wedge_sigmas(high: Counts, air_high: F32) -> tuple[list[float], list[float]]:
    """σ (px) of a wedge image's step edges: (across the belt, along it).

    ``high`` is the high-energy count image, ``air_high`` the air level of each column.
    """
    t = np.asarray(high, np.float64) / np.maximum(air_high[None, :].astype(np.float64), 1.0)
    w = t.shape[1]
    middle = t[:, w // 3 : 2 * w // 3]
    rows = np.median(middle, axis=1)
    across: list[float] = []
    along: list[float] = []
    for r0, r1 in runs(rows < 1.0 - LEAST_CONTRAST):
        inside = float(np.median(rows[r0:r1]))
        cut = (r1 - r0) // 4
        across_step = t[r0 + cut : r1 - cut].mean(axis=0)  # the step's middle rows
        if r1 - r0 - 2 * cut >= LEAST_LENGTH:
            across += _edges(across_step, inside)
        lo, hi = max(0, r0 - HALF_WINDOW - 1), min(t.shape[0], r1 + HALF_WINDOW + 1)
        cols = np.flatnonzero(across_step < (1.0 + inside) / 2.0)
        if cols.size >= 3 * LEAST_LENGTH:
            inner = cols[cols.size // 4 : cols.size - cols.size // 4]
            along += _edges(t[lo:hi, inner].mean(axis=1), inside)
    return across, along


def line_spread_px(images: list[tuple[Counts, F32]]) -> float | None:
    """The machine's line spread √(2π)·σ, px, from (high counts, air) of its wedge images.

    None when no step edge could be read.
    """
    across: list[float] = []
    along: list[float] = []
    for high, air in images:
        a, b = wedge_sigmas(high, air)
        across += a
        along += b
    found = [float(np.median(s)) for s in (across, along) if s]
    if not found:
        return None
    return round(math.sqrt(2.0 * math.pi) * max(found), 3)
