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
