"""Per-machine calibration from step-wedge images: flat field and the material curves.

A step wedge is one material (organic = PMMA, aluminium, steel, lead) in steps of known
thickness along the belt with air between them. From each machine's wedge images the
calibration keeps the air level of every detector element (flat field) and, per material,
the measured (thickness, A_low, A_high) of each step. The material map then places every
pixel between the three measured curves instead of on fixed thresholds, so it follows
whatever spectrum, filtration and detector the machine has.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from inspection.xray.blur import line_spread_px, runs

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
U16 = npt.NDArray[np.uint16]

#: Base materials of the z scale (0, 1, 2), in the order of their atomic number.
BASES = ("organic", "aluminium", "steel")

#: The high-Z wedge: where lead reads on this machine (its K-edge moves it from machine to
#: machine: below organic, among the bases, or beyond steel).
HIGH_Z = "lead"

#: Every wedge a calibration is made from.
WEDGE_MATERIALS = (*BASES, HIGH_Z)

#: The Clearline standard wedge's step thicknesses, mm (see docs/xray-calibration.md).
STANDARD_STEPS_MM: dict[str, tuple[float, ...]] = {
    "organic": (5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 240.0),
    "aluminium": (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 48.0),
    "steel": (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 12.0),
    "lead": (0.05, 0.1, 0.2, 0.4, 0.8),
}

#: File format version: 2 added the lead wedge, 3 the line spread.
VERSION = 3


#: Low-energy attenuation above which a step's low channel is too dark to measure (0.1 %).
LOW_FLOOR = 6.9


class CalibrationError(ValueError):
    """Wedge images that cannot be turned into a calibration, and why."""


class Step(BaseModel):
    """One measured wedge step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mm: float = Field(gt=0.0, description="Step thickness, mm.")
    a_low: float = Field(description="Low-energy attenuation −ln(I/I0) of the step.")
    a_high: float = Field(gt=0.0, description="High-energy attenuation of the step.")


#: Step tables built so far, by the identity of the steps they were built from (each entry
#: keeps its steps alive, so an identity is not reused while it is cached).
_TABLES: dict[int, tuple[tuple[Step, ...], tuple[F32, F32, F32]]] = {}


def _table(steps: tuple[Step, ...]) -> tuple[F32, F32, F32]:
    """(A_high, ratio, mm) of steps as read-only arrays (``Calibration.table``)."""
    hi = np.array([s.a_high for s in steps], np.float32)
    ratio = np.array([s.a_low / s.a_high for s in steps], np.float32)
    mm = np.array([s.mm for s in steps], np.float32)
    for a in (hi, ratio, mm):
        a.flags.writeable = False
    return hi, ratio, mm


class Calibration(BaseModel):
    """What the pre-screen needs to know of one machine (file format version 2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(VERSION, description="File format version.")
    machine: str = Field(min_length=1, description="Machine (profile or device) id.")
    width_px: int = Field(ge=8, description="Detector elements across the belt.")
    air_low: tuple[float, ...] = Field(description="Air counts of each low-energy element.")
    air_high: tuple[float, ...] = Field(description="Air counts of each high-energy element.")
    curves: dict[str, tuple[Step, ...]] = Field(description="Measured steps per wedge material.")
    line_spread_px: float = Field(
        gt=0.0,
        description="The machine's line spread √(2π)·σ of its blur, px, from the wedges' edges "
        "(``blur.line_spread_px``).",
    )

    @model_validator(mode="before")
    @classmethod
    def _current(cls, data: object) -> object:
        """Refuse a file of another version before reading its fields."""
        version = data.get("version", VERSION) if isinstance(data, dict) else VERSION
        if version != VERSION:
            raise ValueError(
                f"calibration file version {version} is not {VERSION} (version 1 has no "
                "lead wedge, version 2 no line spread): image the four wedges and run "
                "`clearline xray calibrate` again"
            )
        return data

    @model_validator(mode="after")
    def _complete(self) -> Calibration:
        """Refuse a calibration without every wedge or with a wrong flat field."""
        for name in WEDGE_MATERIALS:
            steps = self.curves.get(name, ())
            least = 2 if name == HIGH_Z else 3
            if len(steps) < least:
                raise ValueError(
                    f"calibration needs at least {least} {name} steps, got {len(steps)}"
                )
            highs = [s.a_high for s in steps]
            if any(b <= a for a, b in itertools.pairwise(highs)):
                raise ValueError(f"{name} steps must attenuate more as they thicken: {highs}")
        if len(self.air_low) != self.width_px or len(self.air_high) != self.width_px:
            raise ValueError("air levels must hold one value per detector element")
        return self

    def table(self, base: str) -> tuple[F32, F32, F32]:
        """(A_high, ratio, mm) of a base material's steps, A_high rising (read-only arrays)."""
        steps = self.curves[base]
        hit = _TABLES.get(id(steps))
        if hit is None or hit[0] is not steps:
            if len(_TABLES) >= 256:
                _TABLES.clear()
            hit = (steps, _table(steps))
            _TABLES[id(steps)] = hit
        return hit[1]

    def ratios_at(self, a_high: F32 | F64) -> tuple[F64, F64, F64]:
        """The organic, aluminium and steel curves' ratios at each ``A_high``."""
        (ho, ro, _), (ha, ra, _), (hf, rf, _) = (self.table(b) for b in BASES)
        return np.interp(a_high, ho, ro), np.interp(a_high, ha, ra), np.interp(a_high, hf, rf)

    def z_of(self, ratio: F32, a_high: F32) -> F32:
        """Place ratios on the z scale at their A_high: organic 0, aluminium 1, steel 2."""
        return z_between(ratio, *self.ratios_at(a_high))

    def lead_z(self) -> tuple[F32, F32]:
        """(A_high, z) of the lead steps, A_high rising: where lead reads on this machine."""
        hi, ratio, _ = self.table(HIGH_Z)
        return hi, self.z_of(ratio, hi)

    def lead_z_at(self, a_high: F32) -> F32:
        """Where lead reads (z) at each ``A_high``, from the lead steps (flat beyond them)."""
        hi, z = self.lead_z()
        return np.interp(a_high, hi, z).astype(np.float32)

    def lead_blind(self, min_z: float) -> tuple[float, float] | None:
        """The A_high span where lead reads within ``min_z`` of organic, or None.

        There the machine cannot tell lead from organic matter by its two energies.
        """
        hi, z = self.lead_z()
        close = np.abs(z) < min_z
        if not close.any():
            return None
        return float(hi[close].min()), float(hi[close].max())

    def save(self, path: Path) -> None:
        """Write the calibration as JSON."""
        path.write_text(self.model_dump_json(indent=1) + "\n", "utf-8")

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """Read a calibration file."""
        return cls.model_validate(json.loads(path.read_text("utf-8")))


def flat_field(low: U16, high: U16) -> tuple[F32, F32]:
    """Air counts per detector element: the upper quartile of each column of a wedge image."""
    return (
        np.percentile(low.astype(np.float32), 90, axis=0).astype(np.float32),
        np.percentile(high.astype(np.float32), 90, axis=0).astype(np.float32),
    )


def _plateaus(profile: F32, level: float) -> list[tuple[int, int]]:
    """Runs of rows whose attenuation exceeds ``level``, each trimmed by a quarter at both ends."""
    return [
        (start + (end - start) // 4, end - (end - start) // 4)
        for start, end in runs(profile > level)
        if end - start >= 4
    ]


def measure_steps(
    low: U16, high: U16, air: tuple[F32, F32], steps_mm: tuple[float, ...]
) -> tuple[Step, ...]:
    """Find the wedge's steps along the belt and measure their median attenuation.

    The wedge lies across the middle of the belt; rows whose median high-energy attenuation
    over the middle third of the detector is clearly above air are steps, in belt order.
    Raise CalibrationError when the number of steps found differs from ``steps_mm``.
    """
    w = low.shape[1]
    cols = slice(w // 3, 2 * w // 3)
    a_low = np.log(air[0][None, cols] / np.maximum(low[:, cols].astype(np.float32), 1.0))
    a_high = np.log(air[1][None, cols] / np.maximum(high[:, cols].astype(np.float32), 1.0))
    prof = np.median(a_high, axis=1).astype(np.float32)
    runs = _plateaus(prof, 0.02)
    if len(runs) != len(steps_mm):
        raise CalibrationError(
            f"found {len(runs)} wedge steps along the belt, expected {len(steps_mm)} "
            f"({', '.join(f'{s:g}' for s in steps_mm)} mm)"
        )
    found = [
        Step(
            mm=mm,
            a_low=float(np.median(a_low[r0:r1])),
            a_high=float(np.median(a_high[r0:r1])),
        )
        for mm, (r0, r1) in zip(steps_mm, runs, strict=True)
    ]
    # A step whose low channel sits at the detector's noise floor gives no ratio: left out.
    out = [s for s in found if s.a_low < LOW_FLOOR]
    return tuple(sorted(out, key=lambda s: s.mm))


def calibrate(
    machine: str,
    wedges: dict[str, tuple[U16, U16]],
    steps_mm: dict[str, tuple[float, ...]] | None = None,
) -> Calibration:
    """Fit a calibration from (low, high) count images of the four wedges (``WEDGE_MATERIALS``)."""
    steps = steps_mm or STANDARD_STEPS_MM
    missing = [b for b in WEDGE_MATERIALS if b not in wedges]
    if missing:
        raise CalibrationError(f"wedge images missing for {missing}")
    widths = {v[0].shape[1] for v in wedges.values()}
    if len(widths) != 1:
        raise CalibrationError(f"wedge images differ in width: {sorted(widths)}")
    airs = [flat_field(*wedges[b]) for b in WEDGE_MATERIALS]
    air_low = np.median(np.stack([a[0] for a in airs]), axis=0)
    air_high = np.median(np.stack([a[1] for a in airs]), axis=0)
    curves = {b: measure_steps(*wedges[b], (air_low, air_high), steps[b]) for b in WEDGE_MATERIALS}
    spread = line_spread_px([(wedges[b][1], air_high) for b in WEDGE_MATERIALS])
    if spread is None:
        raise CalibrationError("no edge of a wedge step could be read to measure the blur")
    try:
        return Calibration(
            machine=machine,
            width_px=int(widths.pop()),
            air_low=tuple(float(round(v, 1)) for v in air_low),
            air_high=tuple(float(round(v, 1)) for v in air_high),
            curves=curves,
            line_spread_px=spread,
        )
    except ValueError as err:
        raise CalibrationError(str(err)) from err


def z_between(ratio: F32, r_o: F64, r_a: F64, r_f: F64) -> F32:
    """Place ratios on the z scale between the curves' ratios at their A_high."""
    z = ratio.astype(np.float64)
    below = z <= r_a  # between organic and aluminium, else beyond aluminium
    start, end = np.where(below, r_o, r_a), np.where(below, r_a, r_f)
    end -= start
    z -= start
    z /= np.maximum(end, 1e-3, out=end)
    np.add(z, 1.0, out=z, where=~below)
    return z.astype(np.float32)
