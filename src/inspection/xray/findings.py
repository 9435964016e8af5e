"""Signature rules applied to the material maps: the regions a fail-safe pre-screen reports."""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from inspection.xray.calibration import Calibration
from inspection.xray.lines import edge_lines
from inspection.xray.liquids import liquids
from inspection.xray.shapes import (
    components,
    rect_mm,
    solidity,
    straight_mm,
    thickness_steps,
    turned_rect_mm,
    width_spread,
)
from inspection.xray.signatures import (
    F32,
    U16,
    Box,
    Maps,
    SigKind,
    Signature,
    SignatureConfig,
    _full,
    _score,
    attenuations,
    material_maps,
)
from inspection.xray.strips import split_strips

Mask = npt.NDArray[np.bool_]
#: A metal region's box, its pixels in the box, its area (pooled pixels), the pixels its
#: steel is read on (all of them, or a strip's less where other strips cross it) and its
#: solidity when already measured (else None).
Piece = tuple[Box, Mask, int, Mask, float | None]

#: Solidity under which a thin metal region may be strips lying across each other: the three
#: crossing zips of tuning seed 3 (``eff-60-100``) read 0.19; a strip alone is a rectangle
#: (near 1), and a region of 0.6 or more is read whole.
STRIPS_BELOW = 0.6


def _areas(
    mask: npt.NDArray[np.bool_], kind: SigKind, rule_cm2: float, cfg: SignatureConfig, what: str
) -> list[Signature]:
    """One signature per region of ``mask`` scored by its area against ``rule_cm2``."""
    out: list[Signature] = []
    for box, _, area in components(mask.astype(np.uint8), cfg.pooled_px(0.5 * rule_cm2)):
        cm2 = area * cfg.pooled_cm2
        out.append(
            Signature(kind, _score(cm2, rule_cm2), _full(box, 2), cm2, f"{cm2:.1f} cm² {what}", cm2)
        )
    return out


def _thick_bar(steel: F32, own: np.ndarray, cfg: SignatureConfig) -> tuple[float, float] | None:
    """(area cm², length mm) of the largest long bar of gun-thick metal in a region, or None."""
    px_mm = 2 * cfg.pixel_mm
    thick = (own & (steel >= cfg.gun_steel_mm)).astype(np.uint8)
    thick = np.asarray(cv2.morphologyEx(thick, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)), np.uint8)
    thick = np.asarray(
        cv2.morphologyEx(thick, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)), np.uint8
    )
    best: tuple[float, float] | None = None
    for _, part, area in components(thick, 4):
        length, width, _ = rect_mm(part, px_mm)
        cm2 = area * (px_mm / 10.0) ** 2
        wide = width >= cfg.gun_width_mm
        if length >= cfg.gun_length_mm and wide and (best is None or cm2 > best[0]):
            best = (cm2, length)
    return best


def _opened(own: npt.NDArray[np.bool_], radius_mm: float, px_mm: float) -> npt.NDArray[np.uint8]:
    """A region opened by a disc of ``radius_mm``: the union of the discs that fit in it."""
    r = max(1, round(radius_mm / px_mm))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    padded = np.pad(own.astype(np.uint8), r)  # a disc may touch the box's edge
    return np.asarray(cv2.morphologyEx(padded, cv2.MORPH_OPEN, disc)[r:-r, r:-r], np.uint8)


def corner_mm2(own: npt.NDArray[np.bool_], radius_mm: float, px_mm: float) -> float:
    """Largest part (mm²) of a region that no disc of ``radius_mm`` lying in it covers.

    An opening by a disc keeps exactly the union of the discs that fit in the region, so a
    region made of coins loses only slivers where two coins meet, while a blade loses its
    point and the square corners of its heel.
    """
    rest = (own & (_opened(own, radius_mm, px_mm) == 0)).astype(np.uint8)
    return max((a for _, _, a in components(rest, 1)), default=0) * px_mm**2


def core_shape(
    own: npt.NDArray[np.bool_], radius_mm: float, px_mm: float
) -> tuple[float, float, float]:
    """(solidity, long side mm, long side mm of the next) of a region's core: its pieces
    once every part narrower than a disc of ``radius_mm`` is taken off (an opening), the
    largest piece first, then the longest of the others (0 when there is none).

    A zip, a frame's rail or a wire crossing a phone's cell comes off and leaves the cell, a
    rectangle, and perhaps the board's shield apart from it; a knife's blade, wider than the
    disc, stays: in the cell's piece, longer than a cell and, where it reaches out, no longer
    convex, or as a long piece of its own.
    """
    parts = sorted(components(_opened(own, radius_mm, px_mm), 1), key=lambda p: -p[2])
    if not parts:
        return 1.0, 0.0, 0.0  # nothing wider than the disc: no core that could hide a blade
    big = parts[0][1]
    others = max((rect_mm(p[1], px_mm)[0] for p in parts[1:]), default=0.0)
    return solidity(big), rect_mm(big, px_mm)[0], others


def _flat(steel: F32, median: float) -> float:
    """Share of a region's pixels within 25 % of its median steel-equivalent."""
    return float(np.mean((steel >= 0.75 * median) & (steel <= 1.25 * median)))


def _lead_gap(maps: Maps, cal: Calibration, box: Box, own: npt.NDArray[np.bool_]) -> float:
    """How far (z) a metal region's median reading lies from lead's on this machine."""
    x, y, w, h = box
    z = float(np.median(maps.z[y : y + h, x : x + w][own]))
    a_high = np.array([np.median(maps.a_high[y : y + h, x : x + w][own])], np.float32)
    return abs(z - float(cal.lead_z_at(a_high)[0]))


def _metal(
    maps: Maps, cal: Calibration, cfg: SignatureConfig, corners: bool, cores: bool
) -> list[Signature]:
    """GUN, THICK_METAL, BATTERY, BLADE, STRIP or METAL for every metal region, or for
    each strip of a region that is only thin strips lying across each other (``_pieces``).

    ``corners``: measure how round each region is (only a declared line of coins reads it);
    ``cores``: how convex each METAL region's core is (only a declared phone reads it).
    """
    mask = ((maps.steel_mm >= cfg.metal_steel_mm) & (maps.a_high > 0.03)).astype(np.uint8)
    mask = np.asarray(cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)), np.uint8)
    out: list[Signature] = []
    for box, own, area in components(mask, cfg.pooled_px(0.5 * cfg.metal_cm2)):
        for part in _pieces(maps, box, own, area, cfg):
            out += _region(maps, cal, cfg, part, corners, cores)
    return out


def _pieces(maps: Maps, box: Box, own: Mask, area: int, cfg: SignatureConfig) -> list[Piece]:
    """A metal region whole, or the thin straight strips it is made of (``strips``).

    Only a ragged region (solidity under ``STRIPS_BELOW``) of thin metal is cut: one with
    thick metal anywhere (a tool, a gun, cells) is read whole. Each strip's steel is read
    where no other strip crosses it, so that a crossing, two layers thick, does not make an
    even zip look stepped like a blade.
    """
    x, y, w, h = box
    thick = np.count_nonzero(maps.steel_mm[y : y + h, x : x + w][own] >= cfg.thick_steel_mm)
    if thick * cfg.pooled_cm2 >= 0.5 * cfg.thick_cm2:
        return [(box, own, area, own, None)]
    solid = solidity(own)
    whole: list[Piece] = [(box, own, area, own, solid)]
    if solid >= STRIPS_BELOW:
        return whole
    strips = split_strips(own, 2 * cfg.pixel_mm, cfg.strip_width_mm, cfg.blade_length_mm)
    if not strips:
        return whole
    out: list[Piece] = []
    for k, strip in enumerate(strips):
        alone = strip & ~np.logical_or.reduce([s for j, s in enumerate(strips) if j != k])
        ys, xs = np.nonzero(strip)
        y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
        sub = (box[0] + x0, box[1] + y0, x1 - x0, y1 - y0)
        out.append((sub, strip[y0:y1, x0:x1], int(strip.sum()), alone[y0:y1, x0:x1], None))
    return out


def _region(
    maps: Maps, cal: Calibration, cfg: SignatureConfig, piece: Piece, corners: bool, cores: bool
) -> list[Signature]:
    """The signatures of one metal region or strip (see ``_metal``)."""
    px_mm, px_cm2 = 2 * cfg.pixel_mm, cfg.pooled_cm2
    out: list[Signature] = []
    box, own, area, alone, solid = piece
    if not alone.any():
        alone = own
    x, y, w, h = box
    steel = maps.steel_mm[y : y + h, x : x + w][alone]
    thick_cm2 = float(np.count_nonzero(steel >= cfg.thick_steel_mm)) * px_cm2
    gun_cm2 = float(np.count_nonzero(steel >= cfg.gun_steel_mm)) * px_cm2
    median = float(np.median(steel))
    length, width, fill, long_deg = turned_rect_mm(alone, px_mm)  # a strip's, where alone
    cm2 = area * px_cm2
    size = f"{length:.0f} x {width:.0f} mm, steel-equivalent {median:.1f} mm"
    full = _full(box, 2)
    solid = solidity(own) if solid is None else solid
    lead_gap = _lead_gap(maps, cal, box, own)
    if gun_cm2 >= 0.5 * cfg.gun_thick_cm2:
        bar = _thick_bar(maps.steel_mm[y : y + h, x : x + w], alone, cfg)
        if bar is not None:
            bar_cm2, bar_mm = bar
            s = _score(bar_cm2, cfg.gun_thick_cm2)
            out.append(
                Signature(
                    SigKind.GUN,
                    s,
                    full,
                    bar_cm2,
                    f"gun-like thick bar {bar_mm:.0f} mm long, {size}",
                    cm2,
                    (length, width),
                )
            )
            if s >= 0.5:
                return out
    # How round the region is, for the kinds a line of coins reads (THICK_METAL, METAL);
    # not measured (not round) unless coins are declared.
    corner, straight = (
        (corner_mm2(own, cfg.round_mm, px_mm), straight_mm(own, px_mm))
        if corners
        else (math.inf, math.inf)
    )
    if thick_cm2 >= 0.5 * cfg.thick_cm2:
        out.append(
            Signature(
                SigKind.THICK_METAL,
                _score(thick_cm2, cfg.thick_cm2),
                full,
                thick_cm2,
                f"{thick_cm2:.1f} cm² of thick metal, {size}",
                thick_cm2,
                (length, width),
                solidity=solid,
                corner_mm2=corner,
                straight_mm=straight,
                lead_gap=lead_gap,
            )
        )
    lo, hi = cfg.cell_long_mm
    cell_like = fill >= cfg.cell_fill and median >= cfg.cell_steel_mm
    if cell_like and width >= cfg.cell_short_mm and lo <= length <= hi:
        out.append(
            Signature(
                SigKind.BATTERY,
                _score(fill, cfg.cell_fill),
                full,
                fill,
                f"compact cell-like metal block, {size}",
                cm2,
                (length, width),
                solidity=solid,
                flatness=_flat(steel, median),
                steel_mm=median,
                lead_gap=lead_gap,
                long_side_deg=long_deg,
            )
        )
        return out

    def elongated(kind: SigKind, what: str, rule_mm: float = cfg.blade_length_mm) -> Signature:
        """A BLADE or STRIP of this region, scored by its length against ``rule_mm``."""
        score = _score(length, rule_mm)
        return Signature(kind, score, full, length, f"{what}, {size}", cm2, (length, width))

    long = length >= 0.5 * cfg.blade_length_mm and length >= cfg.blade_elongation * width
    if long and width <= cfg.blade_width_mm and median <= cfg.blade_steel_mm:
        strip = _strip(steel, own, alone, width, median, cfg)
        out.append(elongated(SigKind.STRIP if strip else SigKind.BLADE, "elongated metal"))
        return out
    if long and width <= cfg.bar_width_mm:
        # Thicker than a blade lying flat, as narrow as one tilted towards its edge: a bar
        # is a blade too, and its metal is still read below (a BLADE alone may not alarm).
        # One as dense as a gun's slide is a blade or a sheet of dense metal (tungsten) on
        # its edge and alarms from half a blade's length (docs/xray-prescreen-changes.md,
        # the twentieth change).
        if median >= cfg.bar_dense_steel_mm:
            what = "narrow bar of dense metal (a blade or a tungsten sheet on its edge)"
            out.append(elongated(SigKind.BLADE, what, 0.5 * cfg.blade_length_mm))
        else:
            what = "narrow bar of thick metal (a blade tilted towards its edge)"
            out.append(elongated(SigKind.BLADE, what))
    core = core_shape(own, cfg.core_mm, px_mm) if cores else (0.0, math.inf, math.inf)
    out.append(
        Signature(
            SigKind.METAL,
            _score(cm2, cfg.metal_cm2),
            full,
            cm2,
            f"{cm2:.1f} cm² of metal, {size}",
            cm2,
            (length, width),
            solidity=solid,
            corner_mm2=corner,
            straight_mm=straight,
            core=core,
            lead_gap=lead_gap,
        )
    )
    return out


def _strip(
    steel: F32, own: Mask, alone: Mask, width: float, median: float, cfg: SignatureConfig
) -> bool:
    """Whether an elongated thin metal region is a strip (a shank, a zip) and not a blade."""
    if width <= cfg.foil_width_mm and median <= cfg.foil_steel_mm:
        return True  # a foil: a zip
    # A plate of even thickness wider than a shank is a blade: a folded umbrella's shaft
    # and ribs are as wide but far from even across.
    plate = width > cfg.strip_plate_mm and _flat(steel, median) >= cfg.plate_flat
    # A narrow strip that steps in thickness along its length is a knife tilted towards
    # its edge (blade past channel), not a shank or a zip.
    stepped = width <= cfg.strip_plate_mm and thickness_steps(steel, alone) < cfg.strip_steps
    return (
        width <= cfg.strip_width_mm
        and median <= cfg.strip_steel_mm
        and width_spread(own) <= cfg.strip_width_cv
        and not plate
        and not stepped
    )


def _solid(mask: np.ndarray) -> np.ndarray:
    """A mask without its one-pixel lines: an opening by 2 x 2 pooled pixels (2.4 mm).

    A line the width of one pooled pixel is the blurred edge of something dense seen
    edge-on (a shank, a can's end), which the line rule reads; it can hide nothing.
    """
    kernel = np.ones((2, 2), np.uint8)
    core = cv2.erode(mask.astype(np.uint8), kernel, anchor=(0, 0))
    return np.asarray(cv2.dilate(core, kernel, anchor=(1, 1)), bool)


def _off_scale(maps: Maps, cfg: SignatureConfig) -> npt.NDArray[np.bool_]:
    """Pixels that read as lead on this machine, or off the organic-to-steel scale.

    Where the calibrated lead curve lies below organic (its K-edge between the energies),
    a pixel past the midpoint from organic towards lead is high-Z; where it lies beyond
    steel, a pixel past the midpoint from steel towards it. A pixel ``high_z_margin`` below
    organic or that far beyond steel + 1 is high-Z whatever the lead curve says.
    """
    z_pb = maps.z_lead
    m = cfg.high_z_margin
    below = np.where(z_pb < 0.0, np.clip(z_pb / 2.0, -m, -m / 4.0), -m)
    above = np.where(z_pb > 2.0, np.clip(z_pb / 2.0 + 1.0, 2.0 + m, 3.0 + m), 3.0 + m)
    return np.asarray((maps.z <= below) | (maps.z >= above))


def find_signatures(
    low: U16,
    high: U16,
    cal: Calibration,
    cfg: SignatureConfig,
    corners: bool = False,
    cores: bool = False,
) -> tuple[list[Signature], Maps]:
    """Every signature of one image (full-resolution counts of both channels); ``corners``
    measures how round metal regions are, which only a declaration of coins asks, and
    ``cores`` how convex their cores are, which only a declared phone asks."""
    a_low, a_high = attenuations(low, high, cal)
    maps = material_maps(a_low, a_high, cal, cfg)
    sigs = _areas(
        _solid(maps.impenetrable),
        SigKind.IMPENETRABLE,
        cfg.impenetrable_cm2,
        cfg,
        "the X-rays do not penetrate",
    )
    usable = maps.readable(cfg.high_z_min_high)
    high_z = cv2.medianBlur((usable & _off_scale(maps, cfg)).astype(np.uint8), 3) > 0
    sigs += _areas(
        high_z,
        SigKind.HIGH_Z,
        cfg.high_z_cm2,
        cfg,
        "off the organic-to-steel curves (lead, tungsten or other heavy element)",
    )
    metal = _metal(maps, cal, cfg, corners, cores)
    cells = [s for s in metal if s.kind is SigKind.BATTERY]
    sigs += edge_lines(a_low, a_high, cal, cfg, cells)
    sigs += metal
    sigs += liquids(maps, cal, cfg)
    sigs.sort(key=lambda s: -s.score)
    return sigs, maps
