"""AIM symbology identifiers (ISO/IEC 15424): the ``]Xn`` prefix a scanner puts before a code."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.codes import AIM_PREFIX

#: Symbology named by the code character of an AIM identifier.
SYMBOLOGIES: dict[str, str] = {
    "A": "Code 39",
    "C": "Code 128",
    "E": "EAN/UPC",
    "F": "Codabar",
    "G": "Code 93",
    "I": "Interleaved 2 of 5",
    "J": "DotCode",
    "L": "PDF417",
    "Q": "QR Code",
    "U": "MaxiCode",
    "X": "other",
    "d": "Data Matrix",
    "e": "GS1 DataBar",
    "z": "Aztec",
}


@dataclass(frozen=True, slots=True)
class AimCode:
    """A scanned code split into its AIM identifier (or None) and its data."""

    aim: str | None
    data: str

    @property
    def symbology(self) -> str:
        """Return the symbology name the identifier announces ("unknown" without one)."""
        if self.aim is None:
            return "unknown"
        return SYMBOLOGIES.get(self.aim[1], "unknown")

    def text(self) -> str:
        """Return the code as it was sent, identifier included."""
        return (self.aim or "") + self.data


def split_aim(code: str) -> AimCode:
    """Split ``]C1RR123456785CN`` into ``]C1`` and ``RR123456785CN``; no prefix gives aim None."""
    if AIM_PREFIX.match(code):
        return AimCode(code[:3], code[3:])
    return AimCode(None, code)


def is_aim(prefix: str) -> bool:
    """Return True when ``prefix`` is exactly one well-formed AIM identifier."""
    return len(prefix) == 3 and AIM_PREFIX.match(prefix) is not None
