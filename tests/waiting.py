"""Waiting in tests: poll a real condition until it holds, never sleep a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

#: Pause between two polls, seconds: short enough not to slow a test, long enough not to spin.
POLL_S = 0.01


def wait_until(
    condition: Callable[[], object], timeout_s: float = 5.0, what: str | Callable[[], str] = ""
) -> None:
    """Poll ``condition`` until it is truthy; fail the test after ``timeout_s`` seconds.

    ``what`` names the awaited condition in the failure (a callable is evaluated only then,
    e.g. to show the state reached).
    """
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            detail = what() if callable(what) else what
            pytest.fail(f"{detail or 'condition'} not reached in {timeout_s} s")
        time.sleep(POLL_S)
