"""The image rules: metal regions in two passes turned into DENSE_METAL, BATTERY, BLADE, GUN.

Pass one cuts every metal pixel into regions (mass, batteries, guns); pass two keeps only
thin sheet metal (the ``thin_band`` of the metal-equivalent map), which separates a blade
from a thick tool or a phone it lies across. Shape flags found in both passes are merged
(the stronger one of two overlapping findings is kept); cell regions close to one another
are summed as one pack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from inspection.xray.flags import (
    Flag,
    FlagConfig,
    FlagKind,
    battery_cells,
    blade_likeness,
    gun_likeness,
    score_impenetrable,
)
from inspection.xray.materials import MaterialConfig
from inspection.xray.regions import (
    Blob,
    BlobMap,
    Box,
    Planes,
    RegionConfig,
    measure_blobs,
    metal_mask,
)


@dataclass(frozen=True, slots=True, eq=False)
class Findings:
    """Image flags and the metal regions of pass one."""

    flags: tuple[Flag, ...]
    metal: BlobMap


def _cover(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    smaller = min(a[2] * a[3], b[2] * b[3])
    return ix * iy / smaller if smaller > 0 else 0.0


def _suppress(flags: list[Flag], cover: float = 0.5) -> list[Flag]:
    """Keep the strongest of overlapping flags of the same kind."""
    kept: list[Flag] = []
    for f in sorted(flags, key=lambda f: -f.score):
        if not any(k.kind is f.kind and _cover(k.region, f.region) >= cover for k in kept):
            kept.append(f)
    return kept


def _shape_flags(
    planes: Planes, blobs: BlobMap, materials: MaterialConfig, cfg: FlagConfig
) -> list[Flag]:
    """BLADE and GUN findings of the regions of one pass."""
    out: list[Flag] = []
    for blob in blobs.blobs:
        if blob.impenetrable_share >= 0.9:
            continue
        region = planes.to_image_box(blob.box)
        size = f"{blob.length_mm:.0f} x {blob.width_mm:.0f} mm"
        blade = blade_likeness(blob, cfg)
        if blade >= cfg.blade_likeness.report:
            out.append(
                Flag(
                    FlagKind.BLADE,
                    cfg.blade_likeness.score(blade),
                    region,
                    blade,
                    f"thin elongated steel {size}, {blob.metal_mm:.1f} mm thick",
                )
            )
        gun = gun_likeness(planes, blobs, blob, materials, cfg)
        if gun >= cfg.gun_likeness.report:
            out.append(
                Flag(
                    FlagKind.GUN,
                    cfg.gun_likeness.score(gun),
                    region,
                    gun,
                    f"thick metal barrel with a grip-like arm, {size}",
                )
            )
    return out


def _dense_flags(planes: Planes, blobs: BlobMap, cfg: FlagConfig) -> list[Flag]:
    """DENSE_METAL for every region with a large metal mass."""
    out: list[Flag] = []
    for blob in blobs.blobs:
        if blob.impenetrable_share >= 0.9 or blob.metal_mass_g < cfg.dense_metal_g.report:
            continue
        out.append(
            Flag(
                FlagKind.DENSE_METAL,
                cfg.dense_metal_g.score(blob.metal_mass_g),
                planes.to_image_box(blob.box),
                blob.metal_mass_g,
                f"about {blob.metal_mass_g:.0f} g of metal (steel equivalent), "
                f"{blob.metal_mm:.1f} mm thick",
            )
        )
    return out


def _grow(box: Box, px: int) -> Box:
    """A box grown by ``px`` on every side."""
    return (box[0] - px, box[1] - px, box[2] + 2 * px, box[3] + 2 * px)


def _touch(a: Box, b: Box) -> bool:
    """True when two boxes intersect."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _packs(cells: list[tuple[Blob, float, int]], gap: int) -> list[list[tuple[Blob, float, int]]]:
    """Group cell regions whose boxes, grown by ``gap`` px, touch (transitively)."""
    packs: list[list[tuple[Blob, float, int]]] = []
    for item in cells:
        grown = _grow(item[0].box, gap)
        near = [p for p in packs if any(_touch(grown, _grow(b.box, gap)) for b, _, _ in p)]
        merged = [item]
        for p in near:
            merged.extend(p)
            packs.remove(p)
        packs.append(merged)
    return packs


def _battery_flags(planes: Planes, passes: list[BlobMap], cfg: FlagConfig) -> list[Flag]:
    """BATTERY per pack: cell-like regions near one another, their cells summed.

    Cylindrical cells show in the thin-metal pass even where they overlap a phone or a tool;
    flat pouch cells only in the first pass. A first-pass region that overlaps a thin-pass
    cell region is left out, so nothing is counted twice.
    """
    base, thin = passes
    thin_cells = [
        (b, n, 1)
        for b in thin.blobs
        if (n := battery_cells(b, cfg, cfg.thin_cell_volume_cm3)) is not None
    ]
    base_cells = [
        (b, n, 0)
        for b in base.blobs
        if (n := battery_cells(b, cfg, cfg.cell_volume_cm3)) is not None
        and not any(_cover(b.box, t.box) >= 0.3 for t, _, _ in thin_cells)
    ]
    cells = base_cells + thin_cells
    gap = math.ceil(cfg.cell_cluster_mm / planes.pixel_mm / 2.0)
    out: list[Flag] = []
    for pack in _packs(cells, gap):
        total = sum(n for _, n, _ in pack)
        if total < cfg.battery_cells.report:
            continue
        x0 = min(b.box[0] for b, _, _ in pack)
        y0 = min(b.box[1] for b, _, _ in pack)
        x1 = max(b.box[0] + b.box[2] for b, _, _ in pack)
        y1 = max(b.box[1] + b.box[3] for b, _, _ in pack)
        region = planes.to_image_box((x0, y0, x1 - x0, y1 - y0))
        mm = planes.pixel_mm / planes.scale
        out.append(
            Flag(
                FlagKind.BATTERY,
                cfg.battery_cells.score(total),
                region,
                total,
                f"lithium-cell signature, about {total:.1f} cells' worth "
                f"({region[2] * mm:.0f} x {region[3] * mm:.0f} mm)",
            )
        )
    return out


def image_flags(
    planes: Planes, materials: MaterialConfig, regions: RegionConfig, cfg: FlagConfig
) -> Findings:
    """Every image flag of one image (declaration rules aside)."""
    metal = measure_blobs(planes, materials, regions)
    lo, hi = regions.thin_band
    # The ring of a thin region may hold lighter metal (a phone under a blade), not heavier.
    heavier = metal_mask(planes, materials, lo, math.inf)
    thin = measure_blobs(planes, materials, regions, metal_mask(planes, materials, lo, hi), heavier)
    flags = score_impenetrable(planes, materials, cfg)
    flags += _dense_flags(planes, metal, cfg)
    flags += _battery_flags(planes, [metal, thin], cfg)
    flags += _suppress(
        _shape_flags(planes, metal, materials, cfg) + _shape_flags(planes, thin, materials, cfg)
    )
    return Findings(flags=tuple(flags), metal=metal)
