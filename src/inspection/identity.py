"""Parcel identity: code normalisation, UPU S10 validation and multi-code resolution."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from contracts.codes import strip_aim
from contracts.reasons import Reason
from inspection.countries import ISO_ALPHA2

_SPACE = re.compile(r"\s+")
#: Anything shaped like an S10 id (2 letters, 9 digits, 2 letters) claims to be one.
_S10_SHAPE = re.compile(r"^[A-Z]{2}\d{9}[A-Z]{2}$")
_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
#: Service indicators whose first letter is reserved by UPU S10 and never issued.
_RESERVED_FIRST = frozenset("JKSTW")

T = TypeVar("T")


def normalise(code: str) -> str:
    """Normalise scanned or filed text for lookup: AIM prefix off, whitespace out, upper case."""
    if code.isalnum():  # no space and no AIM prefix: most codes, at a fraction of the cost
        return code.upper()
    return _SPACE.sub("", strip_aim(code.strip())).upper()


def s10_check_digit(serial: str) -> int:
    """Return the S10 check digit of an 8-digit serial number."""
    if len(serial) != 8 or not serial.isdigit():
        raise ValueError(f"S10 serial must be 8 digits, got {serial!r}")
    c = 11 - sum(int(d) * w for d, w in zip(serial, _WEIGHTS, strict=True)) % 11
    return 0 if c == 10 else 5 if c == 11 else c


def looks_like_s10(code: str) -> bool:
    """Return True when a normalised code has the S10 shape and so claims to be S10."""
    return bool(_S10_SHAPE.match(code))


def s10_problem(code: str) -> str | None:
    """Return why a normalised S10-shaped code is invalid, or None when it is valid."""
    if not looks_like_s10(code):
        return "not 2 letters, 8 digits, a check digit and 2 letters"
    if code[0] in _RESERVED_FIRST:
        return f"service indicator {code[:2]} is reserved"
    if int(code[10]) != s10_check_digit(code[2:10]):
        return "check digit does not match"
    if code[11:] not in ISO_ALPHA2:
        return f"country {code[11:]} is not an ISO 3166 code"
    return None


def is_valid_s10(code: str) -> bool:
    """Return True when ``code`` (normalised or not) is a valid UPU S10 item identifier."""
    return s10_problem(normalise(code)) is None


@dataclass(frozen=True, slots=True)
class Resolution(Generic[T]):
    """What the codes read on one parcel identify: one entry, or the reasons it could not."""

    entry: T | None
    reasons: frozenset[Reason]
    codes: tuple[str, ...]  # normalised, de-duplicated, in read order


def resolve(codes: Sequence[str], lookup: Callable[[str], T | None]) -> Resolution[T]:
    """Resolve the codes read on one parcel through ``lookup`` (normalised code → entry).

    No code gives NO_READ; an S10-shaped code that fails validation gives INVALID_CODE (never
    a lookup miss); codes that resolve to two different entries give MULTI_READ_CONFLICT;
    valid codes that resolve to nothing leave ``entry`` None with no reason (the caller's
    decision adds NOT_DECLARED).
    """
    seen: list[str] = []
    for raw in codes:
        code = normalise(raw)
        if code and code not in seen:
            seen.append(code)
    if not seen:
        return Resolution(None, frozenset({Reason.NO_READ}), ())
    reasons: set[Reason] = set()
    found: list[T] = []
    for code in seen:
        if looks_like_s10(code) and s10_problem(code) is not None:
            reasons.add(Reason.INVALID_CODE)
            continue
        entry = lookup(code)
        if entry is not None and not any(entry is f for f in found):
            found.append(entry)
    if len(found) > 1:
        reasons.add(Reason.MULTI_READ_CONFLICT)
        return Resolution(None, frozenset(reasons), tuple(seen))
    return Resolution(found[0] if found else None, frozenset(reasons), tuple(seen))
