"""Signatures, key files and the edge's verdict gate, without a broker."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from contracts.clock import ManualClock
from contracts.events import Decided, EdgeEvent, VerdictKind, edge_event
from contracts.messages import Verdict
from contracts.reasons import Outcome
from devices.signing import (
    KeyFileError,
    SignatureError,
    generate_key,
    load_or_create_private_key,
    load_private_key,
    sign_event,
    sign_verdict,
    verify_event,
    verify_verdict,
)
from edge.trust import EdgeKeys
from edge.verdict_gate import VerdictGate
from tests.inspection.builders import T0

HUB = generate_key()
EDGE = generate_key()


def verdict(**kw: object) -> Verdict:
    """A verdict for item 7 of edge e1, issued now and valid five minutes."""
    base: dict[str, object] = {
        "verdict_id": uuid.uuid4(),
        "site": "s1",
        "edge_id": "e1",
        "parcel_code": "YT0000000001",
        "item_id": 7,
        "verdict": VerdictKind.CLEAR,
        "inspector": "ines",
        "at": T0,
        "issued_at": T0,
        "expires_at": T0 + timedelta(minutes=5),
    }
    base.update(kw)
    return Verdict.model_validate(base)


def decided(outcome: Outcome = Outcome.INSPECT) -> EdgeEvent:
    """A decided event of edge e1, item 7."""
    payload = Decided(outcome=outcome, reasons=[], rule_set_version="1", chute=5)
    return edge_event(payload, site="s1", edge_id="e1", at=T0, item_id=7, parcel_code="YT1")


def test_a_signed_verdict_verifies_and_any_change_breaks_it() -> None:
    signed = sign_verdict(HUB, verdict())
    verify_verdict([HUB.public_key()], signed)
    for change in (
        {"verdict": VerdictKind.HOLD},
        {"edge_id": "e2"},
        {"item_id": 8},
        {"expires_at": T0 + timedelta(days=1)},
        {"parcel_code": "YT0000000002"},
    ):
        with pytest.raises(SignatureError):
            verify_verdict([HUB.public_key()], signed.model_copy(update=change))
    with pytest.raises(SignatureError, match="not signed"):
        verify_verdict([HUB.public_key()], verdict())
    with pytest.raises(SignatureError, match="any trusted key"):
        verify_verdict([HUB.public_key()], sign_verdict(EDGE, verdict()))


def test_the_signature_survives_the_wire_and_binds_the_kind() -> None:
    event = sign_event(EDGE, decided())
    again = EdgeEvent.model_validate_json(event.model_dump_json())
    verify_event([EDGE.public_key()], again)
    forged = again.model_copy(update={"data": {**again.data, "outcome": "RELEASE"}})
    with pytest.raises(SignatureError):
        verify_event([EDGE.public_key()], forged)
    # a verdict signature can never pass as an event signature
    v = sign_verdict(EDGE, verdict())
    with pytest.raises(SignatureError):
        verify_event([EDGE.public_key()], decided().model_copy(update={"sig": v.sig}))


def test_key_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "hub.key"
    key = load_or_create_private_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys" / "hub.key.pub").exists()
    assert load_or_create_private_key(path).public_key() == key.public_key()
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_private_key(path)


class Gate:
    """A gate for edge e1 of site s1 with a manual clock and a set of waiting items."""

    def __init__(self, keys: EdgeKeys | None = None) -> None:
        self.clock = ManualClock(T0)
        self.waiting = {7}
        self.alarms: list[str] = []
        self.gate = VerdictGate(
            site="s1",
            edge_id="e1",
            keys=keys if keys is not None else EdgeKeys(EDGE, [HUB.public_key()]),
            trust=None,
            clock=self.clock,
            waiting=self.waiting.__contains__,
            alarm=lambda _name, detail: self.alarms.append(detail),
        )

    def offer(self, v: Verdict | bytes) -> Verdict | None:
        """Offer a verdict (or raw bytes) to the gate."""
        raw = v if isinstance(v, bytes) else v.model_dump_json().encode()
        return self.gate.check(raw)


def test_gate_applies_a_good_verdict_once() -> None:
    g = Gate()
    good = sign_verdict(HUB, verdict())
    assert g.offer(good) == good
    assert g.offer(good) is None and "replay" in g.alarms[-1]
    assert (g.gate.stats.applied, g.gate.stats.refused) == (1, 1)


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (verdict, "not signed"),
        (lambda: sign_verdict(EDGE, verdict()), "trusted key"),
        (lambda: sign_verdict(HUB, verdict()).model_copy(update={"item_id": 8}), "trusted key"),
        (lambda: sign_verdict(HUB, verdict(item_id=99)), "not waiting"),
        (lambda: sign_verdict(HUB, verdict(item_id=None)), "not waiting"),
        (lambda: sign_verdict(HUB, verdict(item_id=5)), "not waiting"),  # decided, but no record
        (lambda: sign_verdict(HUB, verdict(site="s2")), "site"),
        (
            lambda: sign_verdict(
                HUB,
                verdict(issued_at=T0 - timedelta(hours=1), expires_at=T0 - timedelta(minutes=50)),
            ),
            "expired",
        ),
        (
            lambda: sign_verdict(
                HUB, verdict(issued_at=T0 + timedelta(hours=1), expires_at=T0 + timedelta(hours=2))
            ),
            "future",
        ),
        (lambda: sign_verdict(HUB, verdict(expires_at=T0 + timedelta(days=3))), "longer"),
        (lambda: sign_verdict(HUB, verdict(issued_at=None, expires_at=None)), "no issue"),
    ],
)
def test_gate_refuses_with_an_alarm(make: object, why: str) -> None:
    g = Gate()
    assert callable(make)
    assert g.offer(make()) is None
    assert g.gate.stats.refused == 1 and why in g.alarms[-1]


def test_a_genuine_verdict_for_a_parcel_decided_before_it_is_late_not_refused() -> None:
    """Signed and fresh, its parcel on the line but decided first: not applied, a late review.
    A parcel the line does not hold (a replay after a restart) is refused as before."""
    g = Gate()
    names: list[str] = []
    g.gate._decided = {5}.__contains__  # item 5 was decided; 99 the line never held
    g.gate._alarm = lambda name, detail: (names.append(name), g.alarms.append(detail))
    assert g.offer(sign_verdict(HUB, verdict(item_id=5))) is None
    assert (g.gate.stats.late, g.gate.stats.refused, g.gate.stats.applied) == (1, 0, 0)
    assert names == ["verdict_late"] and "not waiting" in g.alarms[-1]
    assert g.offer(sign_verdict(HUB, verdict(item_id=99))) is None
    assert names[-1] == "verdict_refused" and g.gate.stats.refused == 1
    assert g.offer(verdict(item_id=5)) is None  # the same, unsigned: refused
    assert names[-1] == "verdict_refused" and g.gate.stats.late == 1


def test_gate_refuses_garbage_and_every_verdict_without_a_hub_key() -> None:
    g = Gate()
    assert g.offer(b'{"verdict": "clear"') is None and "not a verdict" in g.alarms[-1]
    no_keys = VerdictGate(
        site="s1",
        edge_id="e1",
        keys=None,
        trust=None,
        clock=ManualClock(T0),
        waiting=lambda _i: True,
        alarm=lambda _n, _d: None,
    )
    assert no_keys.check(sign_verdict(HUB, verdict()).model_dump_json().encode()) is None
    assert no_keys.stats.refused == 1


def test_gate_ignores_verdicts_for_other_edges_and_accepts_a_hold_without_an_item() -> None:
    g = Gate()
    assert g.offer(sign_verdict(HUB, verdict(edge_id="e2"))) is None
    assert g.gate.stats.ignored == 1 and g.alarms == []
    hold = sign_verdict(HUB, verdict(item_id=None, verdict=VerdictKind.HOLD))
    assert g.offer(hold) == hold


def test_gate_accepts_the_second_hub_key_during_a_rotation() -> None:
    new_hub = generate_key()
    g = Gate(EdgeKeys(EDGE, [HUB.public_key(), new_hub.public_key()]))
    assert g.offer(sign_verdict(new_hub, verdict())) is not None


def test_a_desk_gate_takes_verdicts_of_any_line_by_code_but_only_signed_ones() -> None:
    alarms: list[str] = []
    desk = VerdictGate(
        site="s1",
        edge_id="desk-1",
        keys=EdgeKeys(EDGE, [HUB.public_key()]),
        trust=None,
        clock=ManualClock(T0),
        waiting=None,
        alarm=lambda _name, detail: alarms.append(detail),
    )
    from_line = sign_verdict(HUB, verdict(edge_id="e1", item_id=None))
    assert desk.check(from_line.model_dump_json().encode()) == from_line
    assert desk.check(verdict(edge_id=None).model_dump_json().encode()) is None
    assert desk.check(from_line.model_dump_json().encode()) is None
    assert len(alarms) == 2 and "replay" in alarms[-1]


def test_a_flood_of_refusals_is_summarised_not_sent_one_by_one() -> None:
    g = Gate()
    forged = [verdict() for _ in range(250)]
    for v in forged:
        assert g.offer(v) is None
    assert g.gate.stats.refused == 250 and len(g.alarms) == 100
    assert g.gate.stats.unreported == 150
    g.clock.advance(61)
    g.offer(verdict())
    assert g.alarms[-2] == "150 more verdicts refused in 60 s" and len(g.alarms) == 102
