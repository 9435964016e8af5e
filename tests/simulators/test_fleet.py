"""The simulated fleet: valid parcel codes, a whole parcel pass, signed events that verify."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest

from contracts.events import EventKind
from devices.signing import SignatureError, generate_key, sign_event, verify_event
from simulators.fleet import EVENTS_PER_PARCEL, parcel_events, s10_code

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def test_s10_codes_carry_the_upu_check_digit() -> None:
    """The UPU S10 example serial 47312482 has check digit 9; 12345678 has 5."""
    assert s10_code(47312482, "EE", "CH") == "EE473124829CH"
    assert s10_code(12345678) == "RR123456785CN"


def test_a_parcel_pass_is_seven_events_in_order_with_one_decision() -> None:
    """Seen to confirmed, in time order, the decision naming the code that was read."""
    events = parcel_events("s1", "e1", 9, T0, random.Random(3))
    assert len(events) == EVENTS_PER_PARCEL
    assert [e.at for e in events] == sorted(e.at for e in events)
    kinds = [e.kind for e in events]
    assert kinds[0] is EventKind.PARCEL_SEEN and kinds[-1] is EventKind.CONFIRMED
    decided = [e for e in events if e.kind is EventKind.DECIDED]
    assert len(decided) == 1
    assert decided[0].parcel_code in events[1].data["codes"]
    assert len({e.event_id for e in events}) == EVENTS_PER_PARCEL
    assert all(isinstance(e.event_id, uuid.UUID) and e.item_id == 9 for e in events)


def test_fleet_events_verify_with_the_edge_key_only() -> None:
    """A signed fleet event verifies with its edge's key and not with another's."""
    key, other = generate_key(), generate_key()
    event = sign_event(key, parcel_events("s1", "e1", 1, T0, random.Random(1))[0])
    verify_event([key.public_key()], event)
    with pytest.raises(SignatureError):
        verify_event([other.public_key()], event)
