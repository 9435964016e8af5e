"""Event ingest: exactly once under duplicates and reordering, the projection, refusals."""

from __future__ import annotations

import itertools
import json
import random
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from contracts.events import MAX_PAYLOAD_BYTES, EdgeEvent, EventKind
from hub.db.engine import StoreError
from hub.db.event_models import EVENT, PARCEL
from hub.ingest.events import ingest
from tests.hub.helpers_events import (
    engine,
    make_event,
    mem_engine,
    parcel_story,
    sqlite_memory_engine,
)

__all__ = ["engine", "mem_engine"]  # fixtures used below

CODE = "RR123456785CN"


def _count(eng: Engine, table: Any = EVENT) -> int:
    with eng.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _parcels(eng: Engine) -> dict[str, dict[str, Any]]:
    with eng.connect() as conn:
        rows = conn.execute(select(PARCEL)).mappings().all()
    out = {}
    for row in rows:
        values = dict(row)
        values.pop("updated_at")
        out[values["parcel_key"]] = values
    return out


def test_projection_of_one_pass(engine: Engine) -> None:
    """A full pass folds into one parcel row with every fact of the line."""
    events = parcel_story(
        7,
        CODE,
        weight_kg=1.31,
        outcome="HOLD",
        reasons=("CUSTOMS_PENDING",),
        chute=4,
        declaration_key="I-1",
    )
    report = ingest(engine, events)
    assert (report.stored, report.duplicates, len(report.rejected)) == (7, 0, 0)
    parcel = _parcels(engine)["s1/e1/7"]
    assert parcel["parcel_code"] == CODE
    assert parcel["codes"] == [f"]C1{CODE}"]
    assert parcel["read_status"] == "OK"
    assert parcel["weight_kg"] == pytest.approx(1.31)
    assert parcel["weight_stable"] is True
    assert parcel["xray"] == "clear"
    assert parcel["outcome"] == "HOLD"
    assert parcel["reasons"] == ["CUSTOMS_PENDING"]
    assert parcel["declaration_key"] == "I-1"
    assert parcel["declaration_kind"] == "inventory"
    assert parcel["rule_set_version"] == "2026.11-1"
    assert parcel["chute"] == 4
    assert parcel["confirmed_chute"] == 4
    assert parcel["confirmed_status"] == "diverted"
    assert parcel["latency_ms"] == pytest.approx(3.5)
    assert parcel["first_seen"] == events[0].at
    assert parcel["last_event_at"] == events[-1].at
    assert parcel["event_count"] == 7


def test_duplicates_and_reordering_store_each_event_once(engine: Engine) -> None:
    """Shuffled, repeated and re-batched deliveries give the same rows as one clean pass."""
    events = parcel_story(1, CODE, start_s=0) + parcel_story(2, "RR000000004CN", start_s=2)
    events.append(
        make_event(
            EventKind.DEVICE_STATE,
            {
                "device_id": "cw1",
                "device_kind": "checkweigher",
                "online": False,
                "detail": "timeout",
            },
            item_id=None,
        )
    )
    reference = sqlite_memory_engine()
    ingest(reference, events)
    rng = random.Random(11)
    deliveries = events * 3
    rng.shuffle(deliveries)
    totals = {"stored": 0, "duplicates": 0}
    for start in range(0, len(deliveries), 5):
        report = ingest(engine, deliveries[start : start + 5])
        totals["stored"] += report.stored
        totals["duplicates"] += report.duplicates
    assert totals == {"stored": len(events), "duplicates": 2 * len(events)}
    assert _count(engine) == len(events)
    assert _parcels(engine) == _parcels(reference)
    assert set(_parcels(engine)) == {"s1/e1/1", "s1/e1/2"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    order=st.permutations(list(range(7))),
    cuts=st.lists(st.integers(1, 6), max_size=4),
    repeats=st.lists(st.integers(0, 6), max_size=5),
)
def test_any_order_and_batching_gives_the_same_projection(
    order: list[int], cuts: list[int], repeats: list[int]
) -> None:
    """Property: every arrival order, batch split and repetition folds to the same parcel."""
    story = parcel_story(9, CODE, reasons=("RANDOM_SELECTION",), outcome="INSPECT")
    reference = sqlite_memory_engine()
    ingest(reference, story)
    eng = sqlite_memory_engine()
    sent = [story[i] for i in order] + [story[i] for i in repeats]
    bounds = [0, *sorted(set(cuts)), len(sent)]
    for a, b in itertools.pairwise(bounds):
        ingest(eng, sent[a:b])
    assert _count(eng) == 7
    assert _parcels(eng) == _parcels(reference)


def test_oversized_and_invalid_events_are_refused_and_change_nothing(engine: Engine) -> None:
    """Each bad event gets its own clear error; the good ones of the batch are stored."""
    good = parcel_story(3, CODE)[:2]
    big = make_event(EventKind.ALARM, {"alarm": "x", "detail": "y" * MAX_PAYLOAD_BYTES})
    bad_reason = make_event(
        EventKind.DECIDED,
        {"outcome": "RELEASE", "reasons": ["NOT_A_REASON"], "rule_set_version": "1"},
    )
    bad_weight = make_event(
        EventKind.WEIGHED, {"device_id": "cw1", "weight_kg": "heavy", "stable": True}
    )
    raw_mapping = json.loads(good[0].model_dump_json())
    raw_mapping.pop("site")
    batch: list[Any] = [
        good[0],
        big,
        bad_reason,
        b"{not json",
        raw_mapping,
        bad_weight,
        good[1],
    ]
    report = ingest(engine, batch)
    assert report.stored == 2
    errors = {r.index: r.error for r in report.rejected}
    assert set(errors) == {1, 2, 3, 4, 5}
    assert "larger than the 262144 byte limit" in errors[1]
    assert "data.reasons.0" in errors[2]
    assert "not a valid edge event" in errors[3]
    assert "site: Field required" in errors[4]
    assert "data.weight_kg" in errors[5]
    assert report.rejected[1].event_id == str(bad_reason.event_id)
    assert _count(engine) == 2
    assert _parcels(engine)["s1/e1/3"]["event_count"] == 2


def test_only_refusals_write_nothing(engine: Engine) -> None:
    """A batch of refused events leaves the database untouched."""
    report = ingest(engine, [b"[]", {"kind": "weighed"}])
    assert len(report.rejected) == 2
    assert (_count(engine), _count(engine, PARCEL)) == (0, 0)


def test_refusal_messages_never_echo_personal_numbers(mem_engine: Engine) -> None:
    """A refused event's error names the field, never the value sent."""
    evt = make_event(EventKind.WEIGHED, {"device_id": "cw1", "weight_kg": "110101199003077777"})
    report = ingest(mem_engine, [evt])
    assert "110101199003077777" not in report.rejected[0].error
    assert "data.weight_kg" in report.rejected[0].error


def test_wrong_payload_version_is_refused(mem_engine: Engine) -> None:
    """Only wire version 1 is read."""
    raw = json.loads(make_event(EventKind.PARCEL_SEEN).model_dump_json())
    raw["v"] = 2
    report = ingest(mem_engine, [raw])
    assert "payload version 2 is not supported" in report.rejected[0].error


def test_desk_events_without_item_id_are_keyed_by_code(mem_engine: Engine) -> None:
    """At a manual desk (item id 0) a pass is keyed by the parcel code."""
    read = make_event(
        EventKind.CODE_READ,
        {"device_id": "hand1", "status": "OK", "codes": [CODE]},
        item_id=0,
        parcel_code=CODE,
    )
    weigh = make_event(
        EventKind.WEIGHED,
        {"device_id": "scale1", "weight_kg": 0.5, "stable": False},
        item_id=0,
        parcel_code=CODE,
        at_s=1,
    )
    verdict = make_event(
        EventKind.VERDICT_APPLIED,
        {"verdict_id": "0b7e3c1e-9a4e-4a53-9f84-4bb8b6a0a001", "verdict": "clear"},
        item_id=None,
        parcel_code=CODE,
        at_s=2,
    )
    ingest(mem_engine, [read, weigh, verdict])
    parcels = _parcels(mem_engine)
    assert list(parcels) == [f"s1/code/{CODE}"]
    assert parcels[f"s1/code/{CODE}"]["weight_stable"] is False
    assert parcels[f"s1/code/{CODE}"]["event_count"] == 2
    assert _count(mem_engine) == 3


def test_confirmation_status_by_number_or_name(mem_engine: Engine) -> None:
    """The PLC's status number is stored by name; an unknown number is refused."""
    ok = make_event(EventKind.CONFIRMED, {"chute": 2, "status": 1})
    bad = make_event(EventKind.CONFIRMED, {"chute": 2, "status": 9})
    report = ingest(mem_engine, [ok, bad])
    assert report.stored == 1
    assert "data.status" in report.rejected[0].error
    assert _parcels(mem_engine)["s1/e1/7"]["confirmed_status"] == "recirculated"


def test_concurrent_ingests_of_one_parcel_fold_every_event(engine: Engine) -> None:
    """Two writers racing on the same parcel still leave a projection of all its events."""
    events: list[EdgeEvent] = parcel_story(5, CODE)
    halves = [events[0::2] + events, events[1::2] + events[::-1]]  # overlapping, opposite order
    errors: list[BaseException] = []

    def writer(part: list[EdgeEvent]) -> None:
        try:
            for start in range(0, len(part), 3):
                ingest(engine, part[start : start + 3])
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(h,)) for h in halves]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert _count(engine) == 7
    parcel = _parcels(engine)["s1/e1/5"]
    assert parcel["event_count"] == 7
    assert parcel["confirmed_status"] == "diverted"


def test_database_failure_raises_store_error_and_stores_nothing(mem_engine: Engine) -> None:
    """When the parcel table cannot be written the events of the batch are not kept either."""
    with mem_engine.begin() as conn:
        conn.execute(text("ALTER TABLE parcel RENAME TO parcel_away"))
    with pytest.raises(StoreError, match="cannot store 7 edge events"):
        ingest(mem_engine, parcel_story(4, CODE))
    assert _count(mem_engine) == 0
    with mem_engine.begin() as conn:
        conn.execute(text("ALTER TABLE parcel_away RENAME TO parcel"))
    assert ingest(mem_engine, parcel_story(4, CODE)).stored == 7
