"""The threat image projection (TIP) library: fictional threats imaged on their own.

Each entry is one threat object (a knife, a gun, ammunition, shielding) projected alone on
a machine profile, with nothing else on the beam, and stored as its noise-free
transmission at the low and the high channel (0..1 scaled to 0..65535 in a stacked 16-bit
PNG, the layout of every X-ray image here). The review station places it into a real
parcel's image by multiplying the parcel's counts by it: transmissions of things one behind
the other multiply, which is Beer–Lambert's law for attenuation (exact for one energy,
close for a spectrum). ``library.json`` lists the entries with their class and size.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from devices.xray_image import DualEnergyImage, encode_png
from simulators.xray.physics import MachineProfile, transmission_mixed
from simulators.xray.solids import project_layers
from simulators.xray.threats import THREATS

log = logging.getLogger(__name__)

#: Library file format version.
LIBRARY_VERSION = 1
#: Threat classes a library holds by default: what an inspector must never let through.
TIP_CLASSES = ("knife", "ceramic_knife", "gun", "ammunition", "lead", "tungsten")
#: Full scale of a stored transmission.
FULL = 65535


def _trim(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut the rows and columns where the object lets everything through."""
    solid = (low < 0.999) | (high < 0.999)
    rows, cols = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
    if not len(rows) or not len(cols):
        return low, high
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return low[r0:r1, c0:c1], high[r0:r1, c0:c1]


def build_library(
    profile: MachineProfile,
    out: Path,
    *,
    per_class: int = 4,
    seed: int = 0,
    classes: tuple[str, ...] = TIP_CLASSES,
) -> list[dict[str, object]]:
    """Image ``per_class`` objects of each class alone on ``profile``; write PNGs and the index."""
    out.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, object]] = []
    for cls in classes:
        builders = THREATS[cls]
        for k in range(per_class):
            rng = np.random.default_rng([seed, k, len(items)])
            thing = builders[k % len(builders)](rng)
            maps = project_layers(thing.parts, thing.tilt_deg, profile.pixel_mm)
            t_low, t_high = _trim(*transmission_mixed(profile, maps.paths, maps.cover, maps.edge))
            image = DualEnergyImage(
                low=np.rint(np.clip(t_low, 0, 1) * FULL).astype(np.uint16),
                high=np.rint(np.clip(t_high, 0, 1) * FULL).astype(np.uint16),
            )
            name = f"{cls}-{k:03d}.png"
            (out / name).write_bytes(encode_png(image, 6))
            h, w = t_low.shape
            items.append(
                {"file": name, "threat": cls, "object": thing.cls, "width": w, "height": h}
            )
    index = {
        "version": LIBRARY_VERSION,
        "machine": profile.name,
        "pixel_mm": profile.pixel_mm,
        "items": items,
    }
    (out / "library.json").write_text(json.dumps(index, indent=1) + "\n", "utf-8")
    log.info("TIP library of %d threat images for %s in %s", len(items), profile.name, out)
    return items
