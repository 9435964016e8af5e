"""Settings of every command: the shared ``CLEARLINE_*`` fields, plus logging and test services."""

from __future__ import annotations

from pydantic import Field

from hub.settings import CommonSettings


class Settings(CommonSettings):
    """Process settings; every field can be set as ``CLEARLINE_<NAME>`` in the environment."""

    log_level: str = Field(default="INFO", title="Log level", description="Python log level.")
    require_services: bool = Field(
        default=False,
        title="Require services",
        description="Tests fail instead of skipping when PostgreSQL or Mosquitto is missing.",
    )
