"""Threat objects built as they are: knives, guns, ammunition, shielding, dense metals, cells.

Poses are drawn freely: a knife lies flat, tilted or on its edge; a gun at any tilt about
its barrel. ``THREATS`` maps each evaluation threat class to its builder.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simulators.xray.catalogue import Thing, bottle, pliers, power_bank
from simulators.xray.solids import Cyl, Part, Plate, disc, rect, taper

R = np.random.Generator


def _pose(rng: R, edge_share: float) -> float:
    """A tilt: on its edge (90°) with ``edge_share``, else anything from flat to on edge.

    Until 2026-12-06 the other tilts stopped at 70°, and a knife tilted 70-89° was never
    drawn: it read as a bar of thick metal, which a declared tool or tin explained.
    """
    return 90.0 if rng.random() < edge_share else float(rng.uniform(0, 90))


def knife(rng: R) -> Thing:
    """A fixed-blade knife: steel blade tapering to its point, steel tang, plastic/wood handle."""
    blade, width, thick = rng.uniform(80, 200), rng.uniform(16, 35), rng.uniform(1.2, 2.5)
    handle = rng.uniform(90, 120)
    parts: list[Part] = [
        Plate("steel", 0, blade, taper(0, width, 0, blade, blade * 0.6), 0, thick),
        Plate("steel", -handle, 0, rect(width * 0.3, width * 0.7), 0, thick),
        Plate(
            "wood" if rng.random() < 0.5 else "polyethylene",
            -handle,
            0,
            rect(-2, width + 2),
            0,
            16.0,
        ),
    ]
    return Thing("knife", parts, _pose(rng, 0.3), "knife", None)


def utility_knife(rng: R) -> Thing:
    """A snap-off utility knife: 0.5 mm blade, steel channel, plastic body; often on its edge."""
    parts: list[Part] = [
        Plate("steel", 0, 100, rect(0, 18), 0, 0.5),
        Plate("steel", -40, 80, rect(-1, 19), 0, 0.8),
        Plate("polyethylene", -50, 90, rect(-3, 21), 0, 12.0),
    ]
    return Thing("utility_knife", parts, _pose(rng, 0.5), "knife", None)


def folding_knife(rng: R) -> Thing:
    """A closed folding knife: blade between two steel liners, scales outside."""
    length = rng.uniform(85, 120)
    parts: list[Part] = [
        Plate("steel", 0, length, rect(0, 24), 0, 2.5),
        Plate("steel", 0, length, rect(0, 26), 4.0, 1.0),
        Plate("steel", 0, length, rect(0, 26), -4.0, 1.0),
        Plate("aluminium", 0, length, rect(0, 26), 0, 5.0),
        Cyl("steel", 5, 10, 13, 0, 4.0),
    ]
    return Thing("folding_knife", parts, _pose(rng, 0.3), "knife", None)


def ceramic_knife(rng: R) -> Thing:
    """A zirconia ceramic blade in a plastic handle."""
    blade, width = rng.uniform(100, 150), rng.uniform(25, 40)
    parts: list[Part] = [
        Plate("zirconia", 0, blade, taper(0, width, 0, blade, blade * 0.5), 0, 2.0),
        Plate("polyethylene", -110, 0, rect(0, width), 0, 18.0),
    ]
    return Thing("ceramic_knife", parts, _pose(rng, 0.3), "ceramic_knife", None)


def pistol(rng: R) -> Thing:
    """A pistol: steel slide and barrel, polymer frame, steel magazine with cartridges."""
    slide = rng.uniform(160, 190)
    parts: list[Part] = [
        Plate("steel", 0, slide, rect(-14, 14), 0, 5.0),
        Plate("steel", 0, slide, rect(-14, -9), -12, 20.0),
        Plate("steel", 0, slide, rect(9, 14), -12, 20.0),
        Cyl("steel", 5, slide - 10, 0, -10, 6.5, 4.5),
        Plate("polyethylene", 10, 70, rect(-15, 15), -50, 95.0),
        Plate("steel", 20, 50, rect(-12, -11), -55, 80.0),
        Plate("steel", 20, 50, rect(11, 12), -55, 80.0),
    ]
    for k in range(4):
        parts.append(Cyl("brass", 24, 44, 0, -30 - 10 * k, 4.8, 4.4))
        parts.append(Cyl("lead", 44, 50, 0, -30 - 10 * k, 4.5))
    return Thing("pistol", parts, float(rng.uniform(0, 90)), "gun", None)


def revolver(rng: R) -> Thing:
    """A revolver: steel barrel, cylinder with six chambers, steel frame, wooden grip."""
    barrel = rng.uniform(60, 150)
    parts: list[Part] = [
        Cyl("steel", 40, 40 + barrel, 0, 0, 8.0, 4.5),
        Cyl("steel", 0, 40, 0, -8, 19.0),
        Plate("steel", -40, 40, rect(-8, 8), -20, 40.0),
        Plate("wood", -75, -30, rect(-17, 17), -55, 70.0),
    ]
    return Thing("revolver", parts, float(rng.uniform(0, 90)), "gun", None)


def ammunition(rng: R) -> Thing:
    """A box of 9 x 19 mm cartridges: brass cases with lead bullets, standing in rows."""
    n = int(rng.integers(10, 51))
    cols = int(np.ceil(np.sqrt(n)))
    parts: list[Part] = [Plate("cardboard", -6, cols * 11 + 6, rect(-6, cols * 11 + 6), 0, 40)]
    for k in range(n):
        r, c = divmod(k, cols)
        cx, cy = 5.5 + 11 * c, 5.5 + 11 * r
        parts.append(Plate("brass", cx - 4.8, cx + 4.8, disc(cx, cy, 4.8), 0, 19.0))
        parts.append(Plate("lead", cx - 4.5, cx + 4.5, disc(cx, cy, 4.5), 0, 10.0))
    return Thing("ammunition", parts, float(rng.uniform(0, 20)), "ammunition", None)


def lead_box(rng: R) -> Thing:
    """A box lined with lead foil (0.2–1 mm) holding something dense or not."""
    side, height, foil = rng.uniform(60, 140), rng.uniform(30, 70), rng.uniform(0.2, 1.0)
    parts: list[Part] = [
        Plate("lead", 0, side, rect(0, side), 0, 2 * foil),
        Plate("lead", 0, side, rect(0, foil), 0, height),
        Plate("lead", 0, side, rect(side - foil, side), 0, height),
        Plate("lead", 0, foil, rect(0, side), 0, height),
        Plate("lead", side - foil, side, rect(0, side), 0, height),
        Plate("cardboard", -3, side + 3, rect(-3, side + 3), 0, height + 6),
    ]
    return Thing("lead_box", parts, 0.0, "lead", None)


def lead_foil(rng: R) -> Thing:
    """A sheet of lead foil folded round goods (0.1–0.4 mm a layer)."""
    length, width = rng.uniform(100, 200), rng.uniform(60, 150)
    parts: list[Part] = [Plate("lead", 0, length, rect(0, width), 0, 2 * rng.uniform(0.1, 0.4))]
    return Thing("lead_foil", parts, 0.0, "lead", None)


def tungsten(rng: R) -> Thing:
    """A tungsten bar or a stack of tungsten weights; sometimes on its edge.

    Until 2026-12-07 it always lay flat, where it stops the beam and no rule can miss it;
    on its edge a thin sheet is a short line (docs/xray-prescreen.md, Known limits).
    """
    length, width, thick = rng.uniform(20, 60), rng.uniform(10, 30), rng.uniform(1, 8)
    parts: list[Part] = [Plate("tungsten", 0, length, rect(0, width), 0, thick)]
    return Thing("tungsten", parts, _pose(rng, 0.2), "tungsten", None)


def cells(rng: R) -> Thing:
    """Loose or taped 18650 cells (2–8), undeclared."""
    t = power_bank(rng, int(rng.integers(2, 9)))
    return Thing("cells", t.parts, t.tilt_deg, "cells", None)


def tool(rng: R) -> Thing:
    """Pliers hidden among goods declared as something else."""
    t = pliers(rng)
    return Thing("pliers", t.parts, t.tilt_deg, "undeclared_metal", None)


def liquid(rng: R) -> Thing:
    """A bottle of liquid the declaration does not mention."""
    t = bottle(rng)
    return Thing("bottle", t.parts, t.tilt_deg, "undeclared_liquid", None)


#: Threat classes of the evaluation and the builders that make them.
THREATS: dict[str, tuple[Callable[[R], Thing], ...]] = {
    "knife": (knife, utility_knife, folding_knife),
    "ceramic_knife": (ceramic_knife,),
    "gun": (pistol, revolver),
    "ammunition": (ammunition,),
    "lead": (lead_box, lead_foil),
    "tungsten": (tungsten,),
    "cells": (cells,),
    "undeclared_metal": (tool,),
    "undeclared_liquid": (liquid,),
}
