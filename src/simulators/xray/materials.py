"""Materials of the X-ray synthesis: density and mass attenuation at the two effective energies.

Mass attenuation coefficients (cm²/g) are rounded values of the photo-electric + Compton +
coherent totals tabulated for these compositions (NIST XCOM style tables) at the effective
energies of a typical parcel scanner: about 60 keV behind the low-energy detector and about
100 keV behind the copper-filtered high-energy detector. Composite materials (circuit boards,
lithium-ion cells) are mass-weighted averages of their parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

#: Effective photon energies of the two channels, keV.
LOW_ENERGY_KEV = 60.0
HIGH_ENERGY_KEV = 100.0


class MaterialClass(StrEnum):
    """The reviewer's colour classes (orange, green, blue, black)."""

    ORGANIC = "organic"
    MIXED = "mixed"
    METAL = "metal"
    HEAVY = "heavy"


@dataclass(frozen=True, slots=True)
class Material:
    """One material: density g/cm³ and mass attenuation cm²/g at the low and high energy."""

    name: str
    density_g_cm3: float
    mu_low_cm2_g: float
    mu_high_cm2_g: float
    klass: MaterialClass

    @property
    def linear_low_per_cm(self) -> float:
        """Linear attenuation μ·ρ at the low energy, 1/cm."""
        return self.mu_low_cm2_g * self.density_g_cm3

    @property
    def linear_high_per_cm(self) -> float:
        """Linear attenuation μ·ρ at the high energy, 1/cm."""
        return self.mu_high_cm2_g * self.density_g_cm3

    @property
    def ratio(self) -> float:
        """Low/high attenuation ratio ln(I0/I_low) / ln(I0/I_high); rises with atomic number."""
        return self.mu_low_cm2_g / self.mu_high_cm2_g


def _m(name: str, rho: float, mu_lo: float, mu_hi: float, klass: MaterialClass) -> Material:
    """Shorthand constructor for the table below."""
    return Material(name, rho, mu_lo, mu_hi, klass)


_O, _X = MaterialClass.ORGANIC, MaterialClass.MIXED
_M, _H = MaterialClass.METAL, MaterialClass.HEAVY

#: Every material the generator knows, by name.
MATERIALS: dict[str, Material] = {
    m.name: m
    for m in (
        _m("cardboard", 0.08, 0.197, 0.164, _O),  # corrugated board, mostly air
        _m("belt_rubber", 1.10, 0.205, 0.168, _O),
        _m("cotton", 0.25, 0.197, 0.164, _O),  # folded textiles with air between layers
        _m("paper", 0.80, 0.197, 0.164, _O),
        _m("polyethylene", 0.95, 0.194, 0.166, _O),
        _m("water", 1.00, 0.206, 0.171, _O),
        _m("rubber", 1.15, 0.205, 0.168, _O),
        _m("aluminium", 2.70, 0.278, 0.170, _X),
        _m("glass", 2.50, 0.300, 0.175, _X),
        _m("pcb", 1.85, 0.350, 0.190, _X),  # FR-4 glass-epoxy with copper traces
        _m("li_ion", 2.70, 0.550, 0.230, _M),  # steel can, Cu/Al foils, graphite, LiCoO2
        _m("steel", 7.87, 1.205, 0.372, _M),
        _m("copper", 8.96, 1.593, 0.458, _M),
        _m("lead", 11.35, 5.021, 5.549, _H),  # K edge at 88 keV: opaque at both energies
    )
}


def material(name: str) -> Material:
    """Return the named material; raise KeyError listing the known names."""
    try:
        return MATERIALS[name]
    except KeyError:
        raise KeyError(f"unknown material {name!r}; known: {', '.join(MATERIALS)}") from None
