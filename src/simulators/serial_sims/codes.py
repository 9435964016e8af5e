"""Codes the scanner simulators read: UPU S10 item ids by default, or a file of codes."""

from __future__ import annotations

from pathlib import Path

_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def s10(service: str, serial_number: int, country: str) -> str:
    """Return a UPU S10 id with its check digit, e.g. ``s10("RR", 12345678, "CN")``."""
    if not 0 <= serial_number <= 99_999_999:
        raise ValueError("S10 serial number is 8 digits")
    digits = f"{serial_number:08d}"
    check = 11 - sum(int(d) * w for d, w in zip(digits, _S10_WEIGHTS, strict=True)) % 11
    check = {10: 0, 11: 5}.get(check, check)
    return f"{service}{digits}{check}{country}"


#: A few valid S10 ids (registered, EMS, e-commerce parcel) the simulators read by default.
DEFAULT_CODES: tuple[str, ...] = tuple(
    s10(service, number, country)
    for service, number, country in (
        ("RR", 12345678, "CN"),
        ("EE", 47312482, "CN"),
        ("HA", 10000001, "CN"),
        ("CP", 20000002, "DE"),
        ("UA", 30000003, "FR"),
    )
)


def read_codes_file(path: Path) -> tuple[str, ...]:
    """Read one code per line, skipping blank lines and ``#`` comments; ValueError if none."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: cannot read codes: {err}") from err
    codes = tuple(s for s in (line.strip() for line in lines) if s and not s.startswith("#"))
    if not codes:
        raise ValueError(f"{path}: no codes in file")
    for number, code in enumerate(codes, 1):
        if not code.isascii() or not code.isprintable() or any(c in code for c in ";,"):
            raise ValueError(
                f"{path}: code #{number} {code!r} has a character a scanner can't send"
            )
    return codes


class CodeCycle:
    """The codes a scanner reads in turn; under the stuck-value fault, the first one forever."""

    def __init__(self, codes: tuple[str, ...]) -> None:
        """Cycle through ``codes`` (at least one)."""
        if not codes:
            raise ValueError("a scanner needs at least one code")
        self.codes = codes
        self._index = 0
        self._stuck: str | None = None

    def next(self, stuck: bool = False) -> str:
        """Return the next code; with ``stuck`` the code returned stays for every later read."""
        if self._stuck is not None:
            return self._stuck
        code = self.codes[self._index % len(self.codes)]
        self._index += 1
        if stuck:
            self._stuck = code
        return code
