"""Synthetic dual-energy parcel scans by Beer–Lambert attenuation, with ground truth.

Each pixel's transmitted intensity is ``I = I0 · exp(−Σ μ(E)·ρ·t)`` summed over every
material on the ray, at the low and at the high effective energy; then detector gain
non-uniformity, photon (Poisson-like) noise and read noise are added and the result is
rounded to 16-bit counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import Field

from contracts.config import ConfigModel
from devices.xray_image import DualEnergyImage
from simulators.xray.contents import ItemKind, ParcelContents, random_contents
from simulators.xray.materials import HIGH_ENERGY_KEV, LOW_ENERGY_KEV, material
from simulators.xray.shapes import MAX_CELLS, Template, build_templates

F32 = npt.NDArray[np.float32]

#: Ground-truth document version.
TRUTH_VERSION = 1


class GeneratorConfig(ConfigModel):
    """Geometry and detector of the simulated machine."""

    width_px: int = Field(1024, ge=64, le=4096, description="Detector elements across the belt.")
    height_px: int = Field(768, ge=64, le=8192, description="Scan lines along the belt.")
    pixel_mm: float = Field(0.6, gt=0.05, le=5.0, description="Pixel pitch at the belt, mm.")
    air_counts: int = Field(60000, ge=1000, le=65000, description="Unattenuated counts (I0).")
    photon_gain: float = Field(
        1.5, ge=0, description="Variance per count of the photon noise (1 = pure Poisson)."
    )
    read_noise_counts: float = Field(15.0, ge=0, description="Detector read noise, counts rms.")
    gain_spread: float = Field(0.003, ge=0, le=0.1, description="Per-element gain spread, rms.")
    belt_cm: float = Field(0.4, ge=0, description="Rubber belt thickness, cm.")
    carton_depth_cm: tuple[float, float] = Field(
        (15.0, 40.0), description="Range of carton heights (along the beam), cm."
    )
    variants: int = Field(6, ge=1, le=50, description="Precomputed templates per item kind.")
    machine_seed: int = Field(0, description="Seed of the templates and the detector pattern.")


@dataclass(frozen=True, slots=True)
class TruthObject:
    """One placed item; ``bbox`` is ``(x0, y0, x1, y1)`` in pixels of one channel, end-exclusive."""

    cls: str
    material: str
    bbox: tuple[int, int, int, int]
    is_threat: bool
    angle_deg: float
    cells: int = 0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "cls": self.cls,
            "material": self.material,
            "bbox": list(self.bbox),
            "is_threat": self.is_threat,
            "angle_deg": round(self.angle_deg, 2),
            "cells": self.cells,
        }


@dataclass(frozen=True, slots=True, eq=False)
class XrayScan:
    """A synthetic scan: the 16-bit image pair and what is really in it."""

    image: DualEnergyImage
    objects: tuple[TruthObject, ...]
    carton_bbox: tuple[int, int, int, int]
    seed: int
    config: GeneratorConfig = field(repr=False)

    @property
    def has_threat(self) -> bool:
        """True if any placed object is a threat."""
        return any(o.is_threat for o in self.objects)

    def truth_json(self) -> dict[str, Any]:
        """The ground-truth document (see docs/xray-simulator.md)."""
        return {
            "version": TRUTH_VERSION,
            "seed": self.seed,
            "width": self.image.width,
            "height": self.image.height,
            "pixel_mm": self.config.pixel_mm,
            "air_counts": self.config.air_counts,
            "energies_kev": {"low": LOW_ENERGY_KEV, "high": HIGH_ENERGY_KEV},
            "carton_bbox": list(self.carton_bbox),
            "objects": [o.to_json() for o in self.objects],
        }


class XrayGenerator:
    """Renders parcel contents into dual-energy scans; same config + contents + seed, same scan."""

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        """Precompute item templates and the detector's fixed gain pattern."""
        self.config = config or GeneratorConfig()
        cfg = self.config
        self._templates = build_templates(cfg.pixel_mm, cfg.variants, cfg.machine_seed)
        pattern = np.random.default_rng([cfg.machine_seed, 1])
        gains = 1.0 + cfg.gain_spread * pattern.standard_normal(cfg.width_px)
        self._column_i0 = (cfg.air_counts * gains).astype(np.float32)[None, :]
        belt = material("belt_rubber")
        self._belt = (belt.linear_low_per_cm * cfg.belt_cm, belt.linear_high_per_cm * cfg.belt_cm)

    def random_scan(self, seed: int, threat_rate: float = 0.1) -> XrayScan:
        """Render a randomly filled parcel; contents and pose both follow from ``seed``."""
        rng = np.random.default_rng([seed, 7])
        return self.render(random_contents(rng, threat_rate), seed)

    def render(self, contents: ParcelContents, seed: int) -> XrayScan:
        """Render ``contents`` in a carton with random poses drawn from ``seed``."""
        cfg = self.config
        rng = np.random.default_rng(seed)
        h, w = cfg.height_px, cfg.width_px
        low = np.full((h, w), self._belt[0], np.float32)
        high = np.full((h, w), self._belt[1], np.float32)
        chosen: list[Template] = []
        for item in contents.items:
            cells = min(item.cells or 1, MAX_CELLS) if item.kind is ItemKind.ELECTRONICS else 0
            bank = self._templates[(item.kind, cells)]
            chosen.extend(bank[int(rng.integers(0, len(bank)))] for _ in range(item.count))
        need_px = sum(int(t.low.size) for t in chosen)
        longest = max((max(t.low.shape) for t in chosen), default=0)
        carton = self._carton(rng, contents, (need_px, longest), (low, high))
        objects: list[TruthObject] = []
        for template in chosen:
            placed = self._place(rng, template, carton, low, high)
            if placed is not None:
                objects.append(placed)
        image = DualEnergyImage(low=self._expose(rng, low), high=self._expose(rng, high))
        return XrayScan(image, tuple(objects), carton, seed, cfg)

    def wedge(self, base: str, steps_mm: tuple[float, ...], seed: int = 0) -> DualEnergyImage:
        """Image a step wedge of ``base`` (organic, aluminium, steel or lead) on this machine.

        Steps of ``steps_mm`` lie along the belt with air between them, in the middle
        three fifths of the belt's width, as ``clearline xray calibrate`` expects.
        """
        cfg = self.config
        name = {"organic": "polyethylene"}.get(base, base)
        mat = material(name)
        h, w = cfg.height_px, cfg.width_px
        pitch = h // (len(steps_mm) + 1)
        block = int(pitch * 0.7)
        low = np.full((h, w), self._belt[0], np.float32)
        high = np.full((h, w), self._belt[1], np.float32)
        for k, mm in enumerate(steps_mm):
            y0 = pitch // 2 + k * pitch
            low[y0 : y0 + block, w // 5 : 4 * w // 5] += mat.linear_low_per_cm * mm / 10.0
            high[y0 : y0 + block, w // 5 : 4 * w // 5] += mat.linear_high_per_cm * mm / 10.0
        rng = np.random.default_rng([cfg.machine_seed, 3, seed])
        return DualEnergyImage(low=self._expose(rng, low), high=self._expose(rng, high))

    # --- parts of one render --------------------------------------------------------------

    def _carton(
        self,
        rng: np.random.Generator,
        contents: ParcelContents,
        need: tuple[int, int],
        planes: tuple[F32, F32],
    ) -> tuple[int, int, int, int]:
        """Draw the carton (panels and edge-on side walls); return its bounding box.

        Without a size in ``contents`` the carton's area follows the items' area and each side
        is at least as long as the longest item (``need`` = (area px, longest side px)).
        """
        cfg = self.config
        need_px, longest_px = need
        low, high = planes
        h, w = cfg.height_px, cfg.width_px
        if contents.carton_mm is not None:
            ch = int(contents.carton_mm[0] / cfg.pixel_mm)
            cw = int(contents.carton_mm[1] / cfg.pixel_mm)
        else:
            area = min(max(need_px * rng.uniform(0.8, 1.3), 0.12 * h * w), 0.8 * h * w)
            aspect = rng.uniform(0.6, 1.4)
            ch = int(min(max(math.sqrt(area * aspect), longest_px + 8), 0.95 * h))
            cw = int(min(max(area / max(ch, 1), longest_px + 8), 0.95 * w))
        ch, cw = min(max(ch, 16), h - 4), min(max(cw, 16), w - 4)
        y0, x0 = int(rng.integers(2, h - ch - 1)), int(rng.integers(2, w - cw - 1))
        board = material("cardboard")
        depth_cm = rng.uniform(*cfg.carton_depth_cm)
        wall = max(2, round(5.0 / cfg.pixel_mm))
        t = np.full((ch, cw), 2 * 0.5, np.float32)  # lid and bottom, 5 mm board each
        t[:wall, :] = t[-wall:, :] = t[:, :wall] = t[:, -wall:] = depth_cm
        low[y0 : y0 + ch, x0 : x0 + cw] += t * board.linear_low_per_cm
        high[y0 : y0 + ch, x0 : x0 + cw] += t * board.linear_high_per_cm
        return (x0, y0, x0 + cw, y0 + ch)

    def _place(
        self,
        rng: np.random.Generator,
        template: Template,
        carton: tuple[int, int, int, int],
        low: F32,
        high: F32,
    ) -> TruthObject | None:
        """Rotate ``template`` at random, add it inside the carton; return its ground truth."""
        angle = float(rng.uniform(0.0, 360.0))
        flip = bool(rng.integers(0, 2))
        t_low, t_high = template.low, template.high
        if flip:
            t_low, t_high = t_low[::-1], t_high[::-1]
        th, tw = t_low.shape
        rad = math.radians(angle)
        cos, sin = abs(math.cos(rad)), abs(math.sin(rad))
        nw, nh = math.ceil(tw * cos + th * sin) + 2, math.ceil(tw * sin + th * cos) + 2
        m = cv2.getRotationMatrix2D((tw / 2.0, th / 2.0), angle, 1.0)
        m[0, 2] += nw / 2.0 - tw / 2.0
        m[1, 2] += nh / 2.0 - th / 2.0
        r_low = cv2.warpAffine(np.ascontiguousarray(t_low), m, (nw, nh), flags=cv2.INTER_LINEAR)
        r_high = cv2.warpAffine(np.ascontiguousarray(t_high), m, (nw, nh), flags=cv2.INTER_LINEAR)
        cx0, cy0, cx1, cy1 = carton
        pad = max(2, round(6.0 / self.config.pixel_mm))
        x = self._centre(rng, cx0 + pad, cx1 - pad, nw)
        y = self._centre(rng, cy0 + pad, cy1 - pad, nh)
        # clip the patch to the image
        h, w = low.shape
        ix0, iy0 = max(0, x), max(0, y)
        ix1, iy1 = min(w, x + nw), min(h, y + nh)
        if ix1 <= ix0 or iy1 <= iy0:
            return None
        px0, py0 = ix0 - x, iy0 - y
        patch_low = r_low[py0 : py0 + iy1 - iy0, px0 : px0 + ix1 - ix0]
        patch_high = r_high[py0 : py0 + iy1 - iy0, px0 : px0 + ix1 - ix0]
        low[iy0:iy1, ix0:ix1] += patch_low
        high[iy0:iy1, ix0:ix1] += patch_high
        rows = np.flatnonzero(patch_high.max(axis=1) > 1e-3)
        cols = np.flatnonzero(patch_high.max(axis=0) > 1e-3)
        if rows.size == 0:
            return None
        bbox = (
            ix0 + int(cols[0]),
            iy0 + int(rows[0]),
            ix0 + int(cols[-1]) + 1,
            iy0 + int(rows[-1]) + 1,
        )
        return TruthObject(
            cls=template.kind.value,
            material=template.material,
            bbox=bbox,
            is_threat=template.is_threat,
            angle_deg=angle,
            cells=template.cells,
        )

    @staticmethod
    def _centre(rng: np.random.Generator, lo: int, hi: int, size: int) -> int:
        """Top-left coordinate placing a patch of ``size`` inside [lo, hi) when it fits."""
        if hi - lo <= size:
            return (lo + hi) // 2 - size // 2
        return int(rng.integers(lo, hi - size + 1))

    def _expose(self, rng: np.random.Generator, attenuation: F32) -> npt.NDArray[np.uint16]:
        """Turn line integrals into noisy 16-bit counts: I0·exp(−A) + photon and read noise."""
        cfg = self.config
        counts = np.exp(-attenuation)
        counts *= self._column_i0
        sigma = counts * np.float32(cfg.photon_gain)
        sigma += np.float32(cfg.read_noise_counts**2)
        np.sqrt(sigma, out=sigma)
        sigma *= rng.standard_normal(counts.shape, dtype=np.float32)
        counts += sigma
        np.clip(counts, 0.0, 65535.0, out=counts)
        return np.rint(counts).astype(np.uint16)
