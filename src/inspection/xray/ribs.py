"""A folded umbrella's ribs: a bundle of parallel steel lines that a declared umbrella explains.

A folded umbrella is a steel tube with eight steel ribs laid along it, all as long as the
umbrella less its ends. Seen from any side, the ribs and the tube's walls are thin dense
lines of the same direction, about as long as each other, side by side within the
umbrella's width: each reads as an EDGE_BLADE. A blade on its edge is one line (a closed
folding knife, blade between two liners, three lines under 130 mm), and an opaque one: it
is steel deep along the beam and stops both energies alike, where a rod lets the beam
through (``Signature.opaque``). So the lines of such a bundle, and only they, are explained
by a declared umbrella, one bundle per umbrella, within the umbrella's own region; a line
that is opaque, shorter, turned, outside the band or darker than the others stays
unexplained, and so does a bundle with anything else unexplained over it
(docs/xray-prescreen.md, "Umbrella ribs").
"""

from __future__ import annotations

import math
from dataclasses import replace

from inspection.model import Declaration
from inspection.xray.explain import MARGIN_MM, Finding, family, units, within
from inspection.xray.shapes import shared_area, turn_degrees, union_box
from inspection.xray.signatures import Box, SigKind

#: Shortest line read as a rib, mm: a compact umbrella folds to 230 mm and more, its ribs
#: to 200 mm and more; a closed folding knife is at most 130 mm.
RIB_MIN_MM = 150.0
#: Most a rib's direction departs from the bundle's longest line, degrees.
RIB_TURN_DEG = 3.0
#: Widest band the bundle's lines lie in, mm (a folded umbrella is at most 40 mm thick:
#: ``explain.SIZES``).
RIB_BAND_MM = 40.0
#: Each line is at least this share of the bundle's longest...
RIB_LENGTH_SHARE = 0.75
#: ...and lies along it for at least this share of its own length.
RIB_ALONG_SHARE = 0.8
#: Most lines one umbrella shows: eight ribs and the two walls of its tube.
RIB_MOST = 10
#: Fewest lines of a bundle: one line by itself is a blade.
RIB_LEAST = 2
#: Darkest a line may be, over the bundle's median contrast: ribs are alike, a blade on its
#: edge among them stands out.
RIB_DARKER = 2.0


def _beside(seed: Finding, other: Finding, pixel_mm: float) -> tuple[float, float] | None:
    """(offset across, mm; share of ``other``'s length along ``seed``) or None if turned."""
    sa, oa = seed.signature.axis, other.signature.axis
    if sa is None or oa is None or turn_degrees(sa[2], oa[2]) > RIB_TURN_DEG:
        return None
    ux, uy = math.cos(math.radians(sa[2])), math.sin(math.radians(sa[2]))
    dx, dy = oa[0] - sa[0], oa[1] - sa[1]
    across = (dy * ux - dx * uy) * pixel_mm
    mid = dx * ux + dy * uy
    turn = math.cos(math.radians(oa[2] - sa[2]))
    lo, hi = sorted((mid + oa[3] * turn, mid + oa[4] * turn))
    shared = max(0.0, min(hi, sa[4]) - max(lo, sa[3]))
    return across, shared / max(hi - lo, 1.0)


def bundles(findings: tuple[Finding, ...], pixel_mm: float) -> list[list[int]]:
    """Bundles of unexplained EDGE_BLADE lines that lie as a folded umbrella's ribs do."""
    lines = [
        i
        for i, f in enumerate(findings)
        if f.signature.kind is SigKind.EDGE_BLADE
        and f.signature.axis is not None
        and not f.signature.opaque
        and not f.explained_by
        and f.signature.size_mm[0] >= RIB_MIN_MM
    ]
    lines.sort(key=lambda i: -findings[i].signature.size_mm[0])
    taken: set[int] = set()
    out: list[list[int]] = []
    for seed in lines:
        if seed in taken:
            continue
        longest = findings[seed].signature.size_mm[0]
        near: list[tuple[float, int]] = [(0.0, seed)]
        for j in lines:
            if j == seed or j in taken:
                continue
            if findings[j].signature.size_mm[0] < RIB_LENGTH_SHARE * longest:
                continue
            got = _beside(findings[seed], findings[j], pixel_mm)
            if got is not None and got[1] >= RIB_ALONG_SHARE:
                near.append((got[0], j))
        near.sort(key=lambda t: abs(t[0]))
        members: list[tuple[float, int]] = []
        for off, j in near:
            spread = [o for o, _ in members] + [off]
            if max(spread) - min(spread) <= RIB_BAND_MM:
                members.append((off, j))
        if not RIB_LEAST <= len(members) <= RIB_MOST:
            continue
        contrasts = sorted(findings[j].signature.value for _, j in members)
        median = contrasts[len(contrasts) // 2]
        if contrasts[-1] > RIB_DARKER * median:
            continue  # something darker than ribs lies among them
        group = sorted(j for _, j in members)
        taken.update(group)
        out.append(group)
    return out


def _covered(findings: tuple[Finding, ...], group: list[int], whole: Box, threshold: float) -> bool:
    """True when something unexplained at ``threshold`` or more lies over a bundle (``whole``
    is the box round it).

    A gun on its edge shows its slide as two long parallel lines; what else of it lies
    there (its frame, its magazine) is unexplained, and the lines are then not ribs either.
    """
    return any(
        i not in group
        and not f.explained_by
        and f.signature.score >= threshold
        and 2 * shared_area(whole, f.signature.box) >= f.signature.box[2] * f.signature.box[3]
        for i, f in enumerate(findings)
    )


def explain_ribs(
    findings: tuple[Finding, ...],
    declaration: Declaration | None,
    pixel_mm: float = 0.6,
    threshold: float = 0.5,
) -> tuple[Finding, ...]:
    """Findings with each declared umbrella's rib bundle explained by its goods line.

    A bundle over which lies anything else unexplained at ``threshold`` or more stays
    unexplained.
    """
    if declaration is None:
        return findings
    owners: list[str] = []
    for line in declaration.lines:
        if family(line) == "umbrella":
            owners += [line.name or line.hs_code] * units(line)
    if not owners:
        return findings
    out = list(findings)
    margin = MARGIN_MM / pixel_mm
    for group in bundles(findings, pixel_mm):
        box = union_box([findings[i].signature.box for i in group])
        if _covered(findings, group, box, threshold):
            continue
        owner = next((o for o in owners if _placed(findings, o, box, margin)), None)
        if owner is None:
            continue
        owners.remove(owner)
        for i in group:
            out[i] = replace(out[i], explained_by=owner)
    return tuple(out)


def _placed(findings: tuple[Finding, ...], owner: str, box: Box, margin_px: float) -> bool:
    """True when a bundle in ``box`` can be the ribs of ``owner``'s umbrella.

    Where the umbrella's goods line explained regions of its own (its tube and ribs as a
    strip), the bundle lies within one of them, give or take ``margin_px``: an umbrella is one
    object. Where it explained none, the bundle is all the umbrella shows.
    """
    own = [f.signature.box for f in findings if f.explained_by == owner]
    return not own or any(within(box, o, margin_px) for o in own)
