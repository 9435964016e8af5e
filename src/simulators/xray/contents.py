"""What a scenario says is inside a parcel: a versioned contents model and a random sampler."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from contracts.config import ConfigModel


class ItemKind(StrEnum):
    """Kinds of things the generator can put in a carton."""

    TEXTILES = "textiles"
    PAPER = "paper"
    PLASTICS = "plastics"
    LIQUID = "liquid"
    SHOES = "shoes"
    ELECTRONICS = "electronics"
    METAL_TOOL = "metal_tool"
    BLADE = "blade"
    GUN = "gun"
    DENSE_BLOCK = "dense_block"


#: Kinds that are a threat whatever their pose (electronics are a threat with > 4 cells).
THREAT_KINDS = frozenset({ItemKind.BLADE, ItemKind.GUN, ItemKind.DENSE_BLOCK})

#: Most lithium cells a device may hold and still travel by post (UPU / ICAO rule).
MAX_INSTALLED_CELLS = 4

BENIGN_KINDS = tuple(k for k in ItemKind if k not in THREAT_KINDS)


class ContentItem(ConfigModel):
    """``count`` items of one kind; ``cells`` is the lithium-cell count of electronics."""

    kind: ItemKind = Field(description="What the item is.")
    count: int = Field(1, ge=1, le=20, description="How many of it.")
    cells: int | None = Field(
        None, ge=1, le=8, description="Lithium cells in each electronic item (default 1)."
    )

    @model_validator(mode="after")
    def _cells_only_for_electronics(self) -> ContentItem:
        """Refuse a cell count on anything but electronics."""
        if self.cells is not None and self.kind is not ItemKind.ELECTRONICS:
            raise ValueError(f"cells is only meaningful for electronics, not {self.kind.value}")
        return self


class ParcelContents(ConfigModel):
    """The contents of one parcel as a scenario describes it (payload version 1)."""

    version: Literal[1] = Field(1, description="Model version.")
    items: tuple[ContentItem, ...] = Field((), max_length=40, description="What is inside.")
    carton_mm: tuple[float, float] | None = Field(
        None,
        description="Carton footprint (along the belt, across the belt) in mm; random if unset.",
    )

    @model_validator(mode="after")
    def _carton_positive(self) -> ParcelContents:
        """Refuse a carton with a non-positive side."""
        if self.carton_mm is not None and min(self.carton_mm) <= 0:
            raise ValueError(f"carton_mm sides must be positive, got {self.carton_mm}")
        return self

    @property
    def has_threat(self) -> bool:
        """True if any item is a threat by kind or by its cell count."""
        return any(
            i.kind in THREAT_KINDS or (i.cells or 0) > MAX_INSTALLED_CELLS for i in self.items
        )


def random_contents(rng: np.random.Generator, threat_rate: float = 0.1) -> ParcelContents:
    """Sample an ordinary parcel: 1..5 benign items, plus one threat with ``threat_rate``."""
    if not 0.0 <= threat_rate <= 1.0:
        raise ValueError(f"threat_rate must be within 0..1, got {threat_rate}")
    n = int(rng.integers(1, 6))
    picks = rng.choice(len(BENIGN_KINDS), size=n)
    items: list[ContentItem] = []
    for idx in picks:
        kind = BENIGN_KINDS[int(idx)]
        cells = int(rng.integers(1, 3)) if kind is ItemKind.ELECTRONICS else None
        items.append(ContentItem(kind=kind, cells=cells))
    if rng.random() < threat_rate:
        threat = sorted(THREAT_KINDS)[int(rng.integers(0, len(THREAT_KINDS)))]
        items.append(ContentItem(kind=threat))
    return ParcelContents(items=tuple(items))
