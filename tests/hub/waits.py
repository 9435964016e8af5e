"""Waiting in hub tests: poll a condition until it holds, never sleep a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

#: How long a hub test waits for something to happen over MQTT or a thread, in seconds.
WAIT_S = 15.0
#: Pause between two looks at the condition, in seconds.
POLL_S = 0.02


def until(pred: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    """Return once ``pred()`` holds; fail the test naming ``what`` after ``timeout_s``."""
    if not holds_within(pred, timeout_s):
        pytest.fail(f"timed out waiting for {what}")


def holds_within(pred: Callable[[], bool], timeout_s: float) -> bool:
    """Whether ``pred()`` comes to hold within ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


def poke_until(
    poke: Callable[[], object],
    pred: Callable[[], bool],
    what: str,
    timeout_s: float = WAIT_S,
    every_s: float = 0.3,
) -> None:
    """Call ``poke()``, give ``pred()`` ``every_s`` seconds to hold, and repeat until it does.

    For a subscription that is live only a while after it is made: send a probe again and
    again until one is heard. Fails the test naming ``what`` after ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        poke()
        if holds_within(pred, every_s):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
