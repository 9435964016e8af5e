"""A second X-ray machine, built apart from ``simulators.xray``, to test the pre-screen against.

The pre-screen's own phantoms come from ``simulators.xray`` (xraydb, its tube and detector
models, its catalogue of goods). A detector tuned on a simulator can fit that simulator's
habits, so this machine shares none of it: nothing here imports ``simulators.xray`` or
xraydb.

* **Attenuation** is typed from NIST Standard Reference Database 126 (J. H. Hubbell and
  S. M. Seltzer, *Tables of X-Ray Mass Attenuation Coefficients*, Table 3 for the elements;
  https://physics.nist.gov/PhysRefData/XrayMassCoef/tab3.html) at its own energy grid, with
  the K-edges of tungsten (69.525 keV) and lead (88.0045 keV) as two rows each; compounds
  by the mixture rule from their mass fractions (water from H and O this way gives Table
  4's water within 0.1 %). Between grid energies μ/ρ is interpolated log-log.
* **The machine** switches the tube voltage: the low image at 80 kVp behind 2 mm of
  aluminium, the high image at 140 kVp behind 2 mm of aluminium and 1.5 mm of copper; an
  energy-integrating detector (signal ∝ photons × energy); Kramers' law for the spectrum,
  N(E) ∝ (E0 − E) / E. No profile of ``machines.json`` works so.
* **Objects** are analytic: boxes, tapered plates and cylinders lying down, drawn at twice
  the pixel pitch and averaged in transmission (a thin edge-on sheet covers part of a
  pixel), then a Gaussian blur, a gain per detector element and Poisson noise.
* **The PNG** is written with OpenCV directly: low image above high, 16 bits, the
  contract of docs/xray-prescreen.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]

#: NIST SRD 126 Table 3 energy grid used here, keV.
GRID_KEV = (15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 80.0, 100.0, 150.0)

#: μ/ρ (cm²/g) of the elements at ``GRID_KEV`` (NIST SRD 126, Table 3).
ELEMENTS: dict[str, tuple[float, ...]] = {
    "H": (0.3764, 0.3695, 0.3570, 0.3458, 0.3355, 0.3260, 0.3091, 0.2944, 0.2651),
    "C": (0.8071, 0.4420, 0.2562, 0.2076, 0.1871, 0.1753, 0.1610, 0.1514, 0.1347),
    "O": (1.836, 0.8651, 0.3779, 0.2585, 0.2132, 0.1907, 0.1678, 0.1551, 0.1361),
    "Al": (7.955, 3.441, 1.128, 0.5685, 0.3681, 0.2778, 0.2018, 0.1704, 0.1378),
    "Fe": (57.08, 25.68, 8.176, 3.629, 1.958, 1.205, 0.5952, 0.3717, 0.1964),
    "Cu": (74.05, 33.79, 10.92, 4.862, 2.613, 1.593, 0.7630, 0.4584, 0.2217),
}

#: Elements with a K-edge in the tube's range: (keV, μ/ρ) rows of Table 3, the edge twice.
EDGED: dict[str, tuple[tuple[float, float], ...]] = {
    "W": (
        (15.0, 138.9), (20.0, 65.73), (30.0, 22.73), (40.0, 10.67), (50.0, 5.949),
        (60.0, 3.713), (69.525, 2.552), (69.525, 11.23), (80.0, 7.810), (100.0, 4.438),
        (150.0, 1.581),
    ),
    "Pb": (
        (15.0, 111.6), (20.0, 86.36), (30.0, 30.32), (40.0, 14.36), (50.0, 8.041),
        (60.0, 5.021), (80.0, 2.419), (88.0045, 1.910), (88.0045, 7.683), (100.0, 5.549),
        (150.0, 2.014),
    ),
}  # fmt: skip

#: Materials: density g/cm³ and mass fractions. Cellulose is paper and cotton; the cell's
#: core stands for a lithium-ion jelly roll (cobalt oxide cathode on aluminium, graphite on
#: copper, electrolyte), with iron's coefficients for cobalt (Z 27 against 26).
MATERIALS: dict[str, tuple[float, dict[str, float]]] = {
    "water": (1.0, {"H": 0.1119, "O": 0.8881}),
    "ethanol": (0.789, {"H": 0.1313, "C": 0.5214, "O": 0.3473}),  # C2H5OH
    "pmma": (1.19, {"H": 0.0805, "C": 0.5998, "O": 0.3196}),
    "polyethylene": (0.94, {"H": 0.1437, "C": 0.8563}),
    "pet": (1.38, {"H": 0.0420, "C": 0.6250, "O": 0.3330}),
    "paper": (0.8, {"H": 0.0622, "C": 0.4445, "O": 0.4933}),
    "cotton": (0.3, {"H": 0.0622, "C": 0.4445, "O": 0.4933}),
    "board": (0.2, {"H": 0.0622, "C": 0.4445, "O": 0.4933}),
    "aluminium": (2.699, {"Al": 1.0}),
    "steel": (7.874, {"Fe": 1.0}),
    "brass": (8.5, {"Cu": 1.0}),
    "lead": (11.35, {"Pb": 1.0}),
    "tungsten": (19.3, {"W": 1.0}),
    "copper": (8.96, {"Cu": 1.0}),
    "cell_core": (2.6, {"Fe": 0.28, "O": 0.22, "C": 0.25, "Cu": 0.15, "Al": 0.07, "H": 0.03}),
}

#: The standard wedge steps (docs/xray-calibration.md), mm.
WEDGE_STEPS: dict[str, tuple[str, tuple[float, ...]]] = {
    "organic": ("pmma", (5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 240.0)),
    "aluminium": ("aluminium", (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 48.0)),
    "steel": ("steel", (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 12.0)),
    "lead": ("lead", (0.05, 0.1, 0.2, 0.4, 0.8)),
}


def mass_mu(element: str, kev: np.ndarray) -> np.ndarray:
    """μ/ρ (cm²/g) of ``element`` at ``kev``, log-log between table rows (edges kept sharp)."""
    rows = EDGED.get(element) or tuple(zip(GRID_KEV, ELEMENTS[element], strict=True))
    out = np.empty(kev.shape, np.float64)
    for i, e in enumerate(kev.tolist()):
        k = next(j for j in range(1, len(rows)) if rows[j][0] >= e or j == len(rows) - 1)
        (e0, m0), (e1, m1) = rows[k - 1], rows[k]
        if e1 == e0:
            k += 1
            (e0, m0), (e1, m1) = rows[k - 1], rows[k]
        share = math.log(e / e0) / math.log(e1 / e0)
        out[i] = math.exp(math.log(m0) + share * (math.log(m1) - math.log(m0)))
    return out


def linear_mu(material: str, kev: np.ndarray) -> np.ndarray:
    """μ (1/cm) of a material at ``kev``."""
    density, parts = MATERIALS[material]
    return density * sum(w * mass_mu(el, kev) for el, w in parts.items())


@dataclass(frozen=True)
class Channel:
    """One exposure: tube voltage, filters (material, mm) and air counts."""

    kvp: float
    filters: tuple[tuple[str, float], ...]
    air: float

    def spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        """(bin centres keV, detector weight per bin): Kramers × filters × energy."""
        kev = np.arange(16.0, self.kvp, 3.0)
        n = (self.kvp - kev) / kev
        for mat, mm in self.filters:
            n = n * np.exp(-linear_mu(mat, kev) * mm / 10.0)
        weight = n * kev
        return kev, weight / weight.sum()


@dataclass(frozen=True)
class PeerMachine:
    """A kVp-switching dual-energy machine at 0.6 mm pitch."""

    width_px: int = 640
    height_px: int = 480
    pixel_mm: float = 0.6
    low: Channel = Channel(80.0, (("aluminium", 2.0),), 42000.0)
    high: Channel = Channel(140.0, (("aluminium", 2.0), ("copper", 1.5)), 56000.0)
    blur_px: float = 0.6
    gain_spread: float = 0.005

    def expose(self, paths: dict[str, F32], seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) uint16 counts of path-length maps (cm) drawn at twice the pitch."""
        rng = np.random.default_rng(seed)
        out = []
        for ch in (self.low, self.high):
            kev, weight = ch.spectrum()
            mus = {m: linear_mu(m, kev).astype(np.float32) for m in paths}
            shape = next(iter(paths.values())).shape
            trans = np.zeros(shape, np.float32)
            for k in range(len(kev)):
                att = np.zeros(shape, np.float32)
                for m, t in paths.items():
                    att += mus[m][k] * t
                trans += np.float32(weight[k]) * np.exp(-att)
            trans = cv2.resize(trans, (self.width_px, self.height_px), interpolation=cv2.INTER_AREA)
            trans = cv2.GaussianBlur(trans, (0, 0), self.blur_px)
            gain = 1.0 + rng.normal(0.0, self.gain_spread, self.width_px).astype(np.float32)
            counts = rng.poisson(np.maximum(ch.air * gain[None, :] * trans, 0.0))
            out.append(np.clip(counts, 0, 65535).astype(np.uint16))
        return out[0], out[1]


class Scene:
    """Path-length maps (cm per material) at twice the pixel pitch, drawn in mm."""

    def __init__(self, machine: PeerMachine) -> None:
        self.m = machine
        self.fine_mm = machine.pixel_mm / 2
        h, w = 2 * machine.height_px, 2 * machine.width_px
        self.paths: dict[str, F32] = {}
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        self.x_mm, self.y_mm = (xs + 0.5) * self.fine_mm, (ys + 0.5) * self.fine_mm

    def _add(self, material: str, mm: F32) -> None:
        """Add a path-length map in mm."""
        if material not in self.paths:
            self.paths[material] = np.zeros_like(self.x_mm)
        self.paths[material] += mm / 10.0

    def _local(self, cx: float, cy: float, angle_deg: float) -> tuple[F32, F32]:
        """Pixel centres in an object's frame: origin (cx, cy) mm, x along its length."""
        a = math.radians(angle_deg)
        dx, dy = self.x_mm - cx, self.y_mm - cy
        return dx * math.cos(a) + dy * math.sin(a), -dx * math.sin(a) + dy * math.cos(a)

    def box(self, material: str, cx: float, cy: float, length: float, width: float,
            depth: float, angle: float = 0.0, point: float = 0.0) -> Scene:  # fmt: skip
        """A slab ``depth`` mm along the beam; ``point``: the last mm narrow to a tip."""
        u, v = self._local(cx, cy, angle)
        half = np.full_like(u, width / 2)
        if point > 0:
            share = np.clip((u - (length / 2 - point)) / point, 0.0, 1.0)
            half = half * (1.0 - share)
            inside = (np.abs(u) <= length / 2) & (v >= -width / 2) & (v <= 2 * half - width / 2)
        else:
            inside = (np.abs(u) <= length / 2) & (np.abs(v) <= width / 2)
        self._add(material, np.where(inside, np.float32(depth), np.float32(0.0)))
        return self

    def cylinder(self, material: str, cx: float, cy: float, length: float, radius: float,
                 angle: float = 0.0, inner: float = 0.0) -> Scene:  # fmt: skip
        """A cylinder (or tube, ``inner`` radius) lying down: chord lengths across it."""
        u, v = self._local(cx, cy, angle)
        along = np.abs(u) <= length / 2
        chord = 2 * np.sqrt(np.maximum(radius**2 - v**2, 0.0))
        if inner > 0:
            chord = chord - 2 * np.sqrt(np.maximum(inner**2 - v**2, 0.0))
        self._add(material, np.where(along, chord, 0.0).astype(np.float32))
        return self

    def disc(self, material: str, cx: float, cy: float, radius: float, depth: float) -> Scene:
        """A cylinder standing on its end: a disc ``depth`` mm deep."""
        inside = (self.x_mm - cx) ** 2 + (self.y_mm - cy) ** 2 <= radius**2
        self._add(material, np.where(inside, np.float32(depth), np.float32(0.0)))
        return self

    def carton(self) -> Scene:
        """A corrugated carton over most of the belt (two 4 mm boards)."""
        w, h = self.m.width_px * self.m.pixel_mm, self.m.height_px * self.m.pixel_mm
        return self.box("board", w / 2, h / 2, 0.8 * w, 0.8 * h, 8.0)

    def png(self, seed: int) -> bytes:
        """The wire PNG: low image above high, 16-bit greyscale."""
        low, high = self.m.expose(self.paths, seed)
        ok, buf = cv2.imencode(".png", np.vstack([low, high]))
        assert ok
        return bytes(buf)


def wedges(machine: PeerMachine) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(low, high) images of the four standard wedges: steps along the belt, air between."""
    out = {}
    w_mm = machine.width_px * machine.pixel_mm
    for n, (base, (material, steps)) in enumerate(WEDGE_STEPS.items()):
        scene = Scene(machine)
        pitch = machine.height_px * machine.pixel_mm / (len(steps) + 1)
        for k, mm in enumerate(steps):
            scene.box(material, w_mm / 2, pitch * (k + 1), 0.6 * w_mm, 0.6 * pitch, mm)
        out[base] = machine.expose(scene.paths, 100 + n)
    return out


def cells(scene: Scene, cx: float, cy: float, n: int, angle: float = 0.0) -> Scene:
    """``n`` 18650 cells side by side in a 2 mm polyethylene case: steel cans, cores."""
    a = math.radians(angle)
    for k in range(n):
        off = (k - (n - 1) / 2) * 18.5
        x, y = cx - off * math.sin(a), cy + off * math.cos(a)
        scene.cylinder("steel", x, y, 65.0, 9.0, angle, inner=8.75)
        scene.cylinder("cell_core", x, y, 64.0, 8.75, angle)
    return scene.box("polyethylene", cx, cy, 72.0, 18.5 * n + 6, 4.0, angle)
