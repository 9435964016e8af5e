"""The shared YAML configuration helper names file, line and key."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.yamlconf import describe, line_of, read_yaml


class _A(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["a"]
    size_mm: int


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[_A] = Field(default_factory=list)


TEXT = "items:\n  - kind: a\n    size_mm: 3\n  - kind: a\n    size_mm: big\n"


def test_errors_name_line_and_key() -> None:
    """A bad value deep in a list is reported with its own line."""
    data, root = read_yaml(TEXT, "f.yaml", ValueError)
    with pytest.raises(ValidationError) as err:
        _File.model_validate(data)
    assert describe(err.value, root, "f.yaml") == [
        "f.yaml:5: items.1.size_mm: Input should be a valid integer, unable to parse string as "
        "an integer"
    ]


def test_line_of_missing_key_is_parent() -> None:
    """A key that is not in the file points at its nearest parent."""
    _, root = read_yaml(TEXT, "f.yaml", ValueError)
    assert line_of(root, ("items", 1, "colour")) == 4


def test_bad_yaml_raises_the_callers_error() -> None:
    """Broken YAML raises the caller's error type with the line."""

    class SiteError(RuntimeError):
        """A caller's own error type."""

    with pytest.raises(SiteError, match=r"f.yaml:2: not valid YAML"):
        read_yaml("a: 1\nb: {x: 1]\n", "f.yaml", SiteError)
