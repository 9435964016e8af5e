"""Physics-based parcel phantoms and step wedges rendered on a machine profile.

A phantom is a corrugated carton holding 2–6 benign goods in random poses, overlapping
as they fall (dense clutter), and optionally one threat of a given class. Its declaration
lists every benign item truthfully (the threat never). A step wedge is one material in
steps of known thickness along the belt, separated by air, for machine calibration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from devices.xray_image import DualEnergyImage
from simulators.xray.catalogue import BENIGN, Thing
from simulators.xray.physics import F32, MachineProfile, expose
from simulators.xray.solids import Layers, project_layers
from simulators.xray.threats import THREATS

Box = tuple[int, int, int, int]

#: The standard wedge: material key in ``physics.MATERIALS`` and step thicknesses, mm.
WEDGES: dict[str, tuple[str, tuple[float, ...]]] = {
    "organic": ("pmma", (5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 240.0)),
    "aluminium": ("aluminium", (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 48.0)),
    "steel": ("steel", (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 12.0)),
    "lead": ("lead", (0.05, 0.1, 0.2, 0.4, 0.8)),
}


@dataclass(frozen=True, slots=True)
class Placed:
    """One object in the image: class, threat class (or None) and box (x, y, w, h) px."""

    cls: str
    threat: str | None
    box: Box


@dataclass(frozen=True, slots=True, eq=False)
class Phantom:
    """A rendered parcel with its truth and its truthful goods lines."""

    image: DualEnergyImage
    objects: tuple[Placed, ...]
    goods: tuple[tuple[str, str], ...]
    threat: str | None
    seed: int
    profile: str


def _turned(shape: tuple[int, int], angle: float) -> tuple[int, int]:
    """(width, height) px of a (height, width) map turned by ``angle`` degrees."""
    th, tw = shape
    rad = math.radians(angle)
    cos, sin = abs(math.cos(rad)), abs(math.sin(rad))
    return math.ceil(tw * cos + th * sin) + 2, math.ceil(tw * sin + th * cos) + 2


def _place(scene: Layers, obj: Layers, angle: float, at: tuple[int, int]) -> Box | None:
    """Rotate the object's maps in the belt plane and add them with top-left at ``at``."""
    th, tw = next(iter(obj.paths.values())).shape
    nw, nh = _turned((th, tw), angle)
    m = cv2.getRotationMatrix2D((tw / 2.0, th / 2.0), angle, 1.0)
    m[0, 2] += nw / 2.0 - tw / 2.0
    m[1, 2] += nh / 2.0 - th / 2.0
    h, w = next(iter(scene.paths.values())).shape
    x, y = at
    ix0, iy0, ix1, iy1 = max(0, x), max(0, y), min(w, x + nw), min(h, y + nh)
    if ix1 <= ix0 or iy1 <= iy0:
        return None
    mask = np.zeros((iy1 - iy0, ix1 - ix0), bool)

    def turned(plane: F32) -> F32:
        """The plane rotated and cut to the part inside the image."""
        rot = cv2.warpAffine(plane, m, (nw, nh), flags=cv2.INTER_LINEAR)
        return np.asarray(rot[iy0 - y : iy1 - y, ix0 - x : ix1 - x], np.float32)

    for into, planes in ((scene.paths, obj.paths), (scene.edge, obj.edge)):
        for name, plane in planes.items():
            patch = turned(plane)
            target = into.setdefault(name, np.zeros((h, w), np.float32))
            target[iy0:iy1, ix0:ix1] += patch
            mask |= patch > 1e-4
    if obj.cover is not None and scene.cover is not None:
        part = scene.cover[iy0:iy1, ix0:ix1]
        np.maximum(part, np.clip(turned(obj.cover), 0.0, 1.0), out=part)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return (
        ix0 + int(cols[0]),
        iy0 + int(rows[0]),
        int(cols[-1] - cols[0] + 1),
        int(rows[-1] - rows[0] + 1),
    )


def _carton(rng: np.random.Generator, profile: MachineProfile, paths: dict[str, F32]) -> Box:
    """Draw the carton (lid, bottom and edge-on walls of corrugated board); return its box."""
    h, w = profile.height_px, profile.width_px
    ch = int(rng.uniform(0.65, 0.92) * h)
    cw = int(rng.uniform(0.5, 0.85) * w)
    y0, x0 = int(rng.integers(2, h - ch - 1)), int(rng.integers(2, w - cw - 1))
    depth = rng.uniform(15.0, 40.0)
    wall = max(2, round(5.0 / profile.pixel_mm))
    t = np.full((ch, cw), 2 * 0.5, np.float32)
    t[:wall, :] = t[-wall:, :] = t[:, :wall] = t[:, -wall:] = depth
    board = paths.setdefault("cardboard", np.zeros((h, w), np.float32))
    board[y0 : y0 + ch, x0 : x0 + cw] += t
    return (x0, y0, cw, ch)


def _inside(rng: np.random.Generator, start: int, span: int, size: int, limit: int) -> int:
    """A top-left coordinate putting ``size`` px within ``span`` from ``start`` and the image."""
    if size <= span:
        return int(rng.integers(start, start + span - size + 1))
    if size >= limit - 2:
        return (limit - size) // 2  # larger than the image: centred on it
    return int(min(max(start + (span - size) // 2, 1), limit - size - 1))


def _benign(rng: np.random.Generator) -> Thing:
    """One benign item drawn by the goods' frequencies."""
    names = list(BENIGN)
    weights = np.array([BENIGN[n][1] for n in names])
    pick = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    return BENIGN[pick][0](rng)


def render_phantom(profile: MachineProfile, seed: int, threat: str | None = None) -> Phantom:
    """Render one parcel on ``profile``; ``threat`` is a key of ``threats.THREATS`` or None."""
    rng = np.random.default_rng([seed, 17])
    h, w = profile.height_px, profile.width_px
    paths: dict[str, F32] = {"cardboard": np.zeros((h, w), np.float32)}
    scene = Layers(paths, np.zeros((h, w), np.float32))
    cx, cy, cw, ch = _carton(rng, profile, paths)
    things = [_benign(rng) for _ in range(int(rng.integers(2, 7)))]
    if threat is not None:
        builders = THREATS[threat]
        things.insert(
            int(rng.integers(0, len(things) + 1)),
            builders[int(rng.integers(0, len(builders)))](rng),
        )
    placed: list[Placed] = []
    for thing in things:
        maps = project_layers(thing.parts, thing.tilt_deg, profile.pixel_mm)
        angle = float(rng.uniform(0, 360))
        ow, oh = _turned(next(iter(maps.paths.values())).shape, angle)
        # Turned as it lies, the whole object stays inside the carton where it fits, and
        # always inside the image: nothing in a parcel lies off the belt.
        x = _inside(rng, cx, cw, ow, w)
        y = _inside(rng, cy, ch, oh, h)
        box = _place(scene, maps, angle, (x, y))
        if box is not None:
            placed.append(Placed(thing.cls, thing.threat, box))
    low, high = expose(profile, paths, rng, scene.cover, scene.edge)
    goods = tuple(t.goods for t in things if t.goods is not None and t.threat is None)
    return Phantom(
        DualEnergyImage(low=low, high=high), tuple(placed), goods, threat, seed, profile.name
    )


def render_wedge(profile: MachineProfile, wedge: str, seed: int = 0) -> DualEnergyImage:
    """A step wedge on ``profile``: steps of ``WEDGES[wedge]`` along the belt, air between."""
    material, steps = WEDGES[wedge]
    h, w = profile.height_px, profile.width_px
    pitch = h // (len(steps) + 1)
    block = int(pitch * 0.7)
    t = np.zeros((h, w), np.float32)
    for k, mm in enumerate(steps):
        y0 = pitch // 2 + k * pitch
        t[y0 : y0 + block, w // 5 : 4 * w // 5] = mm / 10.0
    low, high = expose(profile, {material: t}, np.random.default_rng([seed, 3]))
    return DualEnergyImage(low=low, high=high)


def render_scene(
    profile: MachineProfile,
    things: list[tuple[Thing, float, tuple[int, int]]],
    seed: int = 0,
    clothes_cm: float = 0.0,
) -> Phantom:
    """Render chosen objects at chosen in-plane angles and top-left pixels, on ``profile``.

    A carton fills the middle of the belt; ``clothes_cm`` of cotton may be spread over it.
    Used to build exact cases (an edge-on knife, cells in a toy) for tests and demos.
    """
    h, w = profile.height_px, profile.width_px
    paths: dict[str, F32] = {"cardboard": np.zeros((h, w), np.float32)}
    x0, y0 = w // 8, h // 8
    board = paths["cardboard"]
    board[y0 : h - y0, x0 : w - x0] += 1.0
    if clothes_cm > 0:
        paths["cotton"] = np.zeros((h, w), np.float32)
        paths["cotton"][y0 + 10 : h - y0 - 10, x0 + 10 : w - x0 - 10] = clothes_cm
    scene = Layers(paths, np.zeros((h, w), np.float32))
    placed = []
    for thing, angle, at in things:
        maps = project_layers(thing.parts, thing.tilt_deg, profile.pixel_mm)
        box = _place(scene, maps, angle, at)
        if box is not None:
            placed.append(Placed(thing.cls, thing.threat, box))
    rng = np.random.default_rng([seed, 5])
    low, high = expose(profile, paths, rng, scene.cover, scene.edge)
    goods = tuple(t.goods for t, _, _ in things if t.goods is not None and t.threat is None)
    threat = next((t.threat for t, _, _ in things if t.threat is not None), None)
    return Phantom(
        DualEnergyImage(low=low, high=high), tuple(placed), goods, threat, seed, profile.name
    )
