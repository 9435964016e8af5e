"""Automated pre-screen of one dual-energy image: flags, material shares, risk and auto-clear.

``prescreen`` never releases anything itself: it says whether the image may count as cleared
(``auto_clear``) under a policy that never clears an image with an IMPENETRABLE or a BATTERY
flag, whatever its configuration. ``xray_state`` turns the result into the decision's
``XrayState``: CLEARED, SUSPECT (an alarm) or PENDING (an inspector must look).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import Field

from contracts.config import ConfigModel
from contracts.statuses import XrayState
from inspection.model import Declaration
from inspection.xray.declared import (
    DeclaredGoods,
    ImageContent,
    MismatchConfig,
    declared_goods,
    mismatch_flag,
)
from inspection.xray.detect import image_flags
from inspection.xray.flags import Flag, FlagConfig, FlagKind
from inspection.xray.image import (
    ImageConfig,
    check_attenuation,
    check_counts,
    decode_counts,
)
from inspection.xray.materials import MaterialClass, MaterialConfig, MaterialShares, shares
from inspection.xray.regions import (
    BlobMap,
    Box,
    Planes,
    RegionConfig,
    build_planes,
    planes_from_counts,
)
from inspection.xray.shapes import union_box

logger = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]

#: Flags that block auto-clear at any score; no configuration can remove them.
ALWAYS_BLOCK: frozenset[FlagKind] = frozenset({FlagKind.IMPENETRABLE, FlagKind.BATTERY})


class AutoClearPolicy(ConfigModel):
    """When an image may be cleared without an inspector."""

    enabled: bool = Field(True, description="Allow automatic clearing at all.")
    max_risk: float = Field(
        0.2, ge=0.0, le=1.0, description="Highest risk score (0..1) an auto-cleared image may have."
    )
    min_object_cm2: float = Field(
        20.0,
        ge=0.0,
        description="An image with less imaged matter (cm²) shows no parcel: never cleared.",
    )
    require_declaration: bool = Field(
        False, description="Clear only parcels whose declaration was given to the pre-screen."
    )
    declared_metal_factor: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Weight of DENSE_METAL in the risk when declared goods may be metal.",
    )
    also_block: tuple[FlagKind, ...] = Field(
        (), description="Further flag kinds that block auto-clear at any score."
    )
    max_metal_share: float = Field(
        0.15,
        ge=0.0,
        le=1.0,
        description="Largest share of the imaged parcel that may be metal in an auto-cleared "
        "image: metal the shape analysis does not explain is for an inspector to see.",
    )


class PrescreenConfig(ConfigModel):
    """Every setting of the pre-screen; defaults are tuned on the Clearline simulator."""

    image: ImageConfig = Field(ImageConfig(), description="Counts, pixel size and size limits.")
    materials: MaterialConfig = Field(MaterialConfig(), description="Material map thresholds.")
    regions: RegionConfig = Field(RegionConfig(), description="Metal region extraction.")
    flags: FlagConfig = Field(FlagConfig(), description="Image flag levels and shape cues.")
    mismatch: MismatchConfig = Field(MismatchConfig(), description="Declaration mismatch rules.")
    policy: AutoClearPolicy = Field(AutoClearPolicy(), description="Auto-clear policy.")


@dataclass(frozen=True, slots=True)
class PrescreenResult:
    """What the pre-screen found in one image (regions in high-energy image pixels)."""

    flags: tuple[Flag, ...]
    shares: MaterialShares
    metal_mass_g: float  # steel-equivalent mass of all measured metal regions
    risk: float  # 0..1
    auto_clear: bool
    blockers: tuple[str, ...]  # why the image was not cleared automatically (empty when it was)
    width: int  # of one channel, pixels
    height: int

    @property
    def alarms(self) -> tuple[Flag, ...]:
        """Flags whose score reached their alarm level."""
        return tuple(f for f in self.flags if f.alarm)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "flags": [f.as_dict() for f in self.flags],
            "shares": self.shares.as_dict(),
            "metal_mass_g": round(self.metal_mass_g, 1),
            "risk": round(self.risk, 3),
            "auto_clear": self.auto_clear,
            "blockers": list(self.blockers),
            "width": self.width,
            "height": self.height,
            "state": xray_state(self).value,
        }


def xray_state(result: PrescreenResult) -> XrayState:
    """CLEARED when auto-cleared, SUSPECT when any flag is an alarm, otherwise PENDING."""
    if result.auto_clear:
        return XrayState.CLEARED
    if result.alarms:
        return XrayState.SUSPECT
    return XrayState.PENDING


def _planes(image: bytes | tuple[F32, F32], cfg: PrescreenConfig) -> Planes:
    """Analysis planes from PNG bytes (counts) or from (low, high) attenuation planes."""
    if isinstance(image, bytes | bytearray | memoryview):
        low_c, high_c = decode_counts(bytes(image), cfg.image)
        check_counts(low_c, high_c)
        return planes_from_counts(low_c, high_c, cfg.image, cfg.materials, cfg.regions)
    low, high = image
    check_attenuation(low, high)
    return build_planes(low, high, cfg.image.pixel_mm, cfg.materials, cfg.regions)


def _object_box(planes: Planes) -> Box:
    """Bounding box (image pixels) of everything that is not background."""
    obj = planes.classes != MaterialClass.BACKGROUND
    rows, cols = np.flatnonzero(obj.any(axis=1)), np.flatnonzero(obj.any(axis=0))
    if rows.size == 0:
        return (0, 0, 0, 0)
    box = (int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))
    return planes.to_image_box(box)


def _union(boxes: list[Box]) -> Box | None:
    """Smallest box holding every box, or None for none."""
    return union_box(boxes) if boxes else None


def _content(
    planes: Planes, blobs: BlobMap, flags: list[Flag], cfg: PrescreenConfig
) -> ImageContent:
    """Summarise the image for the declaration rules."""
    metal = [b for b in blobs.blobs if b.impenetrable_share < 0.9]
    cells = [f for f in flags if f.kind is FlagKind.BATTERY]
    imp = planes.high >= cfg.materials.impenetrable_min_high
    dense = (planes.high >= cfg.mismatch.documents_max_high) & ~imp
    return ImageContent(
        metal_mass_g=sum(b.metal_mass_g for b in metal),
        metal_box=_union([planes.to_image_box(b.box) for b in metal]),
        cells=sum(f.value for f in cells),
        cells_box=_union([f.region for f in cells]),
        dense_cm2=float(np.count_nonzero(dense)) * planes.pixel_cm2,
        impenetrable_cm2=float(np.count_nonzero(imp)) * planes.pixel_cm2,
        object_box=_object_box(planes),
    )


def _risk(flags: list[Flag], goods: DeclaredGoods | None, policy: AutoClearPolicy) -> float:
    """Noisy-or of the flag scores; DENSE_METAL weighs less when declared goods may be metal."""
    keep = 1.0
    for f in flags:
        s = f.score
        if f.kind is FlagKind.DENSE_METAL and goods is not None and goods.metal_expected:
            s *= policy.declared_metal_factor
        keep *= 1.0 - s
    return 1.0 - keep


def _blockers(
    flags: list[Flag],
    risk: float,
    area_cm2: float,
    declaration: Declaration | None,
    policy: AutoClearPolicy,
    metal_share: float = 0.0,
) -> tuple[str, ...]:
    """Every reason the policy gives for not clearing the image automatically."""
    out: list[str] = []
    if not policy.enabled:
        out.append("automatic clearing is switched off")
    blocking = ALWAYS_BLOCK | set(policy.also_block)
    for kind in sorted({f.kind for f in flags if f.kind in blocking}):
        out.append(f"{kind.value} is never cleared automatically")
    for f in flags:
        if f.alarm:
            out.append(f"{f.kind.value} alarm (score {f.score:.2f})")
    if risk > policy.max_risk:
        out.append(f"risk {risk:.2f} above {policy.max_risk:.2f}")
    if metal_share > policy.max_metal_share:
        out.append(f"metal covers {metal_share:.0%} of the parcel")
    if area_cm2 < policy.min_object_cm2:
        out.append(f"only {area_cm2:.0f} cm² imaged: no parcel seen")
    if policy.require_declaration and declaration is None:
        out.append("no declaration to compare with")
    return tuple(out)


def prescreen(
    image: bytes | tuple[F32, F32],
    declaration: Declaration | None = None,
    config: PrescreenConfig | None = None,
) -> PrescreenResult:
    """Pre-screen one image: the stacked 16-bit PNG, or (low, high) attenuation planes.

    Attenuation planes are ``−ln(I/I0)`` (dimensionless) as ``image.decode_attenuation``
    returns them. Raise ``XrayImageError`` for an image that cannot be read.
    """
    cfg = config or PrescreenConfig()
    planes = _planes(image, cfg)
    found = image_flags(planes, cfg.materials, cfg.regions, cfg.flags)
    blobs = found.metal
    flags = list(found.flags)
    goods = declared_goods(declaration) if declaration is not None else None
    if goods is not None:
        mismatch = mismatch_flag(goods, _content(planes, blobs, flags, cfg), cfg.mismatch)
        if mismatch is not None:
            flags.append(mismatch)
    flags.sort(key=lambda f: -f.score)
    share = shares(planes.classes, planes.pixel_mm)
    risk = _risk(flags, goods, cfg.policy)
    blockers = _blockers(flags, risk, share.object_area_cm2, declaration, cfg.policy, share.metal)
    result = PrescreenResult(
        flags=tuple(flags),
        shares=share,
        metal_mass_g=sum(b.metal_mass_g for b in blobs.blobs if b.impenetrable_share < 0.9),
        risk=risk,
        auto_clear=not blockers,
        blockers=blockers,
        width=planes.full_shape[1],
        height=planes.full_shape[0],
    )
    logger.debug(
        "prescreen: %s flags, risk %.2f, auto_clear %s",
        len(flags),
        risk,
        result.auto_clear,
    )
    return result
