"""Fixtures for the security tests."""

from __future__ import annotations

import pytest

from inspection.rules import RuleSet, parse_rules
from tests.inspection.conftest import RULES_NO_RANDOM


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    """Rules with random selection switched off."""
    return parse_rules(RULES_NO_RANDOM, "test-rules.yaml")
