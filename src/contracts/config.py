"""The one strict base of every configuration model: unknown keys refused, values frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigModel(BaseModel):
    """Base of every configuration model: ``extra="forbid"`` and frozen.

    A key the model does not know is an error (a typo is never silently ignored), and a
    loaded configuration cannot be changed in place; derive a changed copy with
    ``model_copy(update=...)``. A model that must read only part of a larger file may
    relax ``extra`` for itself and say why.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
