"""Synthetic dual-energy X-ray parcel scans and the X-ray machine simulator."""

from simulators.xray.contents import ContentItem, ItemKind, ParcelContents, random_contents
from simulators.xray.generator import GeneratorConfig, TruthObject, XrayGenerator, XrayScan

__all__ = [
    "ContentItem",
    "GeneratorConfig",
    "ItemKind",
    "ParcelContents",
    "TruthObject",
    "XrayGenerator",
    "XrayScan",
    "random_contents",
]
