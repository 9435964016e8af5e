"""The case mix: default shares, how many parcels each case gets, and their induction order."""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator

from contracts.config import ConfigModel
from simulators.scenario.model import Case, ScenarioError

#: Default share of parcels per case; ``released`` (clean releases) takes about 60 %.
DEFAULT_SHARES: dict[Case, float] = {
    Case.RELEASED: 0.61,
    Case.RANDOM_SELECTION: 0.01,
    Case.UNDECLARED: 0.015,
    Case.CUSTOMS_INSPECT: 0.015,
    Case.CUSTOMS_DETAINED: 0.01,
    Case.CUSTOMS_RETURNED: 0.01,
    Case.CUSTOMS_SUSPENDED: 0.01,
    Case.CUSTOMS_REJECTED: 0.01,
    Case.CUSTOMS_PENDING: 0.015,
    Case.WEIGHT_DEVIATION: 0.02,
    Case.PROHIBITED_HS: 0.01,
    Case.PROHIBITED_KEYWORD_ZH: 0.01,
    Case.PROHIBITED_KEYWORD_EN: 0.01,
    Case.VALUE_LIMIT: 0.015,
    Case.ANNUAL_LIMIT: 0.035,
    Case.THREE_DOC_MISSING_PAYMENT: 0.0075,
    Case.THREE_DOC_AMOUNT: 0.0075,
    Case.THREE_DOC_PAYER: 0.0075,
    Case.THREE_DOC_CONSIGNEE: 0.0075,
    Case.XRAY_BLADE: 0.0075,
    Case.XRAY_GUN: 0.0075,
    Case.XRAY_DENSE_BLOCK: 0.0075,
    Case.XRAY_BATTERY: 0.0075,
    Case.NO_READ: 0.015,
    Case.INVALID_CODE: 0.01,
    Case.MULTI_READ_CONFLICT: 0.01,
    Case.DUPLICATE: 0.02,
    Case.POSTAL_RELEASED: 0.04,
    Case.POSTAL_HELD: 0.01,
    Case.EXPORT_RELEASED: 0.03,
    Case.DECLARATION_CONFLICT: 0.0075,
    Case.TAX_MISMATCH: 0.0075,
    Case.SINGLE_ITEM: 0.005,
    Case.POSTAL_HK_LIMIT: 0.005,
    Case.CANCELLED: 0.0075,
    Case.CONSUMER_RETURN: 0.02,
}

#: Parcels per unit of a case that comes in groups (the rest are one parcel per unit).
DUPLICATE_GROUP = 2


class Mix(ConfigModel):
    """Relative shares of the cases (normalised to sum 1); unlisted cases keep their default."""

    shares: dict[Case, float] = Field(
        default_factory=lambda: dict(DEFAULT_SHARES),
        description="Case → relative share of parcels (>= 0).",
    )

    @field_validator("shares")
    @classmethod
    def _valid(cls, v: dict[Case, float]) -> dict[Case, float]:
        bad = {c.value: s for c, s in v.items() if not s >= 0.0}
        if bad:
            raise ValueError(f"shares must be >= 0, got {bad}")
        merged = {case: v.get(case, DEFAULT_SHARES[case]) for case in Case}
        if sum(merged.values()) <= 0.0:
            raise ValueError("at least one share must be above 0")
        total = sum(merged.values())
        return {case: share / total for case, share in merged.items()}


def load_mix(path: Path) -> Mix:
    """Read a mix file (YAML or JSON mapping of case → share); errors name the file."""
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read mix file: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise ScenarioError(f"{path}: not valid YAML or JSON: {err}") from err
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a mix file is a mapping of case name to share")
    try:
        return Mix(shares=data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'shares'}: {e['msg']}"
            for e in err.errors()
        )
        raise ScenarioError(f"{path}: invalid mix: {problems}") from err


def allocate(parcels: int, mix: Mix, group_size: Mapping[Case, int]) -> dict[Case, int]:
    """Return units per case for ``parcels`` parcels (a unit is ``group_size[case]`` parcels).

    Cases with a positive share get at least one unit when ``parcels`` leaves room for every
    case; the parcels that whole units leave over become clean releases.
    """
    if parcels < 1:
        raise ScenarioError(f"parcels must be at least 1, got {parcels}")
    active = [c for c in Case if mix.shares[c] > 0.0 and group_size.get(c, 1) > 0]
    size = {c: group_size.get(c, 1) for c in Case}
    units = {c: 0 for c in Case}
    for case in active:
        units[case] = int(mix.shares[case] * parcels / size[case])
    if parcels >= sum(size[c] for c in active):
        for case in active:
            units[case] = max(units[case], 1)
    used = sum(units[c] * size[c] for c in Case)
    while used > parcels:
        biggest = max((c for c in Case if units[c] > 0), key=lambda c: (units[c], -size[c]))
        units[biggest] -= 1
        used -= size[biggest]
    singles = [c for c in active if size[c] == 1] or [Case.RELEASED]
    short = {c: mix.shares[c] * parcels - units[c] for c in singles}
    order = sorted(singles, key=lambda c: (-short[c], list(Case).index(c)))
    i = 0
    while used < parcels:
        units[order[i % len(order)]] += 1
        used += 1
        i += 1
    return {c: n for c, n in units.items() if n > 0}


class Schedule:
    """Draws the case of each next unit at random without replacement (exact counts, O(cases))."""

    def __init__(self, units: Mapping[Case, int], rng: random.Random) -> None:
        """Start with ``units`` per case to draw."""
        self._left = {c: n for c, n in units.items() if n > 0}
        self._rng = rng

    def __len__(self) -> int:
        """Return the number of units still to draw."""
        return sum(self._left.values())

    def draw(self) -> Case:
        """Return the case of the next unit; raises ``ScenarioError`` when none is left."""
        total = len(self)
        if total == 0:
            raise ScenarioError("no units left to draw")
        pick = self._rng.randrange(total)
        for case, n in self._left.items():
            if pick < n:
                self._left[case] -= 1
                if self._left[case] == 0:
                    del self._left[case]
                return case
            pick -= n
        raise AssertionError("unreachable: pick below total")
