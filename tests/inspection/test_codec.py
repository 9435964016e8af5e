"""Declarations and receipts survive a JSON round trip exactly."""

from __future__ import annotations

import json

from inspection.codec import (
    declaration_from_dict,
    declaration_to_dict,
    receipt_from_dict,
    receipt_to_dict,
)
from simulators.sample_declarations import parcel_sets


def test_round_trip_of_generated_sets() -> None:
    """Every document of generated sets comes back equal after JSON text."""
    for ps in parcel_sets(50, seed=5):
        for decl in ps.declarations():
            text = json.dumps(declaration_to_dict(decl), ensure_ascii=False)
            assert declaration_from_dict(json.loads(text)) == decl
        r = json.loads(json.dumps(receipt_to_dict(ps.receipt)))
        assert receipt_from_dict(r) == ps.receipt


def test_amounts_stay_exact() -> None:
    """Five-decimal amounts are written as text, not floats."""
    ps = next(parcel_sets(1, seed=9))
    d = declaration_to_dict(ps.order)
    assert isinstance(d["actural_paid"], str) and "." in d["actural_paid"]
