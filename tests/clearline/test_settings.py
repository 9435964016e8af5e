"""One settings hierarchy: the command's and the hub's settings share the CLEARLINE_* base."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from clearline.settings import Settings
from hub.settings import CommonSettings, HubSettings

SHARED = ("database_url", "mqtt_url", "rules_path")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SHARED:
        monkeypatch.delenv(f"CLEARLINE_{name.upper()}", raising=False)


def test_shared_fields_are_stated_once_with_one_default() -> None:
    assert issubclass(Settings, CommonSettings) and issubclass(HubSettings, CommonSettings)
    for name in SHARED:
        base = CommonSettings.model_fields[name]
        for cls in (Settings, HubSettings):
            field = cls.model_fields[name]
            assert (field.annotation, field.default, field.description) == (
                base.annotation,
                base.default,
                base.description,
            ), (cls.__name__, name)
        assert getattr(Settings(), name) == getattr(HubSettings(), name), name


def test_both_read_the_same_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARLINE_DATABASE_URL", "sqlite:////tmp/one.db")
    monkeypatch.setenv("CLEARLINE_MQTT_URL", "mqtt://broker.example:1884")
    monkeypatch.setenv("CLEARLINE_RULES_PATH", "/etc/clearline/rules.yaml")
    for settings in (Settings(), HubSettings()):
        assert settings.database_url == "sqlite:////tmp/one.db"
        assert settings.mqtt_url == "mqtt://broker.example:1884"
        assert settings.rules_path == "/etc/clearline/rules.yaml"


def test_command_settings_stay_strict() -> None:
    with pytest.raises(ValidationError):
        Settings(no_such_setting=1)  # type: ignore[call-arg]
