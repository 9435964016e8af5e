"""Tests of code normalisation, S10 validation and multi-code resolution."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.codes import strip_aim
from contracts.reasons import Reason
from inspection.identity import (
    is_valid_s10,
    normalise,
    resolve,
    s10_check_digit,
    s10_problem,
)


@pytest.mark.parametrize(
    ("serial", "digit"),
    [
        ("12345678", 5),
        ("00071759", 5),
        ("00071761", 8),
        ("00071758", 1),
        ("96633102", 0),
        ("76129403", 8),
    ],
)
def test_check_digit_vectors(serial: str, digit: int) -> None:
    """Known S10 serials give their published check digits (10→0 and 11→5 included)."""
    assert s10_check_digit(serial) == digit


@pytest.mark.parametrize(
    "code", ["RR123456785CN", "EB000717595HK", "EB000717618HK", "rr 1234 5678 5cn"]
)
def test_valid_s10(code: str) -> None:
    """Valid ids pass, also with spaces and lower case."""
    assert is_valid_s10(code)


@pytest.mark.parametrize(
    ("code", "why"),
    [("RB123456786US", "check digit"), ("RB123456785XX", "country"), ("JA123456785CN", "reserved")],
)
def test_invalid_s10(code: str, why: str) -> None:
    """Bad check digit, unknown country and reserved service indicators are named."""
    problem = s10_problem(code)
    assert problem is not None and why in problem


def test_normalise_strips_aim_space_and_case() -> None:
    """AIM prefix, whitespace and case are folded before lookup."""
    assert strip_aim("]C1RR123456785CN") == "RR123456785CN"
    assert normalise("  ]C1rr 123456785cn\r\n") == "RR123456785CN"
    assert normalise("]Q3abc") == "ABC"
    assert normalise("]E0 6901234567892") == "6901234567892"


def test_resolution_rules() -> None:
    """No codes, invalid S10, conflicts, misses and agreeing codes resolve as specified."""
    table = {"RR123456785CN": "A", "YT0000000001": "A", "YT0000000002": "B"}
    assert resolve([], table.get).reasons == {Reason.NO_READ}
    assert resolve(["", "  "], table.get).reasons == {Reason.NO_READ}
    bad = resolve(["RR123456786CN"], table.get)
    assert bad.reasons == {Reason.INVALID_CODE} and bad.entry is None
    assert resolve(["]C1RR123456785CN", "yt0000000001"], table.get).entry == "A"
    conflict = resolve(["YT0000000001", "YT0000000002"], table.get)
    assert conflict.reasons == {Reason.MULTI_READ_CONFLICT} and conflict.entry is None
    miss = resolve(["UNKNOWN1"], table.get)
    assert miss.entry is None and miss.reasons == frozenset()
    partial = resolve(["UNKNOWN1", "YT0000000002"], table.get)
    assert partial.entry == "B" and not partial.reasons


@given(st.text(max_size=40))
def test_normalise_never_fails(text: str) -> None:
    """Any text normalises to whitespace-free upper case without raising."""
    out = normalise(text)
    assert not any(ch.isspace() for ch in out)
    assert out == out.upper()


@given(st.integers(min_value=0, max_value=99_999_999))
def test_generated_s10_ids_validate(serial: int) -> None:
    """An id built with the computed check digit always validates."""
    s = f"{serial:08d}"
    assert is_valid_s10(f"RR{s}{s10_check_digit(s)}CN")
