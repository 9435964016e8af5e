"""Settings shared by every command: config file values overridden by CLEARLINE_* variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process settings; every field can be set as ``CLEARLINE_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="CLEARLINE_", extra="forbid")

    database_url: str = Field(
        default="sqlite:///var/clearline.db",
        title="Hub database URL",
        description="SQLAlchemy URL: sqlite:///PATH (default) or postgresql+psycopg://...",
    )
    mqtt_url: str = Field(
        default="mqtt://127.0.0.1:1883",
        title="MQTT broker URL",
        description="mqtt://HOST:PORT of the site broker.",
    )
    rules_path: str | None = Field(
        default=None,
        title="Rules file",
        description="Path of the rules YAML; the packaged default rules when unset.",
    )
    log_level: str = Field(default="INFO", title="Log level", description="Python log level.")
    require_services: bool = Field(
        default=False,
        title="Require services",
        description="Tests fail instead of skipping when PostgreSQL or Mosquitto is missing.",
    )
