"""Helpers of the X-ray pre-screen tests: a small simulated machine and scan builders."""

from __future__ import annotations

import functools
from decimal import Decimal

from clearline.bench.xray_phys import machine_calibration
from devices.xray_image import encode_png
from inspection.model import Declaration, DocKind, GoodsLine
from inspection.xray.calibration import Calibration
from simulators.xray import ContentItem, GeneratorConfig, ItemKind, ParcelContents, XrayGenerator
from simulators.xray.generator import XrayScan
from simulators.xray.physics import MachineProfile, load_profiles

#: A 640 x 480 machine at the default 0.6 mm pitch: the same physics, a smaller belt.
SMALL = GeneratorConfig(width_px=640, height_px=480, variants=2)


@functools.cache
def small_machine(name: str) -> tuple[MachineProfile, Calibration]:
    """Profile ``name`` on a 640 x 480 belt, calibrated from its own wedges (once per name)."""
    prof = load_profiles()[name].model_copy(update={"width_px": 640, "height_px": 480})
    return prof, machine_calibration(prof)


def scan_of(gen: XrayGenerator, *items: ContentItem, seed: int = 1) -> XrayScan:
    """Render a carton holding ``items``."""
    return gen.render(ParcelContents(items=items, carton_mm=(260, 360)), seed)


def png_of(scan: XrayScan) -> bytes:
    """The wire PNG of a scan."""
    return encode_png(scan.image, 0)


def item(kind: ItemKind, cells: int | None = None, count: int = 1) -> ContentItem:
    """Shorthand for one content item."""
    return ContentItem(kind=kind, cells=cells, count=count)


def declared(*lines: tuple[str, str], category: str = "sale_of_goods") -> Declaration:
    """A postal declaration with (HS code, name) lines."""
    return Declaration(
        kind=DocKind.POSTAL,
        message_type="CN23",
        business_key="RR123456785CN",
        category=category,
        lines=tuple(
            GoodsLine(gnum=i + 1, hs_code=hs, name=name, qty=Decimal(1))
            for i, (hs, name) in enumerate(lines)
        ),
    )


def box_of(scan: XrayScan, cls: str) -> tuple[int, int, int, int]:
    """True (x, y, w, h) of the first placed object of a class."""
    for o in scan.objects:
        if o.cls == cls:
            return (o.bbox[0], o.bbox[1], o.bbox[2] - o.bbox[0], o.bbox[3] - o.bbox[1])
    raise AssertionError(f"no {cls} in the scan")
