"""The strict configuration base: unknown keys refused, values frozen, subclasses inherit it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts.config import ConfigModel
from devices.profiles import SerialSettings
from inspection.rules_model import RulesFile
from sorting.chutes import ChutePlan


class _Example(ConfigModel):
    timeout_ms: int = 100


def test_unknown_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="timeout_s"):
        _Example.model_validate({"timeout_s": 1})


def test_loaded_config_cannot_change() -> None:
    cfg = _Example(timeout_ms=5)
    with pytest.raises(ValidationError):
        cfg.timeout_ms = 6  # type: ignore[misc]
    assert cfg.model_copy(update={"timeout_ms": 6}).timeout_ms == 6


@pytest.mark.parametrize("model", [SerialSettings, RulesFile, ChutePlan])
def test_project_configs_inherit_the_base(model: type[ConfigModel]) -> None:
    assert issubclass(model, ConfigModel)
    assert model.model_config.get("extra") == "forbid"
