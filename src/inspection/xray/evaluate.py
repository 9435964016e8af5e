"""Evaluation of pre-screen results against ground truth: detection, false alarms, auto-clear.

Definitions (per parcel):

* a threat parcel is **detected** when it was not auto-cleared and at least one flag of a kind
  that names its threat (``DETECTING``) covers the threat's true box (the boxes overlap by at
  least ``min_cover`` of the smaller one); such a flag either raised an alarm (SUSPECT) or was
  shown to the inspector in a PENDING image — either way the right reason is put in front of
  a person at the right place. Classes without a location (``DECLARATION_MISMATCH``) need
  only the flag;
* the **suspect rate** of a class is the share of its parcels whose state was SUSPECT;
* on clean parcels the **false-alarm rate** is the share that came out SUSPECT, the
  **auto-clear share** the share cleared without an inspector, the rest is PENDING.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from contracts.statuses import XrayState
from inspection.xray.flags import FlagKind
from inspection.xray.prescreen import PrescreenResult, xray_state
from inspection.xray.regions import Box
from inspection.xray.shapes import shared_area

#: Group name of parcels without any threat.
CLEAN = "clean"

#: Flag kinds that count as the right reason, per threat class.
DETECTING: Mapping[str, frozenset[FlagKind]] = {
    "blade": frozenset({FlagKind.BLADE, FlagKind.GUN}),
    "gun": frozenset({FlagKind.GUN, FlagKind.BLADE}),
    "dense_block": frozenset({FlagKind.IMPENETRABLE}),
    "battery": frozenset({FlagKind.BATTERY}),
    "mismatch": frozenset({FlagKind.DECLARATION_MISMATCH}),
}


class EvaluationError(ValueError):
    """Cases that cannot be evaluated (unknown class, no cases)."""


@dataclass(frozen=True, slots=True)
class Case:
    """One pre-screened parcel and its truth: class (``clean`` or a threat class) and boxes."""

    group: str
    result: PrescreenResult
    targets: tuple[Box, ...] = ()  # true (x, y, w, h) of the threat, high-energy image pixels


@dataclass(frozen=True, slots=True)
class Row:
    """Figures of one class (rates 0..1)."""

    group: str
    n: int
    detected: int
    detection_rate: float  # threat classes; 0 for clean
    suspect_rate: float  # share SUSPECT (the false-alarm rate on clean)
    auto_clear_rate: float  # share auto-cleared (must be 0 on threats)
    pending_rate: float

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form, rates rounded to 4 places."""
        return {
            "group": self.group,
            "n": self.n,
            "detected": self.detected,
            "detection_rate": round(self.detection_rate, 4),
            "suspect_rate": round(self.suspect_rate, 4),
            "auto_clear_rate": round(self.auto_clear_rate, 4),
            "pending_rate": round(self.pending_rate, 4),
        }


@dataclass(frozen=True, slots=True)
class Table:
    """Per-class rows and the three headline figures."""

    rows: tuple[Row, ...]
    detection_rate: float  # over every threat parcel pooled
    false_alarm_rate: float  # clean parcels SUSPECT
    auto_clear_rate: float  # clean parcels auto-cleared

    def row(self, group: str) -> Row:
        """The row of one class; raise EvaluationError when it is absent."""
        for r in self.rows:
            if r.group == group:
                return r
        raise EvaluationError(f"no row for class {group!r}; have {[r.group for r in self.rows]}")

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "detection_rate": round(self.detection_rate, 4),
            "false_alarm_rate": round(self.false_alarm_rate, 4),
            "auto_clear_rate": round(self.auto_clear_rate, 4),
            "rows": [r.as_dict() for r in self.rows],
        }


def overlap(a: Box, b: Box) -> float:
    """Intersection area over the smaller box's area (0..1; 0 for an empty box)."""
    smaller = min(a[2] * a[3], b[2] * b[3])
    return shared_area(a, b) / smaller if smaller > 0 else 0.0


def detected(case: Case, min_cover: float = 0.25) -> bool:
    """True when a threat case was not auto-cleared and the right flag covers the threat."""
    kinds = DETECTING.get(case.group)
    if kinds is None:
        raise EvaluationError(f"unknown threat class {case.group!r}; known: {sorted(DETECTING)}")
    if case.result.auto_clear:
        return False
    right = [f for f in case.result.flags if f.kind in kinds]
    if not case.targets:
        return bool(right)
    return any(overlap(f.region, t) >= min_cover for f in right for t in case.targets)


def _row(group: str, cases: list[Case], min_cover: float) -> Row:
    """Figures of one class."""
    n = len(cases)
    states = [xray_state(c.result) for c in cases]
    hits = 0 if group == CLEAN else sum(detected(c, min_cover) for c in cases)
    return Row(
        group=group,
        n=n,
        detected=hits,
        detection_rate=hits / n,
        suspect_rate=states.count(XrayState.SUSPECT) / n,
        auto_clear_rate=states.count(XrayState.CLEARED) / n,
        pending_rate=states.count(XrayState.PENDING) / n,
    )


def evaluate(cases: Iterable[Case], min_cover: float = 0.25) -> Table:
    """Build the per-class table from pre-screened cases (clean row last)."""
    by_group: dict[str, list[Case]] = {}
    for case in cases:
        if case.group != CLEAN and case.group not in DETECTING:
            raise EvaluationError(
                f"unknown class {case.group!r}; known: {[CLEAN, *sorted(DETECTING)]}"
            )
        by_group.setdefault(case.group, []).append(case)
    if not by_group:
        raise EvaluationError("no cases to evaluate")
    groups = sorted(g for g in by_group if g != CLEAN)
    rows = [_row(g, by_group[g], min_cover) for g in groups]
    threats = sum(r.n for r in rows)
    found = sum(r.detected for r in rows)
    clean = _row(CLEAN, by_group[CLEAN], min_cover) if CLEAN in by_group else None
    if clean is not None:
        rows.append(clean)
    return Table(
        rows=tuple(rows),
        detection_rate=found / threats if threats else float("nan"),
        false_alarm_rate=clean.suspect_rate if clean else float("nan"),
        auto_clear_rate=clean.auto_clear_rate if clean else float("nan"),
    )
