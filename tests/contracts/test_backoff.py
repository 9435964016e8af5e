"""The capped back-off: doubling delays, the cap, reset and refused bounds."""

from __future__ import annotations

import math

import pytest

from contracts.backoff import Backoff


def test_delays_double_up_to_the_cap() -> None:
    b = Backoff(0.5, 3.0)
    assert [b.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_reset_starts_again() -> None:
    b = Backoff(0.1, 10.0, factor=3.0)
    assert [b.next_delay() for _ in range(3)] == pytest.approx([0.1, 0.3, 0.9])
    b.reset()
    assert b.current_s == 0.1
    assert b.next_delay() == 0.1


@pytest.mark.parametrize(
    ("initial", "cap", "factor"),
    [
        (0.0, 1.0, 2.0),
        (-1.0, 1.0, 2.0),
        (2.0, 1.0, 2.0),
        (1.0, math.inf, 2.0),
        (math.nan, 1.0, 2.0),
        (1.0, 2.0, 0.5),
    ],
)
def test_bad_bounds_are_refused(initial: float, cap: float, factor: float) -> None:
    with pytest.raises(ValueError, match="back-off"):
        Backoff(initial, cap, factor)
