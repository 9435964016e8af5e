"""LIQUID signatures: thick organic objects standing out of their surroundings.

A region is scored by its depth (PMMA-equivalent mm over its surroundings). A long region
about as deep as it is wide reads as a container lying down (a bottle); a narrow long one
far deeper than wide as a slab on its edge (a book standing, a sole on its side), which
only books and shoes explain, unless its own material reads as water. A region that
merged several items (a bottle on a pile beside another) is cut into one piece per item.
Each region carries its liquid's apparent density (``density``: two bottles one on the
other read about the sum of theirs), how much wider it is than one round container of that
depth (its spread: two side by side are wider) and, when denser than water, its own
effective Z.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from inspection.xray.calibration import BASES, Calibration
from inspection.xray.shapes import components, label, main_axis, rect_mm
from inspection.xray.signatures import (
    F32,
    Maps,
    SigKind,
    Signature,
    SignatureConfig,
    _full,
    _score,
)

#: How far (mm) past a LIQUID region its depth is summed: a round container's sides, where
#: its depth falls under the region's threshold.
DENSITY_GROW_MM = 8.0

#: Apparent density (``density``) above which a LIQUID region's own material is read: no
#: liquid lighter than water in Z (an alcohol, an oil) is denser than water.
LIGHT_DENSITY = 1.0

#: The densest a drink or food reads (``density``): none is denser than honey (1.36-1.45
#: g/cm³); the simulator's solid sucrose (1.59) reads at most 1.39, in glass.
DENSEST = 1.4

#: Widest region (mm) whose density is read: wider than any container a declaration explains.
DENSITY_WIDEST_MM = 200.0

#: Length (mm) of the stretches along a region's axis whose cross-sections are read.
DENSITY_STEP_MM = 5.0

#: Share of a stretch's peak depth over which its width is read (``density``'s spread): a
#: disc is 0.98 of its diameter wide there.
SPREAD_AT = 0.2

#: The most spread one round container reads (``density``): a disc 0.98, a slab 0.79; single
#: bottles 0.89-0.99 on the simulator's and the second machine; two bottles side by side,
#: moved 10 mm or more across, 1.05 and more (docs/xray-prescreen-changes.md).
MOST_SPREAD = 1.04

#: Effective atomic numbers of the wedge materials (PMMA, aluminium, steel).
Z_WEDGE = (6.56, 13.0, 26.0)


def _power(k: float) -> float:
    """Exponent n of ``R − R_pmma ∝ Z^n − Z_pmma^n`` that puts steel at ``k`` aluminium gaps."""
    zo, za, zf = Z_WEDGE

    def spread(n: float) -> float:
        if abs(n) < 1e-6:
            return math.log(zf / zo) / math.log(za / zo)
        return float((zf**n - zo**n) / (za**n - zo**n))

    lo, hi = -4.0, 6.0
    k = min(max(k, spread(lo)), spread(hi))
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if spread(mid) < k else (lo, mid)
    return 0.5 * (lo + hi)


def effective_z(z: float, k: float) -> float:
    """Effective atomic number of a reading ``z`` (0 PMMA, 1 aluminium, steel at ``k``).

    ``R − R_pmma ∝ Z^n − Z_pmma^n``, with ``n`` set by where the machine's steel curve lies
    (``k`` aluminium gaps above PMMA, read from the calibrated curves at the same
    attenuation).
    """
    zo, za, _ = Z_WEDGE
    n = _power(k)
    if abs(n) < 1e-6:
        return float(zo * (za / zo) ** z)
    inner = zo**n + z * (za**n - zo**n)
    return float(inner ** (1.0 / n)) if inner > 0 else (za if n < 0 else zo)


def slab_material(
    core: np.ndarray, win: tuple[slice, slice], maps: Maps, bg: tuple[F32, F32], cal: Calibration
) -> float:
    """Effective atomic number of an organic slab from its own excess in both channels.

    The excess over the surroundings (the opening ``bg`` of each channel) in the low
    channel over that in the high channel is the slab's own ratio, free of what lies under
    it. PMMA's ratio for the same excess on the same background comes from the organic
    curve; the aluminium and steel curves fix the scale. Paper reads about 6.8-6.9 and
    water 7.2-7.5 on the tuning machines, whatever lies beneath.
    """
    dl = (maps.a_low[win] - bg[0][win])[core]
    dh = (maps.a_high[win] - bg[1][win])[core]
    total = float(dh.sum())
    if total <= 1e-3:
        return math.inf  # no excess to read: never taken for paper
    r = float(dl.sum()) / total
    step = float(np.median(dh))
    base = float(np.median(bg[1][win][core]))
    (ho, ro, _), (ha, ra, _), (hf, rf, _) = (cal.table(b) for b in BASES)
    h0, low_o = np.concatenate(([0.0], ho)), np.concatenate(([0.0], ro * ho))
    r_pmma = float(np.interp(base + step, h0, low_o) - np.interp(base, h0, low_o)) / step
    r_o, r_a, r_f = (float(np.interp(step, h, q)) for h, q in ((ho, ro), (ha, ra), (hf, rf)))
    gap = max(r_a - r_o, 1e-3)
    return effective_z((r - r_pmma) / gap, (r_f - r_o) / gap)


def liquids(maps: Maps, cal: Calibration, cfg: SignatureConfig) -> list[Signature]:
    """LIQUID signatures of one image's maps."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (_span(cfg), _span(cfg)))
    excess = np.asarray(cv2.morphologyEx(maps.organic_mm, cv2.MORPH_TOPHAT, kernel), np.float32)
    mask = (
        (excess >= 0.5 * cfg.liquid_mm)
        & (np.abs(maps.z) <= 0.5)
        & (maps.steel_mm < cfg.metal_steel_mm)
    )
    mask = cv2.medianBlur(mask.astype(np.uint8), 3) > 0
    out: list[Signature] = []
    bg: tuple[F32, F32] | None = None
    min_px = cfg.pooled_px(cfg.liquid_cm2)
    for box, region, _ in components(mask.astype(np.uint8), min_px):
        depth = excess[box[1] : box[1] + box[3], box[0] : box[0] + box[2]]
        pieces = _pieces(region, depth, min_px, cfg)
        for cut in pieces:
            ys, xs = np.nonzero(cut)
            y0, x0 = int(ys.min()), int(xs.min())
            own = cut[y0 : int(ys.max()) + 1, x0 : int(xs.max()) + 1]
            piece = (box[0] + x0, box[1] + y0, own.shape[1], own.shape[0])
            sig, bg = _liquid(piece, own, maps, excess, bg, cal, cfg, len(pieces) == 1)
            out.append(sig)
    return out


def _pieces(region: np.ndarray, depth: F32, min_px: int, cfg: SignatureConfig) -> list[np.ndarray]:
    """The items a region merged: one piece per core at least ``liquid_mm`` deep.

    Piled goods (a bottle on clothes beside a toy) merge into one organic region larger
    than any one item. Where the region holds two or more separate cores that each reach
    the depth rule, it is cut along the valleys of its depth between them (a watershed
    from the cores), so that each item is measured and explained on its own. Every pixel
    stays in some piece (or the region is left whole when a piece would be smaller than
    a region of its own), and each piece keeps the depth of its own core.
    """
    core = (region & (depth >= cfg.liquid_mm)).astype(np.uint8)
    min_core = cfg.pooled_px(cfg.split_core_cm2)
    n, labels, stats = label(core)
    keep = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= min_core]
    if len(keep) < 2:
        return [region]
    markers = np.zeros(region.shape, np.int32)
    for k, i in enumerate(keep, 1):
        markers[labels == i] = k
    markers[~region] = len(keep) + 1
    top = max(float(depth[region].max()), 1e-3)
    grey = (255.0 * (1.0 - np.clip(depth / top, 0.0, 1.0))).astype(np.uint8)
    cv2.watershed(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), markers)
    group = _join_shallow(markers, depth, len(keep), cfg.split_valley_mm)
    pieces = [region & np.isin(markers, ks) for ks in group]
    return pieces if all(int(p.sum()) >= min_px for p in pieces) else [region]


def _join_shallow(markers: np.ndarray, depth: F32, n: int, valley_mm: float) -> list[list[int]]:
    """Groups of watershed basins 1..n whose shared border dips less than ``valley_mm``.

    Two cores of one item (a bottle under a lumpy pile of clothes) are joined again; only
    items whose depth falls by ``valley_mm`` between them stay apart.
    """
    peak = [0.0] + [float(depth[markers == k].max()) for k in range(1, n + 1)]
    border = markers == -1
    kernel = np.ones((3, 3), np.uint8)
    near = [
        border & (cv2.dilate((markers == k).astype(np.uint8), kernel) > 0) for k in range(1, n + 1)
    ]
    saddle: dict[tuple[int, int], float] = {}
    for a in range(1, n + 1):
        for b in range(a + 1, n + 1):
            both = near[a - 1] & near[b - 1]
            if both.any():
                saddle[(a, b)] = float(depth[both].max())
    root = list(range(n + 1))

    def find(k: int) -> int:
        while root[k] != k:
            k = root[k]
        return k

    for (a, b), level in saddle.items():
        if level > min(peak[a], peak[b]) - valley_mm:
            root[find(a)] = find(b)
    groups: dict[int, list[int]] = {}
    for k in range(1, n + 1):
        groups.setdefault(find(k), []).append(k)
    return list(groups.values())


def _liquid(
    box: tuple[int, int, int, int],
    own: np.ndarray,
    maps: Maps,
    excess: F32,
    bg: tuple[F32, F32] | None,
    cal: Calibration,
    cfg: SignatureConfig,
    whole: bool,
) -> tuple[Signature, tuple[F32, F32] | None]:
    """One LIQUID signature of a region (or of one piece of a split region).

    A piece cut from a merged region is never a slab on its edge: only a whole region
    may be explained by a book or a pair of shoes.
    """
    px_cm2 = cfg.pooled_cm2
    x, y, w, h = box
    area = int(own.sum())
    win = (slice(y, y + h), slice(x, x + w))
    mm = float(np.percentile(excess[win][own], 90))
    length, width, _ = rect_mm(own, 2 * cfg.pixel_mm)
    slab = whole and _edge_on(mm, length, width, cfg)
    dense, spread = (0.0, 0.0)
    if width <= DENSITY_WIDEST_MM:
        dense, spread = density(box, own, excess, 2 * cfg.pixel_mm)
    liquid_z = math.inf  # its own material, read for a slab on its edge or a dense liquid
    if slab or LIGHT_DENSITY < dense <= DENSEST:
        bg = bg or _surroundings(maps, cfg)
        liquid_z = slab_material(own & (excess[win] >= 0.5 * mm), win, maps, bg, cal)
    edge_on = slab and liquid_z <= cfg.slab_max_zeff
    what = ""
    if slab:
        what = f", a narrow slab deeper than wide (on its edge), effective Z {liquid_z:.2f}" + (
            "" if edge_on else ": water-like, no book or sole"
        )
    score = _score(mm, cfg.liquid_mm)
    if not edge_on and _round(mm, length, width, cfg):
        score = max(score, _score(mm / width, cfg.round_ratio))
        what = ", as deep as wide (a container lying down)"
    if not whole:
        what += ", cut from a larger region"
    if dense > LIGHT_DENSITY:
        what += f"; {dense:.2f} mm per mm of path" + (
            f", effective Z {liquid_z:.2f}" if math.isfinite(liquid_z) else ""
        )
    if spread > MOST_SPREAD:
        what += f"; {spread:.2f} × as wide as one round container of its depth"
    sig = Signature(
        SigKind.LIQUID,
        score,
        _full(box, 2),
        mm,
        f"{area * px_cm2:.0f} cm² of organic matter standing {mm:.0f} mm "
        f"(PMMA-equivalent) out of its surroundings{what}",
        area * px_cm2,
        (length, width),
        edge_on,
        density=dense,
        liquid_z=liquid_z,
        spread=spread,
    )
    return sig, bg


def density(
    box: tuple[int, int, int, int], own: np.ndarray, excess: F32, px_mm: float
) -> tuple[float, float]:
    """Apparent density and spread of a container lying down, read across its stretches.

    A round container's cross-section is a disc of diameter D: its depth across it peaks at
    c·D and sums to c·πD²/4, so c = π/4 · peak² / sum, whatever D is; and the stretch is
    about D wide where its depth passes a fifth of its peak, so its width over 4·sum/(π·peak)
    (its spread) is 0.98 for one disc, 0.79 for a slab and more for two discs side by side.
    Read per 5 mm stretch along the region's main axis over its middle 70 %, on the region
    grown by 8 mm (its sides); the 75th percentile of the stretches of each. A bottle of
    ethanol reads about 0.70, water 0.87, the simulator's sugar (solid sucrose, 1.59 g/cm³)
    1.33 and up to 1.39 in glass; two bottles one on the other about the sum of theirs.
    (0, 0) when too short to read.
    """
    x, y, w, h = box
    grow = max(round(DENSITY_GROW_MM / px_mm), 1)
    rows, cols = excess.shape
    y0, x0 = max(y - grow, 0), max(x - grow, 0)
    y1, x1 = min(y + h + grow, rows), min(x + w + grow, cols)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    mask[y - y0 : y - y0 + h, x - x0 : x - x0 + w] = own
    centre, u, along = main_axis(own)
    big = cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)) > 0
    ys, xs = np.nonzero(big)
    at = ((xs - (centre[0] + x - x0)) * u[0] + (ys - (centre[1] + y - y0)) * u[1]) * px_mm
    lo, n = float(along.min()) * px_mm, int(float(np.ptp(along)) * px_mm / DENSITY_STEP_MM)
    depth = np.clip(excess[y0:y1, x0:x1][big], 0.0, None)
    step = np.floor((at - lo) / DENSITY_STEP_MM).astype(np.int64)
    keep = (step >= 0) & (step < n)
    step, depth = step[keep], depth[keep]
    if n < 3 or not step.size:  # too short for three stretches
        return 0.0, 0.0
    order = np.lexsort((depth, step))
    every = np.arange(n)
    first = np.searchsorted(step[order], every)
    count = np.searchsorted(step[order], every, side="right") - first
    at95 = np.minimum(first + ((count - 1) * 0.95).astype(np.int64), step.size - 1)
    peak = np.where(count > 0, depth[order][at95], 0.0)
    cell = px_mm * px_mm / DENSITY_STEP_MM
    total = np.bincount(step, weights=depth, minlength=n) * cell
    wide = np.bincount(step, weights=depth >= SPREAD_AT * peak[step], minlength=n) * cell
    read = every[int(0.15 * n) : int(0.85 * n)]
    ok = read[(count[read] >= 5) & (total[read] > 0.0)]
    if ok.size < 3:
        return 0.0, 0.0
    dense = math.pi / 4 * peak[ok] ** 2 / total[ok]
    spread = wide[ok] * math.pi * peak[ok] / (4.0 * total[ok])
    return float(np.percentile(dense, 75)), float(np.percentile(spread, 75))


def _surroundings(maps: Maps, cfg: SignatureConfig) -> tuple[F32, F32]:
    """Each channel's surroundings: its opening by the widest container's window."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (_span(cfg), _span(cfg)))
    return (
        np.asarray(cv2.morphologyEx(maps.a_low, cv2.MORPH_OPEN, kernel), np.float32),
        np.asarray(cv2.morphologyEx(maps.a_high, cv2.MORPH_OPEN, kernel), np.float32),
    )


def _span(cfg: SignatureConfig) -> int:
    """Side (pooled pixels, odd) of the window that sets an organic region's surroundings."""
    return round(cfg.liquid_span_mm / (2 * cfg.pixel_mm)) | 1


def _round(depth_mm: float, length_mm: float, width_mm: float, cfg: SignatureConfig) -> bool:
    """True for a long organic region about as deep as it is wide: a bottle lying down.

    A small bottle (56 mm across) holds less than the depth rule's 50 mm; its round profile
    still shows it. Flat things (a toy, a book lying flat, a pile of clothes) are far
    shallower than wide.
    """
    long_enough = length_mm >= cfg.round_elongation * width_mm
    return (
        width_mm >= cfg.round_width_mm
        and long_enough
        and depth_mm >= 0.5 * cfg.round_ratio * width_mm
    )


def _edge_on(depth_mm: float, length_mm: float, width_mm: float, cfg: SignatureConfig) -> bool:
    """True for an organic region shaped as a slab on its edge, not as a container lying down.

    A round bottle lying down is about as deep as it is wide (PMMA-equivalent depth over
    the region's width: water about 0.95, a dense syrup up to 1.4); a book standing on its
    spine or a shoe sole on its side is two to six times deeper than wide. A bottle standing
    up has a round footprint, so the region must also be long.
    """
    return (
        width_mm <= cfg.slab_width_mm
        and depth_mm >= cfg.slab_depth_ratio * width_mm
        and length_mm >= cfg.slab_elongation * width_mm
    )
