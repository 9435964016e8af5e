"""Objects built as they are: what each is made of, in which shape, and how it lies.

Every builder takes a random generator and returns a ``Thing``: its parts in its own frame
(mm, see ``solids``), the tilt about its long axis, its class, whether it is a threat and
the goods line (HS code, name) a truthful declaration gives it. Dimensions follow the
common sizes of the goods (18650 cells 18 x 65 mm with a 0.25 mm steel can, 9 x 19 mm
cartridges, coins 16–27 mm, ...); nothing here knows any detector threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from simulators.xray.solids import Cyl, Field, Part, Plate, disc, rect, taper

R = np.random.Generator


@dataclass(frozen=True, slots=True)
class Thing:
    """One object ready to be projected, with its ground truth."""

    cls: str
    parts: list[Part]
    tilt_deg: float
    threat: str | None  # threat class, None for benign goods
    goods: tuple[str, str] | None  # (HS code, name) a truthful declaration lists


def _cell(x0: float, y: float, z: float = 0.0) -> list[Part]:
    """One 18650 lithium-ion cell lying along x: steel can and wound electrode core."""
    return [
        Cyl("steel", x0, x0 + 65, y, z, 9.0, 8.75),
        Cyl("cathode", x0 + 1, x0 + 64, y, z, 8.7, 1.0),
        Cyl("graphite", x0 + 1, x0 + 64, y, z, 8.0, 1.0),
        Cyl("copper", x0 + 1, x0 + 64, y, z, 8.7, 8.6),
        Cyl("aluminium", x0 + 1, x0 + 64, y, z, 8.6, 8.45),
        Cyl("steel", x0 + 62, x0 + 65, y, z, 9.0),
    ]


def _pouch(x0: float, y0: float, length: float, width: float, mm: float) -> list[Part]:
    """A flat lithium-polymer pouch cell ``mm`` thick: stacked electrodes in an Al laminate."""
    out = rect(y0, y0 + width)
    x1 = x0 + length
    return [
        Plate("cathode", x0, x1, out, 0.0, 0.45 * mm),
        Plate("graphite", x0, x1, out, 0.0, 0.4 * mm),
        Plate("copper", x0, x1, out, 0.0, 0.012 * mm * 8),
        Plate("aluminium", x0, x1, out, 0.0, 0.2),
        Plate("electrolyte", x0, x1, out, 0.0, 0.1 * mm),
    ]


def textiles(rng: R) -> Thing:
    """Folded garments: a lumpy cotton pile, sometimes with a brass zip and buttons."""
    h, w = int(rng.uniform(150, 280)), int(rng.uniform(200, 340))
    grid = rng.uniform(0.4, 1.0, (5, 5)).astype(np.float32)
    lump = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    shape = (np.abs(2 * xx / w - 1) ** 4 + np.abs(2 * yy / h - 1) ** 4) <= 0.9
    depth = rng.uniform(3.0, 9.0)
    parts: list[Part] = [Field("cotton", 0.0, 0.0, (lump * shape * depth).astype(np.float32))]
    if rng.random() < 0.5:
        y = rng.uniform(0.3, 0.7) * h
        parts.append(Plate("brass", 0.1 * w, 0.8 * w, rect(y, y + 5.0), 0.0, 1.2))
    for _ in range(int(rng.integers(0, 5))):
        cx, cy = rng.uniform(20, w - 20), rng.uniform(20, h - 20)
        parts.append(Plate("polyethylene", cx - 6, cx + 6, disc(cx, cy, 6), 0.0, 2.5))
    return Thing("textiles", parts, 0.0, None, ("6109100021", "cotton T-shirt 棉质T恤"))


def book(rng: R) -> Thing:
    """A book: a paper block, sometimes with two steel staples."""
    length, width, thick = rng.uniform(150, 250), rng.uniform(110, 180), rng.uniform(10, 45)
    parts: list[Part] = [Plate("paper", 0, length, rect(0, width), 0.0, thick)]
    if rng.random() < 0.3:
        for y in (0.3 * width, 0.7 * width):
            parts.append(Plate("steel", 3, 5, rect(y, y + 12), 0.0, 0.5))
    tilt = 90.0 if rng.random() < 0.2 else rng.uniform(0, 10)
    return Thing("book", parts, tilt, None, ("4901990000", "printed books 图书"))


LIQUIDS = ("water", "ethanol", "oil", "sugar")


def bottle(rng: R, liquid: str | None = None) -> Thing:
    """A PET (or glass) bottle of liquid lying down, with its cap."""
    what = liquid or LIQUIDS[int(rng.integers(0, len(LIQUIDS)))]
    length, r = rng.uniform(140, 250), rng.uniform(28, 45)
    glass = rng.random() < 0.3
    wall = ("glass", 3.0) if glass else ("pet", 0.4)
    parts: list[Part] = [
        Cyl(what, 0, length, 0, 0, r - wall[1]),
        Cyl(wall[0], 0, length, 0, 0, r, r - wall[1]),
        Cyl("polyethylene", length, length + 25, 0, 0, 14, 11),
    ]
    goods = ("2202100000", "soft drink 饮料") if what != "oil" else ("1509200000", "olive oil")
    if what == "ethanol":
        goods = ("3303000000", "perfume 香水")
    return Thing("bottle", parts, 0.0, None, goods)


def shoes(rng: R) -> Thing:
    """A pair of shoes: rubber soles, leather uppers and a steel shank in each; often on a side."""
    parts: list[Part] = []
    length, width = rng.uniform(240, 300), rng.uniform(85, 105)
    for k in range(2):
        y0 = k * (width + 15)
        sole = disc(length / 2, y0 + width / 2, width / 2)

        def outline(x: np.ndarray, y0: float = y0) -> tuple[np.ndarray, np.ndarray]:
            return np.full_like(x, y0), np.full_like(x, y0 + width)

        parts += [
            Plate("rubber", 0, length, outline, 0.0, rng.uniform(12, 25)),
            Plate("leather", 0, length, outline, 40.0, 3.0),
            Plate("rubber", length / 2 - width / 2, length / 2 + width / 2, sole, 0.0, 0.1),
        ]
        sy = y0 + width / 2 - 5
        x0 = length * 0.25
        parts.append(
            Plate(
                "steel",
                x0,
                x0 + rng.uniform(80, 115),
                rect(sy, sy + rng.uniform(8, 12)),
                0.0,
                rng.uniform(1.2, 2.0),
            )
        )
    tilt = 90.0 if rng.random() < 0.25 else rng.uniform(0, 15)
    return Thing("shoes", parts, tilt, None, ("6404110000", "sports shoes 运动鞋"))


def umbrella(rng: R) -> Thing:
    """A folded umbrella: steel tube shaft, steel ribs, polyester canopy, plastic handle."""
    length = rng.uniform(230, 300)
    parts: list[Part] = [
        Cyl("steel", 0, length, 0, 0, 5.0, 4.4),
        Cyl("polyethylene", -90, 0, 0, 0, 15.0),
        Cyl("pet", 0, length, 0, 0, 22.0, 20.0),
    ]
    for k in range(8):
        ang = 2 * np.pi * k / 8
        y, z = 12 * np.cos(ang), 12 * np.sin(ang)
        parts.append(Cyl("steel", 20, length - 10, float(y), float(z), 1.0))
    return Thing("umbrella", parts, rng.uniform(0, 180), None, ("6601910000", "umbrella 雨伞"))


def tin(rng: R) -> Thing:
    """A tin of food (0.25 mm tinplate can), lying down."""
    length, r = rng.uniform(60, 120), rng.uniform(32, 50)
    parts: list[Part] = [
        Cyl("water", 0, length, 0, 0, r - 0.3),
        Cyl("steel", 0, length, 0, 0, r, r - 0.25),
        Cyl("steel", 0, 0.3, 0, 0, r),
        Cyl("steel", length - 0.3, length, 0, 0, r),
    ]
    return Thing("tin", parts, 0.0, None, ("1604140000", "canned tuna 金枪鱼罐头"))


def coins(rng: R) -> Thing:
    """Coins: a few loose ones and a stack, cupronickel, brass or plated steel."""
    parts: list[Part] = []
    for _ in range(int(rng.integers(3, 9))):
        mat = ("nickel", "brass", "steel", "copper")[int(rng.integers(0, 4))]
        r, cx, cy = rng.uniform(8, 13.5), rng.uniform(0, 100), rng.uniform(0, 100)
        n = int(rng.integers(1, 6))
        parts.append(Plate(mat, cx - r, cx + r, disc(cx, cy, r), 0.0, n * rng.uniform(1.5, 2.2)))
    return Thing("coins", parts, 0.0, None, ("7118900000", "commemorative coins 纪念币"))


def laptop(rng: R) -> Thing:
    """A laptop: aluminium shell, board, copper heat pipe, 3–4 pouch cells, glass, hinges."""
    length, width = rng.uniform(300, 360), rng.uniform(210, 250)
    box = rect(0, width)
    parts: list[Part] = [
        Plate("aluminium", 0, length, box, 0, 3.0),
        Plate("glass", 0, length, box, 0, 0.7),
        Plate("fr4", 20, 220, rect(10, 110), 0, 1.6),
        Cyl("copper", 40, 200, 60, 0, 3.0, 2.5),
        Plate("steel", 10, 40, rect(0, 12), 0, 6.0),
        Plate("steel", length - 40, length - 10, rect(0, 12), 0, 6.0),
    ]
    for k in range(int(rng.integers(3, 5))):
        parts += _pouch(20 + k * 75, width - 80, 70, 65, rng.uniform(5, 7))
    return Thing(
        "laptop", parts, rng.uniform(0, 10), None, ("8471300000", "laptop computer 笔记本电脑")
    )


def phone(rng: R) -> Thing:
    """A smartphone: glass front and back, aluminium frame, board with shields, pouch cell."""
    length, width = rng.uniform(140, 165), rng.uniform(68, 78)
    box = rect(0, width)
    parts: list[Part] = [
        Plate("glass", 0, length, box, 0, 1.3),
        Plate("aluminium", 0, length, box, 0, 0.6),
        Plate("aluminium", 0, length, rect(0, 2.5), 0, 8.0),
        Plate("aluminium", 0, length, rect(width - 2.5, width), 0, 8.0),
        Plate("fr4", 5, 50, rect(5, width - 5), 0, 1.0),
        Plate("steel", 10, 40, rect(10, width - 10), 0, 0.3),
    ]
    parts += _pouch(55, 8, length - 65, width - 16, 4.5)
    return Thing("phone", parts, rng.uniform(0, 20), None, ("8517130000", "mobile phone 手机"))


def power_bank(rng: R, cells: int | None = None) -> Thing:
    """A power bank or a taped bundle of 18650 cells with a board in a plastic case."""
    n = cells or int(rng.integers(2, 7))
    parts: list[Part] = [Plate("polyethylene", -5, 75, rect(-12, 18 * n - 6), 0, 22.0)]
    for k in range(n):
        parts += _cell(0, 18.0 * k)
    parts.append(Plate("fr4", 66, 74, rect(-9, 18 * n - 9), 0, 1.6))
    return Thing("power_bank", parts, rng.uniform(0, 40), None, ("8507600090", "power bank 充电宝"))


def toy(rng: R) -> Thing:
    """A plastic toy with a small electric motor and wiring."""
    length, width = rng.uniform(120, 220), rng.uniform(80, 140)
    parts: list[Part] = [
        Plate("polyethylene", 0, length, rect(0, width), 0, rng.uniform(20, 50)),
        Cyl("steel", 20, 45, width / 2, 0, 10, 9.3),
        Cyl("copper", 22, 43, width / 2, 0, 7, 4),
    ]
    return Thing("toy", parts, 0.0, None, ("9503008900", "plastic toy car 塑料玩具"))


def pliers(rng: R) -> Thing:
    """Pliers: two forged steel arms crossing at the joint, plastic grips."""
    length = rng.uniform(150, 220)
    parts: list[Part] = [
        Plate("steel", 0, length * 0.35, taper(-9, 9, 0, length * 0.35, 0), 0, 9.0),
        Plate("steel", length * 0.3, length, rect(-12, -4), 0, 7.0),
        Plate("steel", length * 0.3, length, rect(4, 12), 0, 7.0),
        Plate("polyethylene", length * 0.5, length, rect(-14, -2), 0, 12.0),
        Plate("polyethylene", length * 0.5, length, rect(2, 14), 0, 12.0),
    ]
    return Thing("pliers", parts, rng.uniform(0, 30), None, ("8203200000", "pliers 钳子"))


Builder = Callable[[R], Thing]

#: Benign goods and how often a clean parcel holds each.
BENIGN: dict[str, tuple[Builder, float]] = {
    "textiles": (textiles, 3.0),
    "book": (book, 1.5),
    "bottle": (bottle, 1.0),
    "shoes": (shoes, 1.2),
    "umbrella": (umbrella, 0.6),
    "tin": (tin, 0.6),
    "coins": (coins, 0.4),
    "laptop": (laptop, 0.6),
    "phone": (phone, 1.0),
    "power_bank": (power_bank, 0.5),
    "toy": (toy, 0.8),
    "pliers": (pliers, 0.4),
}
