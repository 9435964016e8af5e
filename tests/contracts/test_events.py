"""Edge events and messages: every payload model round-trips through its JSON wire form."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest
from pydantic import ValidationError

from contracts import events as ev
from contracts import messages as msg
from contracts.reasons import Outcome, Reason
from contracts.statuses import ConfirmStatus, ReadStatus

AT = datetime(2026, 12, 4, 8, 30, tzinfo=UTC)
VID = UUID("8d0f5b7e-2f0a-4c1e-9a55-0c7b3c2f6a10")

#: One filled-in payload per event kind.
SAMPLES: list[ev.EventPayload] = [
    ev.ParcelSeen(device_id="induct-1"),
    ev.CodeRead(device_id="tunnel-1", status=ReadStatus.MULTI, codes=["RR123456785CN", "X1"]),
    ev.Weighed(device_id="cw-1", weight_kg=1.234, stable=True, flags=["stable"], detail="S S"),
    ev.Imaged(device_id="xr-1", prescreen="suspect", state="SUSPECT", flags=["dense"], score=0.8),
    ev.Decided(
        outcome=Outcome.HOLD,
        reasons=[Reason.NOT_DECLARED, Reason.XRAY_PENDING],
        rule_set_version="2026-11-01",
        declaration_kind="inventory",
        declaration_key="AG001:COP1",
        chute=3,
        latency_ms=0.12,
        notes=["customs status 120"],
        deadline_ms=180,
        area="cage",
        desk=True,
    ),
    ev.Diverted(chute=9, reason=1),
    ev.Confirmed(chute=9, status=ConfirmStatus.LANE_FULL),
    ev.DeviceState(device_id="cw-1", device_kind="checkweigher", online=False, detail="gone"),
    ev.VerdictApplied(verdict_id=VID, verdict=ev.VerdictKind.SUSPECT),
    ev.Alarm(alarm="confirm_mismatch", detail="chute 3 confirmed as 4"),
    ev.Requested(deadline_ms=420),
]


def test_one_sample_per_kind() -> None:
    assert sorted(s.KIND for s in SAMPLES) == sorted(ev.EventKind)
    assert set(ev.PAYLOAD_MODELS) == set(ev.EventKind)


@pytest.mark.parametrize("payload", SAMPLES, ids=lambda p: p.KIND.value)
def test_payload_round_trips_through_the_envelope(payload: ev.EventPayload) -> None:
    """Build an event, send it as JSON, read envelope and payload back: nothing changes."""
    event = ev.edge_event(
        payload, site="sh01", edge_id="line-1", at=AT, item_id=77, parcel_code="RR123456785CN"
    )
    assert event.kind is payload.KIND and event.v == ev.WIRE_VERSION
    wire = event.model_dump_json().encode()
    back = ev.EdgeEvent.model_validate_json(wire)
    assert back == event
    got = ev.payload_of(back)
    assert type(got) is type(payload)
    assert got == payload


def test_confirmed_status_travels_by_name() -> None:
    """The PLC's number becomes the name DESIGN's confirm ring gives it; 5 is refused."""
    assert ev.Confirmed(chute=1, status=2).status == "no_answer"
    assert ev.Confirmed(chute=1, status="aborted").status == "aborted"
    with pytest.raises(ValidationError):
        ev.Confirmed(chute=1, status=5)
    with pytest.raises(ValidationError):
        ev.Confirmed(chute=1, status=True)


def test_payloads_refuse_what_breaks_the_contract() -> None:
    with pytest.raises(ValidationError):
        ev.Weighed(device_id="cw", weight_kg=-1.0, stable=True)
    with pytest.raises(ValidationError):
        ev.CodeRead(device_id="t", status="MAYBE", codes=[])
    with pytest.raises(ValidationError):
        ev.Decided(outcome="GO", reasons=[], rule_set_version="1")
    with pytest.raises(ValidationError):
        ev.Decided(outcome=Outcome.REJECT, reasons=["NOT_A_REASON"], rule_set_version="1")


def test_fields_beyond_the_contract_are_kept() -> None:
    """A newer edge's extra field reaches an older hub's store unchanged."""
    event = ev.EdgeEvent(
        event_id=VID,
        site="s",
        edge_id="e",
        kind=ev.EventKind.ALARM,
        at=AT,
        data={"alarm": "outage", "since_s": 12},
    )
    assert ev.payload_of(event).model_dump()["since_s"] == 12


def test_envelope_refuses_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        ev.EdgeEvent.model_validate(
            {
                "event_id": str(VID),
                "site": "s",
                "edge_id": "e",
                "kind": "alarm",
                "at": AT.isoformat(),
                "extra": 1,
            }
        )


def test_messages_round_trip() -> None:
    verdict = msg.Verdict(
        verdict_id=VID,
        site="s",
        parcel_code="RR123456785CN",
        item_id=5,
        verdict=msg.VerdictKind.HOLD,
        inspector="li.wei",
        at=AT,
    )
    assert msg.Verdict.model_validate_json(verdict.model_dump_json()) == verdict
    notice = msg.SyncNotice(site="s", cursor="c-42", at=AT)
    assert msg.SyncNotice.model_validate_json(notice.model_dump_json()) == notice
    for state in msg.Availability:
        assert msg.decode_availability(msg.encode_availability(state)) is state
