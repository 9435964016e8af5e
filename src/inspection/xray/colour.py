"""Review-station rendering: pseudo-colour with per-vendor palettes and the display transforms.

Every function is pure and returns an 8-bit RGB array (H x W x 3, uint8) from the two
attenuation planes (``−ln(I/I0)``, dimensionless). The colour says the material class,
the brightness the attenuation: thin matter is a light tint, thick matter a deep shade.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from pydantic import Field

from contracts.config import ConfigModel
from inspection.xray.image import XrayImageError
from inspection.xray.materials import MaterialClass, MaterialConfig, classify

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]
RGB = tuple[int, int, int]

_LEVELS = 256  # attenuation steps of the colour tables


class Palette(ConfigModel):
    """One vendor's material colours (RGB 0..255) and how deep they shade with attenuation."""

    name: str = Field(description="Palette name shown to the inspector.")
    background: RGB = Field((255, 255, 255), description="Belt and air.")
    organic: RGB = Field((240, 140, 20), description="Organic matter (Z ≤ 10).")
    mixed: RGB = Field((40, 170, 60), description="Mixed and light inorganic matter.")
    metal: RGB = Field((30, 80, 220), description="Metal (heavy inorganic matter).")
    impenetrable: RGB = Field((0, 0, 0), description="Where nothing gets through.")
    full_colour_high: float = Field(
        0.8, gt=0.0, description="High-energy attenuation at which the colour is fully laid on."
    )
    darkest_high: float = Field(
        6.0, gt=0.0, description="High-energy attenuation at which the colour is darkest."
    )
    darkest: float = Field(
        0.25, ge=0.0, le=1.0, description="Brightness left at ``darkest_high`` (0 = black)."
    )

    def colour_of(self, klass: MaterialClass) -> RGB:
        """The palette colour of a material class."""
        return {
            MaterialClass.BACKGROUND: self.background,
            MaterialClass.ORGANIC: self.organic,
            MaterialClass.MIXED: self.mixed,
            MaterialClass.METAL: self.metal,
            MaterialClass.IMPENETRABLE: self.impenetrable,
        }[klass]


#: Built-in vendor palettes by name.
PALETTES: dict[str, Palette] = {
    "standard": Palette(name="standard"),
    "red_impenetrable": Palette(name="red_impenetrable", impenetrable=(200, 0, 0)),
    "dark_metal": Palette(name="dark_metal", metal=(20, 20, 60), darkest=0.1),
}


def palette_named(name: str) -> Palette:
    """Return a built-in palette; raise XrayImageError listing the known names."""
    try:
        return PALETTES[name]
    except KeyError:
        raise XrayImageError(f"unknown palette {name!r}; known: {', '.join(PALETTES)}") from None


def _tables(palette: Palette) -> npt.NDArray[np.uint8]:
    """Colour per (class, attenuation step): white → colour → darkened colour."""
    steps = np.linspace(0.0, palette.darkest_high, _LEVELS, dtype=np.float64)
    lay = np.clip(steps / palette.full_colour_high, 0.0, 1.0)[:, None]
    span = max(palette.darkest_high - palette.full_colour_high, 1e-6)
    dark = np.clip((steps - palette.full_colour_high) / span, 0.0, 1.0)[:, None]
    shade = 1.0 - (1.0 - palette.darkest) * dark
    out = np.zeros((len(MaterialClass), _LEVELS, 3), np.uint8)
    white = np.array([255.0, 255.0, 255.0])
    for klass in MaterialClass:
        colour = np.array(palette.colour_of(klass), np.float64)
        if klass in (MaterialClass.BACKGROUND, MaterialClass.IMPENETRABLE):
            out[klass] = np.broadcast_to(colour, (_LEVELS, 3)).astype(np.uint8)
            continue
        rgb = (white * (1.0 - lay) + colour * lay) * shade
        out[klass] = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return out


def _steps(high: F32, palette: Palette) -> npt.NDArray[np.intp]:
    """Attenuation step index per pixel."""
    scaled = np.clip(high / np.float32(palette.darkest_high), 0.0, 1.0) * (_LEVELS - 1)
    return np.asarray(np.rint(scaled), dtype=np.intp)


def _grey_level(high: F32, top: float) -> U8:
    """8-bit grey: white for no attenuation, black at ``top`` and above."""
    v = 255.0 * (1.0 - np.clip(high / np.float32(top), 0.0, 1.0))
    return np.asarray(np.rint(v), dtype=np.uint8)


def _rgb(grey: U8) -> U8:
    """Grey plane as an H x W x 3 RGB array."""
    return np.repeat(grey[:, :, None], 3, axis=2)


def pseudo_colour(
    low: F32,
    high: F32,
    palette: Palette | None = None,
    materials: MaterialConfig | None = None,
) -> U8:
    """The standard view: material colour by class, shaded by high-energy attenuation."""
    pal = palette or PALETTES["standard"]
    classes = classify(low, high, materials or MaterialConfig())
    return np.asarray(_tables(pal)[classes, _steps(high, pal)], dtype=np.uint8)


def grey(low: F32, high: F32, top_high: float = 6.0) -> U8:
    """Black-and-white view of the high-energy image (black at ``top_high`` attenuation)."""
    del low
    return _rgb(_grey_level(high, top_high))


def _only(
    low: F32,
    high: F32,
    keep: tuple[MaterialClass, ...],
    palette: Palette | None,
    materials: MaterialConfig | None,
) -> U8:
    """Pseudo-colour of the kept classes; everything else drawn as faint grey."""
    pal = palette or PALETTES["standard"]
    classes = classify(low, high, materials or MaterialConfig())
    out = pseudo_colour(low, high, pal, materials)
    faint = _rgb((255 - (255 - _grey_level(high, pal.darkest_high)) // 4).astype(np.uint8))
    drop = ~np.isin(classes, [int(k) for k in keep])
    out[drop] = faint[drop]
    return out


def organic_only(
    low: F32,
    high: F32,
    palette: Palette | None = None,
    materials: MaterialConfig | None = None,
) -> U8:
    """Organic stripping: only organic matter in colour, the rest faint grey."""
    return _only(low, high, (MaterialClass.ORGANIC,), palette, materials)


def inorganic_only(
    low: F32,
    high: F32,
    palette: Palette | None = None,
    materials: MaterialConfig | None = None,
) -> U8:
    """Inorganic stripping: mixed, metal and impenetrable in colour, organics faint grey."""
    keep = (MaterialClass.MIXED, MaterialClass.METAL, MaterialClass.IMPENETRABLE)
    return _only(low, high, keep, palette, materials)


def high_density(
    low: F32,
    high: F32,
    min_high: float = 2.0,
    colour: RGB = (255, 0, 255),
) -> U8:
    """Grey view with every pixel of high-energy attenuation ≥ ``min_high`` in ``colour``."""
    out = grey(low, high)
    out[high >= np.float32(min_high)] = np.array(colour, np.uint8)
    return out


def contrast_stretch(low: F32, high: F32, lo_pct: float = 1.0, hi_pct: float = 99.0) -> U8:
    """Grey view stretched between two percentiles of the non-background attenuation."""
    del low
    if not 0.0 <= lo_pct < hi_pct <= 100.0:
        raise XrayImageError(
            f"percentiles must satisfy 0 <= lo < hi <= 100, got {lo_pct}, {hi_pct}"
        )
    obj = high[high > np.float32(0.1)]
    if obj.size == 0:
        return grey(high, high)
    a, b = (float(v) for v in np.percentile(obj, [lo_pct, hi_pct]))
    span = max(b - a, 1e-3)
    v = 255.0 * (1.0 - np.clip((high - np.float32(a)) / np.float32(span), 0.0, 1.0))
    return _rgb(np.rint(v).astype(np.uint8))


def invert(rgb: U8) -> U8:
    """Negative of any 8-bit RGB view."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise XrayImageError(f"invert needs an H x W x 3 uint8 array, got {rgb.dtype} {rgb.shape}")
    return np.asarray(255 - rgb, dtype=np.uint8)


View = Callable[[F32, F32], U8]

#: The review station's one-key views by name (each takes low, high attenuation).
VIEWS: dict[str, View] = {
    "standard": pseudo_colour,
    "grey": grey,
    "organic_only": organic_only,
    "inorganic_only": inorganic_only,
    "high_density": high_density,
    "contrast_stretch": contrast_stretch,
    "invert": lambda lo, hi: invert(pseudo_colour(lo, hi)),
}
