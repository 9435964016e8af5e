"""Fixtures of the X-ray pre-screen tests."""

from __future__ import annotations

import pytest

from simulators.xray import XrayGenerator

from .scans import SMALL


@pytest.fixture(scope="session")
def gen() -> XrayGenerator:
    """One small simulated machine for every test."""
    return XrayGenerator(SMALL)
