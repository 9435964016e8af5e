"""Where a machine reads lead as it reads other matter: the image cannot rule lead out.

Lead's K-edge (88 keV) lies between or near a machine's two energies, so its calibrated
lead curve (``Calibration.lead_z``) may lie below organic matter (high-Z, a finding), near
organic matter (the machine is blind to lead there) or between organic matter and steel
(a lead sheet reads as organic matter with some metal in it). In the last two cases the
image alone cannot clear the parcel; these measure how much of it reads so.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from inspection.xray.calibration import Calibration
from inspection.xray.shapes import components
from inspection.xray.signatures import Maps, SignatureConfig


def _areas_cm2(
    like: npt.NDArray[np.bool_], blur: int, min_cm2: float, cfg: SignatureConfig
) -> list[float]:
    """Areas (cm²) of the regions of ``like`` of at least ``min_cm2``, after a ``blur``
    median (so that scattered pixels reading so do not join into a region)."""
    mask = np.asarray(cv2.medianBlur(like.astype(np.uint8), blur), np.uint8)
    return [area * cfg.pooled_cm2 for _, _, area in components(mask, cfg.pooled_px(min_cm2))]


def lead_blind(
    maps: Maps, cal: Calibration, cfg: SignatureConfig
) -> tuple[float, tuple[float, float]] | None:
    """Area (cm²) that reads as lead does where this machine reads lead like organic matter.

    Within the ``A_high`` span where the calibrated lead curve lies within ``lead_min_z`` of
    organic (widened by half a step, a factor √2, each way), every pixel within
    ``lead_min_z`` of the lead curve could be lead or organic matter alike. Regions of at
    least ``high_z_cm2`` count. Return (that area, the span), or None when there is none:
    always on a machine that tells lead from organic everywhere.
    """
    span = cal.lead_blind(cfg.lead_min_z)
    if span is None:
        return None
    lo, hi = span[0] / math.sqrt(2.0), span[1] * math.sqrt(2.0)
    band = (maps.a_high >= lo) & (maps.a_high <= hi) & ~maps.impenetrable & ~maps.saturated
    like = band & (np.abs(maps.z - maps.z_lead) < cfg.lead_min_z)
    cm2 = sum(_areas_cm2(like, 3, cfg.high_z_cm2, cfg))
    return (cm2, span) if cm2 > 0.0 else None


def lead_sheet(maps: Maps, cfg: SignatureConfig) -> float | None:
    """Area (cm²) of the largest sheet that reads as lead where lead reads as a mixture.

    Where the calibrated lead curve lies between organic matter (at least ``lead_min_z``
    from it; nearer, ``lead_blind`` holds) and steel, a lead sheet reads as organic matter
    with a little metal in it, which no rule flags: a 0.2-0.8 mm foil standing 35 mm
    (PMMA-equivalent) out of its surroundings. Every readable pixel within ``lead_like_z``
    of the lead curve at its own ``A_high`` counts (a 5 x 5 median first). Return the
    largest region's area when it reaches ``lead_sheet_cm2``, else None.
    """
    z_pb = maps.z_lead
    between = (z_pb >= cfg.lead_min_z) & (z_pb <= 2.0)
    near = np.abs(maps.z - z_pb) < cfg.lead_like_z
    areas = _areas_cm2(
        maps.readable(cfg.high_z_min_high) & between & near, 5, cfg.lead_sheet_cm2, cfg
    )
    return max(areas, default=None)
