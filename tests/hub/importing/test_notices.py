"""Notices at the hub: kept in the declaration's history; an accepted cancellation or return
changes the list at the hub, in the decision index and in what edges sync."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from edge.cache import DeclarationCache
from edge.sync import parse_page
from hub.db.migrate import upgrade
from hub.db.models import DECLARATION, STATUS_HISTORY
from hub.db.notice_models import NOTICE
from hub.importing.importer import import_records
from hub.importing.loader import load_index, load_index_for
from hub.services.sync import page
from inspection.index import DeclarationIndex
from inspection.model import Notice
from tests.hub.conftest import inventory, parsed, receipt

KEY = "AG001:COP00000001"
AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
def migrated(engine: Engine) -> Engine:
    """The hub database brought to the head revision (with the sync triggers)."""
    upgrade(engine)
    return engine


def _notice(kind: str, status: str = "", key: str = KEY, **fields: str) -> Notice:
    return Notice(
        kind,
        key,
        invt_no="INV00000001",
        status=status,
        time=AT,
        fields={"copNo": key.split(":")[1], "returnStatus": status, **fields},
    )


def _history(engine: Engine) -> list[str]:
    h, d = STATUS_HISTORY.c, DECLARATION.c
    with engine.connect() as conn:
        decl_id = conn.execute(select(d.id).where(d.business_key == KEY)).scalar_one()
        return [
            e
            for (e,) in conn.execute(
                select(h.event).where(h.declaration_id == decl_id).order_by(h.at, h.event)
            )
        ]


def _sync_all(engine: Engine, cursor: str = "") -> tuple[dict[str, object], str]:
    with Session(engine) as session:
        body = page(session, cursor, 1000)
    return body, str(body["next_cursor"])


def test_cancellation_kept_in_history_applied_and_synced(migrated: Engine) -> None:
    import_records(migrated, parsed([inventory(1), receipt(1, 800)]))
    _, cursor = _sync_all(migrated)
    logistics = Notice(
        "CEB513",
        "LOG01:YT0000000001",
        logistics_no="YT0000000001",
        status="S",
        time=AT,
        fields={"logisticsStatus": "S"},
    )
    report = import_records(
        migrated,
        parsed(
            [
                logistics,
                _notice("CEB623"),
                _notice("CEB624", "800", returnInfo="撤销成功"),
            ]
        ),
    )  # type: ignore[list-item]
    assert report.notices == 3 and not report.rejections
    again = import_records(migrated, parsed([_notice("CEB624", "800", returnInfo="撤销成功")]))  # type: ignore[list-item]
    assert again.notices == 1
    with migrated.connect() as conn:
        assert conn.execute(select(NOTICE.c.id)).all().__len__() == 3
    assert sorted(_history(migrated)) == sorted(
        ["status", "logistics", "cancel_request", "cancel_receipt"]
    )
    # the hub's decision index: the list no longer stands
    assert load_index(migrated).lookup("YT0000000001") is None
    assert load_index_for(migrated, "YT0000000001").lookup("YT0000000001") is None
    # edges: the list comes again, marked cancelled, and their index withdraws it
    body, _ = _sync_all(migrated, cursor)
    items = body["declarations"]
    assert isinstance(items, list) and len(items) == 1
    assert items[0]["declaration"]["extra"]["listState"] == "cancelled"
    decls, statuses = parse_page(body)
    edge = DeclarationIndex()
    full, _ = _sync_all(migrated)
    edge.add_all(parse_page(full)[0])
    assert edge.lookup("YT0000000001") is None
    assert statuses == [(decls[0].kind, KEY, 800)]


def test_accepted_return_gives_quota_back_on_the_edge_copy(
    migrated: Engine, tmp_path: object
) -> None:
    import_records(migrated, parsed([inventory(1), receipt(1, 800)]))
    import_records(migrated, parsed([_notice("CEB625"), _notice("CEB626", "800")]))  # type: ignore[list-item]
    hub_entry = load_index(migrated).lookup("YT0000000001")
    assert hub_entry is not None and hub_entry.returned
    body, _ = _sync_all(migrated)
    decls, statuses = parse_page(body)
    cache = DeclarationCache(f"{tmp_path}/edge.db")
    try:
        cache.store(decls, statuses, body["next_cursor"])  # type: ignore[arg-type]
        entry = cache.reader().lookup("YT0000000001")  # what the edge's engine reads
    finally:
        cache.close()
    assert entry is not None and entry.returned
    assert "CEB626 800" in entry.history


def test_a_refused_return_changes_nothing(migrated: Engine) -> None:
    import_records(migrated, parsed([inventory(1), receipt(1, 800)]))
    import_records(migrated, parsed([_notice("CEB626", "100")]))  # type: ignore[list-item]
    entry = load_index(migrated).lookup("YT0000000001")
    assert entry is not None and not entry.returned and entry.status == 800
    body, _ = _sync_all(migrated)
    assert "listState" not in body["declarations"][0]["declaration"]["extra"]  # type: ignore[index]


def test_a_notice_before_its_list_is_applied_when_the_list_arrives(migrated: Engine) -> None:
    import_records(migrated, parsed([_notice("CEB624", "800")]))  # type: ignore[list-item]
    import_records(migrated, parsed([inventory(1), receipt(1, 800)]))
    assert load_index(migrated).lookup("YT0000000001") is None
    body, _ = _sync_all(migrated)
    assert body["declarations"][0]["declaration"]["extra"]["listState"] == "cancelled"  # type: ignore[index]


def test_the_edge_copy_keeps_a_withdrawal(tmp_path: object) -> None:
    """appType 3 reaching the edge's store withdraws the list there too."""
    live, withdrawn = inventory(1), inventory(1, extra={"appType": "3"})
    cache = DeclarationCache(f"{tmp_path}/edge.db")
    try:
        cache.store([live])
        assert cache.reader().lookup("YT0000000001") is not None
        cache.store([withdrawn])
        gone = cache.reader().lookup("YT0000000001")
    finally:
        cache.close()
    assert gone is None
