"""Tests of rules loading: validation errors name file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from inspection.rules import RulesError, load_rules, parse_rules
from inspection.rules_model import Grade


def test_default_rules_load() -> None:
    """The packaged rules load and compile."""
    r = load_rules()
    assert r.version and r.goods_pattern is not None
    assert "93" in r.prohibited_prefixes
    assert r.grade_of("4403960666") is Grade.DISHONEST
    assert r.grade_of("unknown") is Grade.GENERAL


def test_error_names_file_line_and_key(tmp_path: Path) -> None:
    """A wrong value is reported with the file, its line and the dotted key."""
    p = tmp_path / "site-rules.yaml"
    p.write_text('version: "x"\nseed: "s"\nweight:\n  abs_g: -5\n  rel: 0.1\n', encoding="utf-8")
    with pytest.raises(RulesError) as err:
        load_rules(p)
    assert f"{p}:4: weight.abs_g:" in str(err.value)


def test_unknown_key_is_refused() -> None:
    """A misspelt key is an error (extra keys are forbidden), with its line."""
    text = 'version: "x"\nseed: "s"\nweight: {abs_g: 1, rel: 0.1}\nlimits:\n  per_transaction: 5\n'
    with pytest.raises(RulesError) as err:
        parse_rules(text, "r.yaml")
    assert "r.yaml:5: limits.per_transaction:" in str(err.value)


def test_missing_key_and_bad_chapter() -> None:
    """A missing required key and a malformed HS chapter are both reported."""
    text = (
        'seed: "s"\nweight:\n  abs_g: 1\n  rel: 0.1\n'
        '  by_hs_chapter:\n    "7": {abs_g: 1, rel: 0}\n'
    )
    with pytest.raises(RulesError) as err:
        parse_rules(text, "r.yaml")
    msg = str(err.value)
    assert "version" in msg and "two digits" in msg


def test_yaml_syntax_error_has_line() -> None:
    """Broken YAML is reported with its line."""
    with pytest.raises(RulesError, match=r"r.yaml:3: not valid YAML"):
        parse_rules('version: "x"\nseed: s\nweight: {abs_g: 1]\nmore: 2\n', "r.yaml")


def test_rate_out_of_range() -> None:
    """Random-selection rates must be probabilities."""
    text = (
        'version: "x"\nseed: s\nweight: {abs_g: 1, rel: 0.1}\n'
        "random_selection:\n  rates: {general: 2}\n"
    )
    with pytest.raises(RulesError, match=r"random_selection\.rates"):
        parse_rules(text, "r.yaml")


def test_missing_file_is_clear(tmp_path: Path) -> None:
    """A rules path that does not exist says so."""
    with pytest.raises(RulesError, match="cannot read rules file"):
        load_rules(tmp_path / "nope.yaml")
