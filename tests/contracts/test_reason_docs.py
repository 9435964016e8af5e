"""The reason numbering documented for PLC integrators matches the code."""

from __future__ import annotations

import re
from pathlib import Path

from contracts.reasons import REASON_INDEX, Reason

DOC = Path(__file__).resolve().parents[2] / "docs" / "decision.md"


def test_documented_numbering_matches_code() -> None:
    """Each numbered reason row of docs/decision.md is the code's numbering; none is missing."""
    text = DOC.read_text(encoding="utf-8")
    pairs = {int(n): name for n, name in re.findall(r"\|\s*(\d+)\s*\|\s*`([A-Z_]+)`", text)}
    assert pairs == {i: r.value for r, i in REASON_INDEX.items()}
    assert len(pairs) == len(Reason)
