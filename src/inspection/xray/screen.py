"""The fail-safe pre-screen: calibrated signatures, explained only by the declaration.

Rules, none of which configuration or a declaration can switch off:

* without a calibration for the machine the image is not read at all: PENDING (the
  parcel waits for an inspector, reason XRAY_PENDING); nor on a machine whose calibrated
  blur spreads a line wider than ``line_spread_max_mm``; on a machine blurrier than the
  line rules were set on, they scale with its blur (``lines.for_blur``);
* IMPENETRABLE, HIGH_Z, EDGE_BLADE, BLADE, GUN are never explained by any declaration,
  but for the lines of a declared folded umbrella's ribs (``ribs``: long, parallel, alike,
  none opaque, within the umbrella, nothing unexplained over them);
* BATTERY is explained only by goods that hold cells (phones, computers, batteries) —
  never by toys; THICK_METAL, METAL, STRIP and LIQUID by the goods that contain them,
  each goods line only as many regions of a kind, and as large, as such an item shows
  (``explain.BUDGETS``);
* a declaration can only add suspicion (weapons, knives or explosives declared);
* where a machine's calibrated lead curve lies within ``lead_min_z`` of organic, lead
  and organic matter read alike: an image with such matter there is not cleared (PENDING);
  where the curve lies between organic matter and steel, an image with a sheet of at
  least ``lead_sheet_cm2`` reading as lead is not cleared either (PENDING);
* an image is CLEARED only when a declaration was given, every signature at or above
  the policy threshold is explained, and no goods line's explained metal adds up to
  enough to hide something under it (``hide_cm2``: a laptop's chassis and cells);
  otherwise SUSPECT when a signature is left unexplained, PENDING when there is nothing
  to go on or something may be hidden.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from contracts.statuses import XrayState
from inspection.model import Declaration
from inspection.xray.calibration import Calibration
from inspection.xray.explain import Finding, explain, family, measures
from inspection.xray.findings import find_signatures
from inspection.xray.image import ImageConfig, XrayImageError, decode_counts
from inspection.xray.lead import lead_blind, lead_sheet
from inspection.xray.lines import spread_mm
from inspection.xray.ribs import explain_ribs
from inspection.xray.signatures import SigKind, SignatureConfig

logger = logging.getLogger(__name__)

_RESTRICTED = ("93", "8211", "8208", "3601", "3602", "3603", "3604")
_RESTRICTED_WORDS = (
    "knife",
    "刀具",
    "gun",
    "手枪",
    "ammunition",
    "子弹",
    "弹药",
    "firework",
    "烟花",
)

NEVER_EXPLAINED = frozenset(
    {SigKind.IMPENETRABLE, SigKind.HIGH_Z, SigKind.EDGE_BLADE, SigKind.BLADE, SigKind.GUN}
)

#: Explained kinds whose large regions can hide another object without changing shape.
_HIDING = frozenset({SigKind.METAL, SigKind.THICK_METAL, SigKind.BATTERY})

#: Goods families whose item always covers enough of the image to hide a blade or a bottle
#: (a laptop: a 300 x 220 mm aluminium shell over cells, board and heat pipe).
HIDING_FAMILIES = frozenset({"computer"})


class ScreenConfig(BaseModel):
    """Settings of the fail-safe pre-screen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signatures: SignatureConfig = Field(SignatureConfig(), description="Signature rules.")
    threshold: float = Field(
        0.5, ge=0.25, le=1.0, description="Score from which an unexplained signature blocks."
    )
    image: ImageConfig = Field(ImageConfig(), description="PNG size limits.")
    hide_cm2: float = Field(
        150.0,
        gt=0.0,
        description="Most metal (cm², regions of one goods line added up) a declared item may "
        "cover for the parcel to clear: more (a laptop's chassis and cells) can hide a ceramic "
        "blade, a bottle or a tool without changing any region's outline.",
    )


def at_pitch(config: ScreenConfig, pixel_mm: float) -> ScreenConfig:
    """``config`` measuring at ``pixel_mm`` mm per pixel at the belt (every rule is in mm).

    The pitch is held twice, by the signature rules and by the image settings; both move.
    """
    signatures = config.signatures.model_copy(update={"pixel_mm": pixel_mm})
    image = config.image.model_copy(update={"pixel_mm": pixel_mm})
    return config.model_copy(update={"signatures": signatures, "image": image})


@dataclass(frozen=True, slots=True)
class ScreenResult:
    """Outcome of one image: state, findings, reasons, size of one channel."""

    state: XrayState
    findings: tuple[Finding, ...]
    reasons: tuple[str, ...]
    width: int
    height: int
    lead_blind: bool = False  # PENDING only because the machine reads lead like organic

    @property
    def top_unexplained(self) -> float:
        """Highest score of an unexplained finding (0 when none)."""
        return max((f.signature.score for f in self.findings if not f.explained_by), default=0.0)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "state": self.state.value,
            "reasons": list(self.reasons),
            "regions": [f.as_dict() for f in self.findings],
            "width": self.width,
            "height": self.height,
        }


def _restricted(declaration: Declaration) -> list[str]:
    """Goods lines that add suspicion by what they declare."""
    out = []
    for line in declaration.lines:
        hs = "".join(c for c in line.hs_code if c.isdigit())
        name = line.name.lower()
        if any(hs.startswith(p) for p in _RESTRICTED) or any(w in name for w in _RESTRICTED_WORDS):
            out.append(f"declared goods need an inspector: {line.name or line.hs_code}")
    return out


def screen(
    png: bytes,
    calibration: Calibration | None,
    declaration: Declaration | None = None,
    config: ScreenConfig | None = None,
) -> ScreenResult:
    """Pre-screen one stacked 16-bit PNG on a calibrated machine.

    Raise ``XrayImageError`` for an image that cannot be read; return PENDING when the
    machine has no calibration, blurs more than the pre-screen reads lines through, or the
    image does not fit it.
    """
    cfg = config or ScreenConfig()
    low, high = decode_counts(png, cfg.image)
    h, w = low.shape
    if calibration is None:
        return ScreenResult(
            XrayState.PENDING,
            (),
            ("no calibration for this machine: an inspector must look",),
            w,
            h,
        )
    if calibration.width_px != w:
        return ScreenResult(
            XrayState.PENDING,
            (),
            (
                f"image is {w} px wide, the calibration of "
                f"{calibration.machine} {calibration.width_px} px",
            ),
            w,
            h,
        )
    spread = spread_mm(calibration, cfg.signatures)
    if spread > cfg.signatures.line_spread_max_mm:
        return ScreenResult(
            XrayState.PENDING,
            (),
            (
                f"machine {calibration.machine} blurs a line over {spread:.2f} mm, more than "
                f"the pre-screen reads blades through ({cfg.signatures.line_spread_max_mm:g} "
                "mm): an inspector must look",
            ),
            w,
            h,
        )
    corners, cores = measures(declaration)
    sigs, maps = find_signatures(low, high, calibration, cfg.signatures, corners, cores)
    findings = explain(sigs, declaration, cfg.signatures.pixel_mm)
    findings = explain_ribs(findings, declaration, cfg.signatures.pixel_mm, cfg.threshold)
    reasons = [] if declaration is None else _restricted(declaration)
    for f in findings:
        s = f.signature
        if s.score >= cfg.threshold and not f.explained_by:
            never = " (never cleared by image)" if s.kind in NEVER_EXPLAINED else ""
            reasons.append(f"{s.kind.value} unexplained{never}: {s.detail}")
    covered: dict[str, float] = {}
    for f in findings:
        if f.explained_by and f.signature.kind in _HIDING:
            covered[f.explained_by] = covered.get(f.explained_by, 0.0) + f.signature.area_cm2
    hiding = sorted((cm2, name) for name, cm2 in covered.items() if cm2 > cfg.hide_cm2)
    if declaration is not None:
        hiding += [
            (cfg.hide_cm2, line.name or line.hs_code)
            for line in declaration.lines
            if family(line) in HIDING_FAMILIES
        ]
    blind: tuple[float, tuple[float, float]] | None = None
    sheet: float | None = None
    lead: Finding | None = None
    if reasons:
        state = XrayState.SUSPECT
    elif declaration is None:
        state = XrayState.PENDING
        reasons.append("no declaration to explain the image")
    elif hiding:
        state = XrayState.PENDING
        cm2, name = max(hiding)
        reasons.append(
            f"{name} covers {cm2:.0f} cm² or more with metal: what lies under it cannot be "
            "read, an inspector must look"
        )
    elif (blind := lead_blind(maps, calibration, cfg.signatures)) is not None:
        state = XrayState.PENDING
        cm2, (lo, hi) = blind
        reasons.append(
            f"machine {calibration.machine} reads lead like organic matter (A_high "
            f"{lo:.2f}–{hi:.2f}) and {cm2:.0f} cm² of the image reads so: lead cannot be "
            "ruled out, an inspector must look"
        )
    elif (sheet := lead_sheet(maps, cfg.signatures)) is not None:
        state = XrayState.PENDING
        reasons.append(
            f"{sheet:.0f} cm² of the image reads as lead does on machine {calibration.machine} "
            f"(within {cfg.signatures.lead_like_z:g} z of its lead curve, which lies between "
            "organic matter and steel): lead cannot be ruled out, an inspector must look"
        )
    elif (lead := _lead_like(findings, cfg.signatures.lead_like_z)) is not None:
        state = XrayState.PENDING
        reasons.append(
            f"{lead.signature.kind.value} region explained by {lead.explained_by} reads as lead "
            f"does on machine {calibration.machine} (within {cfg.signatures.lead_like_z:g} z of "
            "its lead curve): lead cannot be ruled out, an inspector must look"
        )
    else:
        state = XrayState.CLEARED
    logger.debug("screen: %s, %s findings", state.value, len(findings))
    # each is set only on its PENDING branch (or before it, to None)
    lead_only = blind is not None or sheet is not None or lead is not None
    return ScreenResult(state, findings, tuple(reasons), w, h, lead_blind=lead_only)


def _lead_like(findings: tuple[Finding, ...], max_gap: float) -> Finding | None:
    """An explained metal region that reads as lead does on this machine, if any.

    Where a machine reads lead between organic matter and steel (a two-layer detector or a
    switched tube straddling lead's K-edge), a lead sheet reads as a metal item would: a
    phone's cell, a tin. A declaration explains such a region's shape, not its material.
    """
    near = [
        f
        for f in findings
        if f.explained_by and f.signature.kind in _HIDING and f.signature.lead_gap <= max_gap
    ]
    return min(near, key=lambda f: f.signature.lead_gap, default=None)


__all__ = ["Finding", "ScreenConfig", "ScreenResult", "XrayImageError", "explain", "screen"]
