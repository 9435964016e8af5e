"""An attacker on the anonymous site broker, where only the signatures protect.

The attacker uses the real ``mosquitto_pub`` against the Mosquitto at 127.0.0.1:1883. Every
attack must end with no release, the hub's record of the parcel unchanged, and an alarm;
the genuine verdict that follows must still work, so the gate is not simply shut.
"""

from __future__ import annotations

import queue
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.events import Confirmed, Decided, EdgeEvent, edge_event
from contracts.messages import Verdict, VerdictKind
from contracts.reasons import Outcome
from contracts.topics import edge_event_topic, verdict_topic
from devices.mqtt_link import LinkSettings, MqttLink
from devices.signing import generate_key, sign_event, sign_verdict
from hub.db.event_models import EVENT
from inspection.rules import RuleSet
from tests.conftest import require_service
from tests.security.harness import (
    CODE,
    CODE2,
    EdgeSide,
    HubSide,
    mosquitto_pub,
    suspect_at_hub,
    wait,
)

pytestmark = pytest.mark.services

PORT = 1883
URL = f"mqtt://127.0.0.1:{PORT}"


@pytest.fixture
def site(tmp_path: Path, rules: RuleSet) -> Iterator[tuple[HubSide, EdgeSide, str]]:
    """A hub with edges e1 and e2 enrolled, and edge e1 running, on a site of its own."""
    require_service("Mosquitto", "127.0.0.1", PORT)
    name = f"adv-{uuid.uuid4().hex[:8]}"
    hub = HubSide(tmp_path, name)
    hub.enrol("e1")
    hub.enrol("e2")
    hub.start(URL)
    edge = EdgeSide(tmp_path, name, "e1", hub.files["e1"], URL, rules).start()
    try:
        yield hub, edge, name
    finally:
        edge.stop()
        hub.stop()


def verdict(site: str, item_id: int, **kw: object) -> Verdict:
    """A clear verdict for edge e1's item, valid from now for two minutes."""
    now = datetime.now(UTC)
    base: dict[str, object] = {
        "verdict_id": uuid.uuid4(),
        "site": site,
        "edge_id": "e1",
        "parcel_code": CODE,
        "item_id": item_id,
        "verdict": VerdictKind.CLEAR,
        "inspector": "mallory",
        "at": now,
        "issued_at": now,
        "expires_at": now + timedelta(minutes=2),
    }
    base.update(kw)
    return Verdict.model_validate(base)


def wire(v: Verdict | EdgeEvent) -> bytes:
    """JSON bytes as they go on the wire."""
    return v.model_dump_json().encode()


def test_forged_replayed_expired_and_misdirected_verdicts_release_nothing(
    site: tuple[HubSide, EdgeSide, str],
) -> None:
    hub, edge, name = site
    heard: queue.Queue[bytes] = queue.Queue()
    sniffer = MqttLink(LinkSettings(url=URL, site=name, kind="test", device_id="sniffer"))
    sniffer.start()
    sniffer.subscribe(verdict_topic(name), lambda m: heard.put(m.payload), qos=1)
    sniffer.wait_connected(10)
    try:
        # item 2: a genuine suspect verdict, applied once; the attacker records its bytes
        edge.suspect_parcel(2, CODE2)
        wait(lambda: hub.parcel("e1", 2) is not None, "item 2 at the hub")
        hub.verdict(2, VerdictKind.SUSPECT, CODE2)
        captured = heard.get(timeout=10)
        wait(lambda: edge.replies_for(2), "the answer for item 2")
        assert edge.replies_for(2)[0].chute == 5  # inspected, as the inspector said

        edge.suspect_parcel(1)
        before = suspect_at_hub(hub, "e1", 1)
        stolen = Verdict.model_validate_json(captured)
        old = datetime.now(UTC) - timedelta(hours=2)
        attacks = [
            wire(verdict(name, 1)),  # unsigned
            wire(sign_verdict(generate_key(), verdict(name, 1))),  # the attacker's own key
            wire(sign_verdict(hub.key, verdict(name, 1)).model_copy(update={"sig": "A" * 88})),
            # a genuine but expired verdict (captured long ago)
            wire(sign_verdict(hub.key, verdict(name, 1, issued_at=old, expires_at=old))),
            # a genuine verdict naming an item this edge does not hold
            wire(sign_verdict(hub.key, verdict(name, 999))),
            # a genuine verdict for edge e2, rewritten to name e1
            wire(
                sign_verdict(hub.key, verdict(name, 1, edge_id="e2")).model_copy(
                    update={"edge_id": "e1"}
                )
            ),
            captured,  # replayed as it was
            wire(stolen.model_copy(update={"item_id": 1, "verdict": VerdictKind.CLEAR})),
        ]
        assert mosquitto_pub(PORT, verdict_topic(name), attacks) == 0
        wait(lambda: edge.rt.gate.stats.refused == len(attacks), "every attack refused")
        # a genuine verdict for another edge is not for this one: ignored, never applied
        for_e2 = sign_verdict(hub.key, verdict(name, 1, edge_id="e2"))
        assert mosquitto_pub(PORT, verdict_topic(name), [wire(for_e2)]) == 0
        wait(lambda: edge.rt.gate.stats.ignored == 1, "the e2 verdict ignored")

        assert edge.waiting(1), "an attack decided item 1"
        item = edge.rt.engine.tracker.get(1)
        assert item is not None and item.xray.name == "SUSPECT"
        wait(lambda: hub.edge_alarms("e1") >= len(attacks), "the edge's alarms at the hub")
        assert hub.parcel("e1", 1) == before, "the hub's record changed"

        # the genuine verdict still works: the gate is not simply shut
        hub.verdict(1, VerdictKind.CLEAR)
        wait(lambda: edge.replies_for(1), "the answer for item 1")
        assert [r.chute for r in edge.replies_for(1)] == [1]
        assert edge.rt.gate.stats.applied == 2
    finally:
        sniffer.stop()


def test_forged_and_foreign_events_never_reach_the_record(
    site: tuple[HubSide, EdgeSide, str],
) -> None:
    hub, edge, name = site
    edge.suspect_parcel(3)
    wait(lambda: hub.parcel("e1", 3) is not None, "item 3 at the hub")
    hub.verdict(3, VerdictKind.SUSPECT)
    wait(lambda: (hub.parcel("e1", 3) or {}).get("outcome") == "INSPECT", "INSPECT at the hub")
    wait(lambda: hub.count(EVENT, kind="diverted") >= 1, "the divert at the hub")
    # the edge's own record of the verdict may come after the divert: the record is still
    # moving until it is in, and a snapshot taken sooner would differ for honest reasons
    applied = "verdict:suspect"
    wait(lambda: (hub.parcel("e1", 3) or {}).get("xray") == applied, "the verdict's event")
    before = hub.parcel("e1", 3)
    alarms = hub.alarms()
    now = datetime.now(UTC)

    def forged(edge_id: str = "e1") -> list[EdgeEvent]:
        release = Decided(outcome=Outcome.RELEASE, reasons=[], rule_set_version="x", chute=1)
        return [
            edge_event(release, site=name, edge_id=edge_id, at=now, item_id=3, parcel_code=CODE),
            edge_event(
                Confirmed(chute=1, status="diverted"), site=name, edge_id=edge_id, at=now, item_id=3
            ),
        ]

    e2_key = hub.enrolled["e2"].signing_key
    attacks = [
        (edge_event_topic(name, "e1"), [wire(e) for e in forged()]),  # unsigned
        (edge_event_topic(name, "e1"), [wire(sign_event(generate_key(), e)) for e in forged()]),
        (edge_event_topic(name, "e1"), [wire(sign_event(e2_key, e)) for e in forged()]),
        (
            edge_event_topic(name, "evil"),
            [wire(sign_event(generate_key(), e)) for e in forged("evil")],
        ),
    ]
    refused = 0
    for topic, payloads in attacks:
        assert mosquitto_pub(PORT, topic, payloads) == 0
        refused += len(payloads)
    assert hub.mqtt is not None
    wait(lambda: hub.alarms() >= alarms + refused, "a trust alarm for every forged event")
    # a second, different decision signed with e1's own key (a stolen key, or a bug)
    second = sign_event(hub.enrolled["e1"].signing_key, forged()[0])
    assert mosquitto_pub(PORT, edge_event_topic(name, "e1"), [wire(second)]) == 0
    wait(lambda: hub.alarms() >= alarms + refused + 1, "the conflicting decision's alarm")

    after = hub.parcel("e1", 3)
    assert after == before and after is not None and after["outcome"] == "INSPECT"
    assert hub.parcel("evil", 3) is None
    assert hub.count(EVENT, kind="decided") == 1
    # the alarms are committed by the batch's ingest, the counter after it: wait for both
    mqtt = hub.mqtt
    wait(lambda: mqtt.untrusted >= refused + 1, "every refused event counted")
    assert edge.replies_for(3)[0].chute == 5
