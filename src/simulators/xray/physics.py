"""Physical X-ray machine model: NIST/Elam attenuation (xraydb), tube spectra, detectors, noise.

A machine profile turns per-material path lengths (cm along the beam) into the two 16-bit
detector channels. For every channel the signal is ``Σ_E w(E) · exp(−Σ_m μ_m(E) · t_m)``
over energy bins ``E``, where ``w`` is the energy the detector layer absorbs from the
filtered tube spectrum (or a single bin for an effective-energy machine). Because the
weights span many energies, thick objects harden the beam exactly as on a real tube.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
import xraydb  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

#: Composition (xraydb formula) and density (g/cm³) of every material the phantoms use.
MATERIALS: dict[str, tuple[str, float]] = {
    "cardboard": ("C6H10O5", 0.10),
    "cotton": ("C6H10O5", 0.30),
    "paper": ("C6H10O5", 0.85),
    "wood": ("C6H10O5", 0.60),
    "polyethylene": ("C2H4", 0.95),
    "pmma": ("C5H8O2", 1.18),
    "pet": ("C10H8O4", 1.38),
    "rubber": ("C5H8", 1.15),
    "leather": ("C5H8NO2", 0.95),
    "water": ("H2O", 1.00),
    "ethanol": ("C2H6O", 0.79),
    "oil": ("C18H34O2", 0.92),
    "sugar": ("C12H22O11", 1.59),
    "aluminium": ("Al", 2.70),
    "glass": ("SiO2", 2.50),
    "fr4": ("SiO2C3H4O", 1.85),
    "silicon": ("Si", 2.33),
    "steel": ("Fe", 7.87),
    "copper": ("Cu", 8.96),
    "brass": ("Cu63Zn37", 8.50),
    "nickel": ("Ni", 8.90),
    "zinc": ("Zn", 7.14),
    "tin": ("Sn", 7.29),
    "lead": ("Pb", 11.35),
    "tungsten": ("W", 19.30),
    "zirconia": ("ZrO2", 6.00),
    "cathode": ("LiCoO2", 3.00),
    "graphite": ("C", 1.60),
    "electrolyte": ("C3H4O3", 1.30),
    "csi": ("CsI", 4.51),
    "gos": ("Gd2O2S", 7.30),
}


class Layer(BaseModel):
    """A slab on the beam path: filter or detector layer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    material: str = Field(description="Key of MATERIALS.")
    mm: float = Field(gt=0.0, description="Thickness, mm.")


class MachineProfile(BaseModel):
    """One X-ray machine: source, filtration, detector, geometry and detector faults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Profile id.")
    description: str = Field("", description="What real machine class it stands for.")
    kind: Literal["effective", "sandwich"] = Field(
        description="Two effective energies, or a polychromatic tube and a two-layer detector."
    )
    low_kev: float = Field(60.0, gt=5.0, description="Effective low energy (effective kind).")
    high_kev: float = Field(100.0, gt=5.0, description="Effective high energy (effective kind).")
    kvp: float = Field(140.0, gt=20.0, le=450.0, description="Tube peak voltage (sandwich).")
    filters: tuple[Layer, ...] = Field((), description="Tube filtration (sandwich).")
    front: Layer | None = Field(None, description="Low-energy detector layer (sandwich).")
    interlayer: Layer | None = Field(None, description="Filter between the layers (sandwich).")
    back: Layer | None = Field(None, description="High-energy detector layer (sandwich).")
    bin_kev: float = Field(4.0, gt=0.5, le=20.0, description="Energy bin width, keV.")
    width_px: int = Field(1024, ge=64, le=4096, description="Detector elements across the belt.")
    height_px: int = Field(640, ge=64, le=8192, description="Scan lines along the belt.")
    pixel_mm: float = Field(0.6, gt=0.05, le=5.0, description="Pixel pitch at the belt, mm.")
    air_counts: tuple[int, int] = Field(
        (60000, 55000), description="Unattenuated counts of the low and high channel."
    )
    photon_gain: tuple[float, float] = Field(
        (2.0, 1.5), description="Noise variance per count of each channel."
    )
    read_noise_counts: float = Field(15.0, ge=0.0, description="Read noise, counts rms.")
    gain_spread: float = Field(0.003, ge=0.0, le=0.1, description="Per-element gain spread.")
    blur_px: float = Field(0.5, ge=0.0, le=5.0, description="Detector blur, Gaussian sigma px.")
    afterglow: tuple[float, float] = Field(
        (0.02, 0.01), description="Share of a line's signal left in the next line, per channel."
    )
    belt_mm: float = Field(4.0, ge=0.0, description="Rubber belt thickness, mm.")


def _mu(material: str, energies_kev: F64) -> F64:
    """Linear attenuation (1/cm) of one material at the given energies (keV)."""
    formula, density = MATERIALS[material]
    return np.asarray(
        xraydb.material_mu(formula, energies_kev * 1000.0, density=density), dtype=np.float64
    )


def _absorbed(layer: Layer, energies: F64) -> F64:
    """Share of photons a layer absorbs per energy."""
    return np.asarray(1.0 - np.exp(-_mu(layer.material, energies) * layer.mm / 10.0))


def _passed(layers: tuple[Layer, ...], energies: F64) -> F64:
    """Share of photons passing a stack of layers per energy."""
    out = np.ones_like(energies)
    for layer in layers:
        out *= np.exp(-_mu(layer.material, energies) * layer.mm / 10.0)
    return out


def channel_weights(profile: MachineProfile) -> tuple[F64, F64, F64]:
    """Return (bin energies keV, low weights, high weights); each weight vector sums to 1.

    Tube output follows Kramers' law (photons ∝ (kVp − E)/E per keV) through the filters; a
    scintillator layer's signal is the energy it absorbs (∝ E × absorbed share). The back
    layer sees what the front layer and the interlayer let through.
    """
    if profile.kind == "effective":
        energies = np.array([profile.low_kev, profile.high_kev])
        return energies, np.array([1.0, 0.0]), np.array([0.0, 1.0])
    if profile.front is None or profile.back is None:
        raise ValueError(f"sandwich profile {profile.name} needs front and back layers")
    energies = np.arange(10.0 + profile.bin_kev / 2, profile.kvp, profile.bin_kev)
    photons = np.clip((profile.kvp - energies) / energies, 0.0, None)
    photons *= _passed(profile.filters, energies)
    low = photons * energies * _absorbed(profile.front, energies)
    through = photons * (1.0 - _absorbed(profile.front, energies))
    if profile.interlayer is not None:
        through *= _passed((profile.interlayer,), energies)
    high = through * energies * _absorbed(profile.back, energies)
    return energies, low / low.sum(), high / high.sum()


@cache
def mu_table(profile: MachineProfile, materials: tuple[str, ...]) -> F32:
    """μ (1/cm) of each material (rows) in each energy bin of the profile (columns)."""
    energies, _, _ = channel_weights(profile)
    return np.vstack([_mu(m, energies) for m in materials]).astype(np.float32)


def transmission(profile: MachineProfile, paths: dict[str, F32]) -> tuple[F32, F32]:
    """Noise-free transmitted share (0..1) of each channel for path lengths in cm per material."""
    names = tuple(sorted(paths))
    shape = next(iter(paths.values())).shape
    if not names:
        raise ValueError("no material on the beam")
    _, w_low, w_high = channel_weights(profile)
    mu = mu_table(profile, names)  # M x B
    stack = np.stack([paths[n].reshape(-1) for n in names], axis=1)  # P x M
    busy = stack.any(axis=1)
    t_low = np.ones(stack.shape[0], np.float32)
    t_high = np.ones(stack.shape[0], np.float32)
    if busy.any():
        expo = np.exp(-(stack[busy] @ mu))  # P' x B
        t_low[busy] = expo @ w_low.astype(np.float32)
        t_high[busy] = expo @ w_high.astype(np.float32)
    return t_low.reshape(shape), t_high.reshape(shape)


def transmission_mixed(
    profile: MachineProfile, paths: dict[str, F32], cover: F32 | None, edge: dict[str, F32]
) -> tuple[F32, F32]:
    """Transmitted share where thin sheets cover part of a pixel: the light is averaged.

    ``cover`` is the share of each pixel under a thin sheet and ``edge`` the sheet's path
    averaged over the pixel (see ``solids.Layers``): the covered share sees
    ``paths + edge / cover``, the rest ``paths`` alone.
    """
    t_low, t_high = transmission(profile, paths)
    if cover is None or not edge:
        return t_low, t_high
    sel = cover > 1e-4
    if not sel.any():
        return t_low, t_high
    share = cover[sel]
    sub = {k: v[sel] for k, v in paths.items()}
    for k, e in edge.items():
        sub[k] = sub[k] + e[sel] / share if k in sub else e[sel] / share
    c_low, c_high = transmission(profile, sub)
    t_low[sel] = (1.0 - share) * t_low[sel] + share * c_low
    t_high[sel] = (1.0 - share) * t_high[sel] + share * c_high
    return t_low, t_high


def _afterglow(plane: F32, share: float) -> F32:
    """Recursive lag along the belt (rows are scan lines): y[r] = (1−a)·x[r] + a·y[r−1]."""
    if share <= 0.0:
        return plane
    out = plane.copy()
    for r in range(1, out.shape[0]):
        out[r] = (1.0 - share) * out[r] + share * out[r - 1]
    return out


def expose(
    profile: MachineProfile,
    paths: dict[str, F32],
    rng: np.random.Generator,
    cover: F32 | None = None,
    edge: dict[str, F32] | None = None,
) -> tuple[npt.NDArray[np.uint16], npt.NDArray[np.uint16]]:
    """Detector counts (low, high) for path lengths (cm per material), with the belt added.

    Applied in order: transmission (thin sheets in ``cover``/``edge`` mixed by light, see
    ``transmission_mixed``), per-element gain, blur, afterglow, photon and read noise,
    rounding to 0..65535. The gain pattern is fixed per profile name (the same machine).
    """
    shape = next(iter(paths.values())).shape
    full = dict(paths)
    belt = np.full(shape, profile.belt_mm / 10.0, np.float32)
    full["rubber"] = full.get("rubber", np.zeros(shape, np.float32)) + belt
    t_low, t_high = transmission_mixed(profile, full, cover, edge or {})
    pattern = np.random.default_rng(list(profile.name.encode()))
    out: list[npt.NDArray[np.uint16]] = []
    for k, t in enumerate((t_low, t_high)):
        gains = np.asarray(1.0 + profile.gain_spread * pattern.standard_normal(shape[1]))
        signal = (t * profile.air_counts[k] * gains[None, :]).astype(np.float32)
        if profile.blur_px > 0:
            signal = cv2.GaussianBlur(signal, (0, 0), profile.blur_px)
        signal = _afterglow(signal, profile.afterglow[k])
        sd = np.sqrt(profile.photon_gain[k] * signal + profile.read_noise_counts**2)
        noisy = signal + sd * rng.standard_normal(shape).astype(np.float32)
        out.append(np.clip(np.rint(noisy), 0, 65535).astype(np.uint16))
    return out[0], out[1]


def load_profiles() -> dict[str, MachineProfile]:
    """The machine profiles shipped in ``machines.json`` (see docs/xray-simulator.md)."""
    text = resources.files("simulators.xray").joinpath("machines.json").read_text("utf-8")
    doc = json.loads(text)
    profiles = [MachineProfile.model_validate(p) for p in doc["profiles"]]
    return {p.name: p for p in profiles}


def profile_split() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(tuning profiles, held-out profiles) as ``machines.json`` marks them."""
    text = resources.files("simulators.xray").joinpath("machines.json").read_text("utf-8")
    doc = json.loads(text)
    return tuple(doc["tuning"]), tuple(doc["held_out"])
