"""Review deadlines fired once: a background job records each passed deadline exactly once."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from contracts.clock import ManualClock
from hub.db.audit_models import AuditEntry
from hub.db.site_models import REVIEW_DEADLINE
from hub.ingest.xray_store import ReviewSettings, XrayStore
from hub.services import review_deadlines as job
from hub.services.audit_key import bind_key, create_key
from tests.hub.helpers_review import at, feed, put_image, requested, seen


def _fired(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(REVIEW_DEADLINE.c.image_id, func.count()).group_by(REVIEW_DEADLINE.c.image_id)
        ).all()
    return {str(r[0]): int(r[1]) for r in rows}


def _audited(engine: Engine) -> list[str]:
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return list(
            conn.execute(select(table.c.subject).where(table.c.action == job.ACTION)).scalars()
        )


def test_each_passed_deadline_is_fired_once(engine: Engine, tmp_path: Path) -> None:
    """Budget and sorter deadlines fire once they pass; reviewed and cleared images never."""
    bind_key(engine, create_key(tmp_path / "audit.key"))
    settings = ReviewSettings(data_dir=tmp_path / "data", review_budget_s=20.0)
    store = XrayStore(settings, engine=engine)
    feed(engine, [*seen(1, "RR000000001CN", -1), requested(1, 0, 5_000)])
    by_request = put_image(engine, store, 1, "blade", 0)  # deadline: 5 s (the PLC's)
    by_budget = put_image(engine, store, 2, "battery", 0)  # deadline: 20 s (the budget)
    put_image(engine, store, 3, "textiles", 0)  # cleared: never queued
    assert job.fire_due(engine, settings, at(4)) == 0
    assert job.fire_due(engine, settings, at(6)) == 1
    assert job.fire_due(engine, settings, at(7)) == 0
    assert _fired(engine) == {str(by_request.image_id): 1}
    assert job.fire_due(engine, settings, at(30)) == 1
    assert job.fire_due(engine, settings, at(31)) == 0
    assert _fired(engine) == {str(by_request.image_id): 1, str(by_budget.image_id): 1}
    assert sorted(_audited(engine)) == sorted([str(by_request.image_id), str(by_budget.image_id)])
    with engine.connect() as conn:
        row = conn.execute(
            select(REVIEW_DEADLINE).where(REVIEW_DEADLINE.c.image_id == by_request.image_id)
        ).one()
    assert (row.site, row.item_id, row.deadline_source) == ("s1", 1, "request")
    assert row.parcel_code == "RR000000001CN"


def test_concurrent_runs_fire_once(engine: Engine, tmp_path: Path) -> None:
    """Runs racing each other (as several hub processes would) record each deadline once."""
    bind_key(engine, create_key(tmp_path / "audit.key"))
    settings = ReviewSettings(data_dir=tmp_path / "data", review_budget_s=20.0)
    store = XrayStore(settings, engine=engine)
    images = [put_image(engine, store, 100 + n, "blade", 0, seed=n) for n in range(8)]
    clock = ManualClock(at(60))
    totals: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            totals.append(job.run_once(engine, settings, clock))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and sum(totals) == len(images)
    assert _fired(engine) == {str(i.image_id): 1 for i in images}
    assert len(_audited(engine)) == len(images)
