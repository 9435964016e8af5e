"""Seeded site scenarios: declarations, receipts, each parcel's truth and its expected decision."""

from simulators.scenario.cases import DEFAULT_SHARES, Mix, load_mix
from simulators.scenario.generate import generate
from simulators.scenario.model import (
    Case,
    Expected,
    ParcelTruth,
    Route,
    ScenarioError,
    Summary,
)

__all__ = [
    "DEFAULT_SHARES",
    "Case",
    "Expected",
    "Mix",
    "ParcelTruth",
    "Route",
    "ScenarioError",
    "Summary",
    "generate",
    "load_mix",
]
