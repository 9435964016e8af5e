"""EDGE_BLADE: thin straight dense lines of inorganic matter, read at full resolution.

A blade seen on its edge is a line a few tenths of a millimetre to a few millimetres wide.
A white top-hat of ``A_high`` finds it; the same top-hat of ``A_low`` gives the line's own
dual-energy ratio, free of what lies under it, so the tangential walls of organic things
(a carton's sides, a shoe's upper, a book's spine) are not blades while steel and ceramic
(zirconia) are. A line that touches another one (a blade lying across a tin, whose wall
seen edge-on is a line too) is one branched region on the mask: it is cut into its
straight parts, and each part is read as a line of its own. A line broken in two where it
crosses the edge of something dense is followed across the gap (``inspection.xray.joins``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import numpy.typing as npt

from inspection.xray.calibration import LOW_FLOOR, Calibration
from inspection.xray.caps import caps
from inspection.xray.joins import broken_lines
from inspection.xray.shapes import components, direction_degrees, main_axis, rect_mm
from inspection.xray.signatures import (
    F32,
    Box,
    SigKind,
    Signature,
    SignatureConfig,
    _score,
)
from inspection.xray.strips import segments

Mask = npt.NDArray[np.bool_]

#: A line cut from a branched region is the outline of something dense (and not a blade)
#: when one side is heavier than the other by this share of the line's own contrast...
_OUTLINE_STEP = 0.5
#: ...along this share of its length.
_OUTLINE_SAME = 0.8

#: Widest mean width of a straight part cut from a branched region, as a share of
#: ``ridge_width_mm``: a line is a few pixels wide along its whole length, while a band cut
#: through a broad region is as wide as the band everywhere.
_PART_FILL = 0.6


def _segments(own: Mask, along: npt.NDArray[np.float64], seg_px: float) -> list[Mask]:
    """A line's pixels cut into pieces of ``seg_px`` along its long axis (masks like ``own``;
    ``along``: each pixel's place along it, in ``np.nonzero`` order, from ``main_axis``)."""
    ys, xs = np.nonzero(own)
    piece = np.floor((along - along.min()) / seg_px).astype(np.int32)
    n = int(piece.max()) + 1
    if n > 1 and int((piece == n - 1).sum()) < seg_px / 2:
        piece[piece == n - 1] = n - 2  # a short tail joins the piece before it
    out = []
    for k in np.unique(piece):
        mask = np.zeros_like(own)
        sel = piece == k
        mask[ys[sel], xs[sel]] = True
        out.append(mask)
    return out


def _line_reading(
    ridge_low: F32, ridge_high: F32, a_low: F32, cal: Calibration
) -> tuple[float, bool]:
    """(material z, opaque) of a thin line (piece) from its own excess in both channels.

    A line whose low channel comes anywhere near the noise floor reads as metal: there
    (and, through the blur, beside it) the ratio is only a lower bound. A line whose ratio
    lies halfway or more from organic towards 1 reads as steel too: a sheet of metal seen
    edge-on, thinner than a pixel, stops both energies alike where it lies and lets both
    through beside it, so its ratio falls to 1, which no organic matter reaches (nor does
    noise on a line this strong); lead and tungsten above their K-edges read there as well.
    Either way the line is opaque: deep metal, not a rod or a wire the beam crosses.
    """
    if float(a_low.max(initial=0.0)) >= LOW_FLOOR - 2.5:
        return 2.0, True
    r = float(ridge_low.sum()) / max(float(ridge_high.sum()), 1e-6)
    at = float(np.median(ridge_high))
    z, z_one = cal.z_of(np.array([r, 1.0], np.float32), np.array([at, at], np.float32))
    return (2.0, True) if z <= z_one / 2.0 else (float(z), False)


def _effective_width(ridge: F32, own: Mask, pixel_mm: float) -> float:
    """A line's excess across it over its peak, mm: the median of that along the line.

    A steel sheet seen edge-on, thinner than a pixel, shows the machine's blur and nothing
    wider (1.1-1.3 mm on the tuning machines); organic matter as strong in a line must be a
    slab, wider than the blur (shoe soles on their side 2.4-2.7 mm).
    """
    values = ridge[own]
    _, _, along = main_axis(own)
    step = np.floor(along - along.min()).astype(np.int64)
    mass = np.bincount(step, weights=values)
    peak = np.zeros(mass.shape, np.float64)
    np.maximum.at(peak, step, values)
    seen = peak > 0.0  # a step along the line that holds none of its pixels
    return float(np.median(mass[seen] / peak[seen])) * pixel_mm


def _straight_parts(own: Mask, cfg: SignatureConfig) -> Iterator[tuple[Box, Mask, float, float]]:
    """The straight lines of a branched region: (box within ``own``, mask, length, width mm).

    Candidate lines come from a probabilistic Hough transform, longest first; each takes
    the region's pixels within half ``ridge_width_mm`` of it, and a candidate whose pixels
    mostly belong to a part already taken is the same line seen again. Width is the span of
    the middle 90 % of the pixels across the line, so that the stubs of lines crossing it
    do not widen it.
    """
    length_px = cfg.ridge_length_mm / cfg.pixel_mm
    half = cfg.ridge_width_mm / cfg.pixel_mm / 2.0
    ys, xs = np.nonzero(own)
    taken = np.zeros(xs.shape, bool)
    for x1, y1, x2, y2 in segments(own, length_px, 1.0, 3):
        run = math.hypot(x2 - x1, y2 - y1)
        ux, uy = (x2 - x1) / run, (y2 - y1) / run
        rx, ry = xs - x1, ys - y1
        along, across = rx * ux + ry * uy, ry * ux - rx * uy
        sel = (np.abs(across) <= half) & (along >= -half) & (along <= run + half)
        if not sel.any() or taken[sel].mean() > 0.5:
            continue
        taken |= sel
        x0, y0 = int(xs[sel].min()), int(ys[sel].min())
        w, h = int(xs[sel].max()) - x0 + 1, int(ys[sel].max()) - y0 + 1
        part = np.zeros((h, w), bool)
        part[ys[sel] - y0, xs[sel] - x0] = True
        lo, hi = np.percentile(across[sel], (5, 95))
        length = (float(along[sel].max() - along[sel].min()) + 1.0) * cfg.pixel_mm
        yield (x0, y0, w, h), part, length, (float(hi - lo) + 1.0) * cfg.pixel_mm


def _outline(a_high: F32, box: Box, own: Mask, contrast: float, cfg: SignatureConfig) -> bool:
    """True when a line is the edge of something dense: heavier on one side all along.

    The wall of a can or a case seen edge-on is such a line, with the can on one side and
    air on the other; a blade lying across the can has the same matter on both sides. The
    two sides are read ``ridge_mm`` away from the line, past the top-hat's reach.
    """
    centre, u, along = main_axis(own)
    centre = centre + np.array(box[:2], np.float64)  # in image pixels
    normal = np.array([-u[1], u[0]]) * (cfg.ridge_mm / cfg.pixel_mm)
    q = centre + np.arange(along.min(), along.max(), 2.0)[:, None] * u
    h, w = a_high.shape
    a = np.rint(q + normal).astype(np.int64)
    b = np.rint(q - normal).astype(np.int64)
    inside = (a.min(axis=1) >= 0) & (b.min(axis=1) >= 0) & (a[:, 0] < w) & (b[:, 0] < w)
    inside &= (a[:, 1] < h) & (b[:, 1] < h)
    if int(inside.sum()) < 8:
        return False
    step = a_high[a[inside, 1], a[inside, 0]] - a_high[b[inside, 1], b[inside, 0]]
    median = float(np.median(step))
    same_way = float((np.sign(step) == np.sign(median)).mean())
    return abs(median) >= _OUTLINE_STEP * contrast and same_way >= _OUTLINE_SAME


def _candidates(
    own: Mask, box: Box, size: tuple[float, float], cfg: SignatureConfig
) -> Iterator[tuple[Box, Mask, tuple[float, float], bool]]:
    """A region (``size``: its length and width, mm) if it is one thin line, else its straight
    parts: (box, mask, mm, cut)."""
    length, width = size
    if width <= cfg.ridge_width_mm:
        if length >= cfg.ridge_length_mm:
            yield box, own, (length, width), False
        return
    if math.hypot(length, width) < cfg.ridge_length_mm:
        return  # no straight part of it can be a blade long, even along the diagonal
    x, y = box[0], box[1]
    for (px, py, pw, ph), part, length, width in _straight_parts(own, cfg):
        mean_mm = float(part.sum()) * cfg.pixel_mm**2 / length
        if (
            length >= cfg.ridge_length_mm
            and width <= cfg.ridge_width_mm
            and mean_mm <= _PART_FILL * cfg.ridge_width_mm
        ):
            yield (x + px, y + py, pw, ph), part, (length, width), True


def spread_mm(cal: Calibration, cfg: SignatureConfig) -> float:
    """The line spread of ``cal``'s machine, mm."""
    return cal.line_spread_px * cfg.pixel_mm


def blur_scale(cal: Calibration, cfg: SignatureConfig) -> float:
    """How much blurrier ``cal``'s machine is than the widest the line rules were set on (≥ 1)."""
    return max(1.0, spread_mm(cal, cfg) / cfg.line_spread_mm)


def blur_note(cal: Calibration, cfg: SignatureConfig) -> str:
    """How the line rules read ``cal``'s machine, in words for the one who calibrates it."""
    spread = spread_mm(cal, cfg)
    if spread > cfg.line_spread_max_mm:
        return (
            f"{spread:.2f} mm, blurrier than the pre-screen reads blades through "
            f"({cfg.line_spread_max_mm:g} mm): every image will wait for an inspector"
        )
    if spread > cfg.line_spread_mm:
        return f"{spread:.2f} mm, the line rules scale {blur_scale(cal, cfg):.2f} times"
    return f"{spread:.2f} mm, within the blur the line rules were set on"


def fainter(contrast: float, scale: float) -> float:
    """The contrast (A) a thin line of ``contrast`` shows on a machine ``scale`` times blurrier.

    Blur spreads what a line takes out of the beam, not its attenuation: a line thinner than
    the blur takes out a share 1 − e^−A at its peak, and that share falls as the spread
    grows. For a line thinner than the blur, opaque or not, it is within 8 % of what the line
    shows and never more (a faint line: A / s).
    """
    return -math.log(1.0 - (1.0 - math.exp(-contrast)) / scale)


def for_blur(cfg: SignatureConfig, scale: float) -> SignatureConfig:
    """The line rules on a machine ``scale`` times blurrier than they were set on.

    A line thinner than the blur keeps its matter, not its look: its peak falls and its
    width grows with the blur. The contrasts it must reach become what such a line shows
    there (``fainter``), the widths it may have and the top-hat that finds it grow with the
    spread: a thin line on a blurrier machine meets the rules as it did where they were
    set. Wider things (organic walls, slabs) look alike on both machines and meet the laxer
    limits more often: more lines are flagged, never fewer.
    """
    if scale <= 1.0:
        return cfg
    return cfg.model_copy(
        update={
            "ridge_mm": cfg.ridge_mm * scale,
            "ridge_contrast": fainter(cfg.ridge_contrast, scale),
            "ridge_width_mm": cfg.ridge_width_mm * scale,
            "ridge_sharp_mm": cfg.ridge_sharp_mm * scale,
            "ridge_sharp_contrast": fainter(cfg.ridge_sharp_contrast, scale),
            "short_line_contrast": fainter(cfg.short_line_contrast, scale),
        }
    )


def _cores(
    ridge: F32, own: Mask, box: Box, size: tuple[float, float], cfg: SignatureConfig
) -> Iterator[tuple[Box, Mask, tuple[float, float], bool]]:
    """The thin lines at the top of a region (``size``: its length and width, mm) too wide to
    be a line: (box, mask, mm, cut).

    A blade on its edge between two walls (a folding knife in its handle) is one line where
    the blur is narrower than the gaps and, on a blurrier machine, one band with the blade
    standing out of it. Where it stands at least twice as high as the band, the part of the
    band above half the region's peak is the blade.
    """
    if size[1] <= cfg.ridge_width_mm or math.hypot(*size) < cfg.ridge_length_mm:
        return  # a line already, or too short for one even along its rectangle's diagonal
    x, y, w, h = box
    values = ridge[y : y + h, x : x + w]
    top = own & (values >= 0.5 * float(np.percentile(values[own], 99)))
    min_px = max(3, round(0.5 * cfg.ridge_length_mm / cfg.pixel_mm))
    for (cx, cy, cw, ch), part, _ in components(top.astype(np.uint8), min_px):
        length, width, _ = rect_mm(part, cfg.pixel_mm)
        if length >= cfg.ridge_length_mm and width <= cfg.ridge_width_mm:
            yield (x + cx, y + cy, cw, ch), part, (length, width), False


def edge_lines(
    a_low: F32,
    a_high: F32,
    cal: Calibration,
    cfg: SignatureConfig,
    cells: list[Signature] | None = None,
) -> list[Signature]:
    """EDGE_BLADE signatures: straight lines of inorganic matter at least a blade long, and
    shorter ones as dark as dense metal but the ends of the blocks of cells (BATTERY) in
    ``cells``."""
    scale = blur_scale(cal, cfg)
    least = fainter(0.5 * cfg.ridge_contrast, scale)
    cfg = for_blur(cfg, scale)
    k = max(3, round(cfg.ridge_mm / cfg.pixel_mm) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    ridge = np.asarray(cv2.morphologyEx(a_high, cv2.MORPH_TOPHAT, kernel), np.float32)
    mask = (ridge >= least).astype(np.uint8)
    min_px = max(3, round(0.5 * cfg.ridge_length_mm / cfg.pixel_mm))
    short_px = max(3, round(0.5 * cfg.short_line_mm / cfg.pixel_mm))
    regions = components(mask, min(min_px, short_px))
    made: list[F32] = []

    def ridge_low() -> F32:
        """The same top-hat of ``A_low``, made once, at the first line that needs it."""
        if not made:
            made.append(np.asarray(cv2.morphologyEx(a_low, cv2.MORPH_TOPHAT, kernel), np.float32))
        return made[0]

    out: list[Signature] = []
    sized = [(b, r, area, rect_mm(r, cfg.pixel_mm)[:2]) for b, r, area in regions]
    lines = [(b, r, s) for b, r, area, s in sized if area >= min_px]
    for box, own, (length, width), cut in itertools.chain(
        *((*_candidates(r, b, s, cfg), *_cores(ridge, r, b, s, cfg)) for b, r, s in lines),
        broken_lines(mask > 0, lines, cfg),
    ):
        x, y, w, h = box
        low = ridge_low()
        win = (slice(y, y + h), slice(x, x + w))
        centre, unit, along = main_axis(own)
        # Read piece by piece: a blade running into its handle is steel where it is bare.
        readings = [
            _line_reading(low[win][part], ridge[win][part], a_low[win][part], cal)
            for part in _segments(own, along, cfg.ridge_segment_mm / cfg.pixel_mm)
        ]
        z = max(z for z, _ in readings)
        contrast = float(np.percentile(ridge[win][own], 75))
        blur = ""
        if z < cfg.ridge_min_z:  # organic by its ratio, unless as narrow as the blur
            if contrast < cfg.ridge_sharp_contrast or (
                _effective_width(ridge[win], own, cfg.pixel_mm) > cfg.ridge_sharp_mm
            ):
                continue
            blur = ", as narrow as the blur (steel on its edge)"
        if cut and _outline(a_high, box, own, contrast, cfg):
            continue
        out.append(
            Signature(
                SigKind.EDGE_BLADE,
                _score(contrast, cfg.ridge_contrast),
                box,
                contrast,
                f"thin dense line {length:.0f} x {width:.1f} mm, material z {z:.1f}{blur}",
                size_mm=(length, width),
                axis=line_axis(centre, unit, along, box),
                opaque=any(dark for _, dark in readings),
            )
        )
    short = [(box, own, size) for box, own, area, size in sized if area >= short_px]
    return out + _short_lines(short, ridge, ridge_low, a_low, cal, cfg, cells or [])


def line_axis(
    centre: npt.NDArray[np.float64],
    u: npt.NDArray[np.float64],
    along: npt.NDArray[np.float64],
    box: Box,
) -> tuple[float, float, float, float, float]:
    """(centre x, y in image pixels; direction in degrees 0-180; first, last pixel along) of
    a line in ``box`` from its ``main_axis``."""
    if u[1] < 0 or (u[1] == 0 and u[0] < 0):
        u, along = -u, -along  # one direction per line, whichever way its pixels came
    degrees = direction_degrees(u)
    return (
        float(centre[0]) + box[0],
        float(centre[1]) + box[1],
        degrees,
        float(along.min()),
        float(along.max()),
    )


def _short_lines(
    regions: list[tuple[Box, Mask, tuple[float, float]]],
    ridge: F32,
    ridge_low: Callable[[], F32],
    a_low: F32,
    cal: Calibration,
    cfg: SignatureConfig,
    cells: list[Signature],
) -> list[Signature]:
    """EDGE_BLADE signatures of lines shorter than a blade but as dark as a sheet of dense
    metal on its edge (a tungsten sheet 20-60 mm long, 2 mm or more thick).

    Only a region that is one line by itself is read: a short line crossing another thing's
    outline is not cut out of it. A line within a block of cells that runs along one of the
    block's sides is the cells' ends (their caps, side by side): the block is a BATTERY of
    its own, which only a declared power bank, phone or laptop explains; a line across the
    block is read (docs/xray-prescreen.md, Known limits).
    """
    out: list[Signature] = []
    for box, own, (length, width) in regions:
        if not (cfg.short_line_mm <= length < cfg.ridge_length_mm and width <= cfg.ridge_width_mm):
            continue
        x, y, w, h = box
        if any(caps(box, own, length, block) for block in cells):
            continue
        win = (slice(y, y + h), slice(x, x + w))
        contrast = float(np.percentile(ridge[win][own], 75))
        if contrast < cfg.short_line_contrast:
            continue
        z, _ = _line_reading(ridge_low()[win][own], ridge[win][own], a_low[win][own], cal)
        if z < cfg.ridge_min_z:
            continue
        out.append(
            Signature(
                SigKind.EDGE_BLADE,
                _score(contrast, cfg.short_line_contrast),
                box,
                contrast,
                f"short dark line {length:.0f} x {width:.1f} mm, material z {z:.1f} (a sheet "
                "of dense metal on its edge)",
            )
        )
    return out
