"""Fixtures for the customs-domain tests."""

from __future__ import annotations

import pytest

from inspection.rules import RuleSet, load_rules, parse_rules

RULES_NO_RANDOM = """
version: "test-1"
seed: "test-seed"
weight: {abs_g: 50, rel: 0.10, by_hs_chapter: {"71": {abs_g: 10, rel: 0.02}}}
prohibited: {hs_prefixes: ["93"], keywords: [枪支, gun]}
restricted: {hs_prefixes: ["0106"], keywords: [匕首, dagger]}
enterprises: {default_grade: general, grades: {"4403960666": dishonest}}
random_selection: {rates: {advanced: 0.0, general: 0.0, dishonest: 0.0}}
"""


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    """Rules with random selection switched off, so every other reason is deterministic."""
    return parse_rules(RULES_NO_RANDOM, "test-rules.yaml")


@pytest.fixture(scope="session")
def default_rules() -> RuleSet:
    """The packaged default rules."""
    return load_rules()
