"""The import service: new, amended and identical filings, rejections, receipts, breaks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from contracts.clock import ManualClock
from hub.db.engine import create_tables, make_engine
from hub.db.models import DECLARATION, DECLARATION_LINE, RECEIPT, STATUS_HISTORY
from hub.importing.importer import FileReport, import_file, import_records
from hub.importing.loader import iter_declarations, latest_statuses
from inspection.model import (
    LINELESS_KINDS,
    Declaration,
    DocKind,
    FormatError,
    GoodsLine,
    ParsedRecord,
    RecordError,
)
from tests.hub.conftest import BUYER_ID, T0, inventory, line, parsed, receipt


def _count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _history(engine: Engine) -> list[tuple[str, int | None, int | None]]:
    h = STATUS_HISTORY.c
    with engine.connect() as conn:
        rows = conn.execute(select(h.event, h.old_status, h.new_status).order_by(h.id))
        return [tuple(r) for r in rows]


def _head(engine: Engine, key: str) -> Any:
    d = DECLARATION.c
    with engine.connect() as conn:
        return conn.execute(select(DECLARATION).where(d.business_key == key)).one()


def test_new_declarations_are_stored_with_lines_and_their_filing_in_the_row(
    engine: Engine,
) -> None:
    decls = [inventory(1), inventory(2, lines=(line(1), line(2, name="运动鞋")))]
    report = import_records(engine, parsed(decls), source="a.xml", format_label="CEB621")
    assert (report.records_read, report.new, report.accepted, report.rejected) == (2, 2, 2, 0)
    assert _count(engine, DECLARATION) == 2
    assert _count(engine, DECLARATION_LINE) == 3
    assert _history(engine) == []  # created_at, content_hash and source_file say it
    if engine.dialect.name == "sqlite":  # the import's connection goes back checked again
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    head = _head(engine, "AG001:COP00000002")
    assert head.source_file == "a.xml"
    assert head.customs_status is None
    assert head.buyer_id_number == BUYER_ID  # stored as filed: the checks need it
    assert list(iter_declarations(engine)) == decls


def test_identical_refiling_changes_nothing(engine: Engine) -> None:
    clock = ManualClock(T0)
    import_records(engine, parsed([inventory(1), inventory(2)]), clock=clock)
    before = _head(engine, "AG001:COP00000001")
    clock.advance(3600)
    again = import_records(engine, parsed([inventory(1), inventory(2)]), clock=clock)
    assert (again.new, again.updated, again.unchanged, again.accepted) == (0, 0, 2, 2)
    assert _head(engine, "AG001:COP00000001") == before
    assert _history(engine) == []
    assert _count(engine, DECLARATION_LINE) == 2


def test_changed_refiling_updates_row_and_lines_and_records_an_amendment(engine: Engine) -> None:
    clock = ManualClock(T0)
    import_records(engine, parsed([inventory(1)]), clock=clock, source="first.xml")
    first = _head(engine, "AG001:COP00000001")
    clock.advance(60)
    amended = inventory(1, freight=Decimal("12.50000"), lines=(line(1), line(2), line(3)))
    report = import_records(engine, parsed([amended]), clock=clock, source="second.xml")
    assert (report.new, report.updated, report.unchanged) == (0, 1, 0)
    head = _head(engine, "AG001:COP00000001")
    assert head.id == first.id
    assert head.freight == Decimal("12.5")
    assert head.content_hash != first.content_hash
    assert head.created_at == first.created_at
    assert head.updated_at == T0 + timedelta(seconds=60)
    assert head.source_file == "second.xml"
    assert _count(engine, DECLARATION_LINE) == 3
    assert [e for e, _o, _n in _history(engine)] == ["filed", "amended"]
    h = STATUS_HISTORY.c
    with engine.connect() as conn:
        filed = conn.execute(select(h.at, h.content_hash, h.source_file).where(h.event == "filed"))
        assert filed.one() == (first.created_at, first.content_hash, "first.xml")
    assert list(iter_declarations(engine)) == [amended]


def test_same_key_twice_in_one_file_keeps_the_last_content(engine: Engine) -> None:
    later = inventory(1, buyer_name="李四")
    items = [inventory(1), inventory(2), later, inventory(1, buyer_name="李四")]
    report = import_records(engine, parsed(items), batch_size=3)
    assert (report.new, report.updated, report.unchanged) == (2, 1, 1)
    assert _head(engine, "AG001:COP00000001").buyer_name == "李四"
    assert [e for e, _o, _n in _history(engine)] == ["filed", "amended"]  # COP00000001
    assert _count(engine, DECLARATION) == 2


def test_bad_records_are_listed_and_never_half_stored(engine: Engine) -> None:
    items: list[Declaration | RecordError] = [
        inventory(1),
        RecordError(2, "InventoryHead.grossWeight", "required field is missing or empty"),
        inventory(3, freight=Decimal("1.123456")),
        inventory(4, lines=(line(1), line(1))),
        inventory(5, business_key="  "),
        inventory(6, goods_value=Decimal("1E+15")),
        inventory(7, lines=(line(1, price=Decimal("NaN")),)),
        inventory(8, decl_time=datetime(1, 1, 1, 3, tzinfo=timezone(timedelta(hours=8)))),
        inventory(9),
    ]
    report = import_records(engine, parsed(items), batch_size=2)
    assert report.records_read == 9
    assert (report.new, report.rejected) == (2, 7)
    assert [(r.index, r.field) for r in report.rejections] == [
        (2, "InventoryHead.grossWeight"),
        (3, "freight"),
        (4, "gnum"),
        (5, "business_key"),
        (6, "goods_value"),
        (7, "lines[1].price"),
        (8, "decl_time"),  # before year 1 once in UTC
    ]
    assert _count(engine, DECLARATION) == 2
    assert _count(engine, DECLARATION_LINE) == 2
    assert report.records_read == report.accepted + report.rejected


def test_a_record_the_database_refuses_is_rejected_alone(pg_engine: Engine) -> None:
    items = [inventory(1), inventory(2, buyer_name="bad\x00name"), inventory(3)]
    report = import_records(pg_engine, parsed(items))
    assert report.new == 2
    assert [r.index for r in report.rejections] == [2]
    reason = report.rejections[0].reason
    assert reason.startswith("the database refused the record: ")
    assert "NUL" in reason
    assert BUYER_ID not in reason
    keys = {d.business_key for d in iter_declarations(pg_engine)}
    assert keys == {"AG001:COP00000001", "AG001:COP00000003"}


def test_newest_receipt_sets_the_status_and_every_receipt_is_history(engine: Engine) -> None:
    import_records(engine, parsed([inventory(1)]))
    later, earlier = T0 + timedelta(hours=2), T0 + timedelta(hours=1)
    report = import_records(engine, parsed([receipt(1, 800, later), receipt(1, 120, earlier)]))
    assert (report.new, report.receipts_applied, report.receipts_pending) == (2, 2, 0)
    head = _head(engine, "AG001:COP00000001")
    assert (head.customs_status, head.status_time) == (800, later)
    assert _history(engine) == [("status", None, 120), ("status", 120, 800)]
    stale = import_records(engine, parsed([receipt(1, 399, earlier + timedelta(minutes=5))]))
    assert stale.receipts_applied == 1
    assert _head(engine, "AG001:COP00000001").customs_status == 800
    assert _history(engine)[-1] == ("status", 800, 800)
    assert latest_statuses(engine) == {(DocKind.INVENTORY, "AG001:COP00000001"): 800}


def test_an_identical_receipt_filed_twice_changes_nothing(engine: Engine) -> None:
    import_records(engine, parsed([inventory(1)]))
    import_records(engine, parsed([receipt(1, 500)]))
    again = import_records(engine, parsed([receipt(1, 500), receipt(1, 500)]))
    assert (again.new, again.unchanged, again.receipts_applied) == (0, 2, 0)
    assert _count(engine, RECEIPT) == 1
    assert len(_history(engine)) == 1  # the one status event


def test_receipt_before_its_declaration_is_applied_when_it_arrives(engine: Engine) -> None:
    early = import_records(engine, parsed([receipt(7, 800), receipt(8, 100)]), source="r.xml")
    assert (early.new, early.receipts_pending, early.receipts_applied) == (2, 2, 0)
    assert _count(engine, RECEIPT, RECEIPT.c.declaration_id.is_(None)) == 2
    later = import_records(engine, parsed([inventory(7), inventory(9)]), source="i.xml")
    assert (later.new, later.receipts_linked) == (2, 1)
    assert _head(engine, "AG001:COP00000007").customs_status == 800
    assert _count(engine, RECEIPT, RECEIPT.c.declaration_id.is_(None)) == 1
    assert latest_statuses(engine) == {(DocKind.INVENTORY, "AG001:COP00000007"): 800}


def test_receipts_in_the_same_file_as_their_declaration_apply(engine: Engine) -> None:
    report = import_records(engine, parsed([receipt(1, 800), inventory(1)]))
    assert (report.new, report.receipts_applied, report.receipts_pending) == (2, 1, 0)
    assert _head(engine, "AG001:COP00000001").customs_status == 800


def _breaking(good: int, at_start: bool = False) -> Iterator[ParsedRecord]:
    if at_start:
        raise FormatError("x.xml: XML root element 'html' is not a CEB message")
    yield from parsed([inventory(i) for i in range(1, good + 1)])
    raise FormatError("x.xml: XML is not well-formed at line 9")


def test_a_file_that_is_not_what_it_claims_stores_nothing(engine: Engine) -> None:
    report = import_records(engine, _breaking(0, at_start=True), source="x.xml")
    assert report.error == "x.xml: XML root element 'html' is not a CEB message"
    assert (report.records_read, report.accepted, report.broken_at) == (0, 0, 1)
    assert _count(engine, DECLARATION) == 0


def test_a_file_that_breaks_midway_keeps_the_records_before(engine: Engine) -> None:
    report = import_records(engine, _breaking(5), source="x.xml", batch_size=2)
    assert report.broken_at == 6
    assert report.error is not None
    assert report.error.startswith("the file broke at record 6: x.xml: XML is not well-formed")
    assert (report.records_read, report.new) == (5, 5)
    assert _count(engine, DECLARATION) == 5


def test_report_json_masks_personal_numbers() -> None:
    report = FileReport(file="a.xml", format="CEB621", records_read=1)
    report.rejections.append(RecordError(1, "buyerIdNumber", f"{BUYER_ID} is not valid"))
    report.error = f"phone 13800138000 in {BUYER_ID}"
    doc = report.as_json()
    text = repr(doc)
    assert BUYER_ID not in text
    assert "13800138000" not in text
    assert doc["rejections"][0]["field"] == "buyerIdNumber"
    assert doc["rejected"] == 1


def test_progress_callback_sees_every_batch(sqlite_engine: Engine) -> None:
    seen: list[int] = []
    items = [inventory(i) for i in range(1, 8)]
    import_records(sqlite_engine, parsed(items), batch_size=3, on_batch=seen.append)
    assert seen == [3, 6, 7]


def test_kinds_filter_and_chunked_streaming(sqlite_engine: Engine) -> None:
    order = replace(
        inventory(99, lines=()),
        kind=DocKind.ORDER,
        message_type="CEB311",
        business_key="EBP0001:ORD99",
        goods_value=Decimal("190"),
    )
    invs = [inventory(i, lines=tuple(line(g) for g in range(1, i % 3 + 2))) for i in range(1, 8)]
    import_records(sqlite_engine, parsed([*invs, order]))
    got = list(iter_declarations(sqlite_engine, [DocKind.INVENTORY], chunk=3))
    assert sorted(got, key=lambda d: d.business_key) == invs
    assert list(iter_declarations(sqlite_engine, [DocKind.ORDER])) == [order]
    assert len(list(iter_declarations(sqlite_engine, chunk=2))) == 8


def test_amounts_are_refused_beyond_what_the_database_keeps_exactly(engine: Engine) -> None:
    big = Decimal("12345678901.12345")  # 16 significant digits
    report = import_records(engine, parsed([inventory(1, goods_value=big)]))
    if engine.dialect.name == "sqlite":
        assert [r.field for r in report.rejections] == ["goods_value"]
        assert "keeps exactly" in report.rejections[0].reason
    else:
        assert report.new == 1
        assert next(iter_declarations(engine)).goods_value == big


_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    max_size=12,
)
_amount = st.one_of(
    st.none(),
    st.decimals(
        min_value=Decimal("-9999999999.99999"),
        max_value=Decimal("9999999999.99999"),
        places=5,
        allow_nan=False,
        allow_infinity=False,
    ),
)
_time = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2090, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))]),
    ),
)
_lines = st.lists(
    st.builds(
        GoodsLine,
        gnum=st.integers(1, 999),
        name=_text,
        hs_code=_text,
        qty=_amount,
        price=_amount,
        total_price=_amount,
        net_weight_kg=_amount,
    ),
    max_size=3,
    unique_by=lambda g: g.gnum,
).map(lambda lines: tuple(sorted(lines, key=lambda g: g.gnum)))
_declarations = st.lists(
    st.builds(
        Declaration,
        kind=st.sampled_from(list(DocKind)),
        message_type=st.sampled_from(["CEB621", "CEB311", "CN23", "GENERIC"]),
        business_key=_text.filter(lambda k: bool(k.strip())),
        buyer_name=_text,
        consignee_address=_text,
        decl_time=_time,
        goods_value=_amount,
        freight=_amount,
        gross_weight_kg=_amount,
        lines=_lines,
        extra=st.dictionaries(_text, _text, max_size=3),
    ).map(lambda d: replace(d, lines=()) if d.kind in LINELESS_KINDS else d),  # head only
    max_size=6,
    unique_by=lambda d: (d.kind, d.business_key),
)


@settings(max_examples=40, deadline=None)
@given(decls=_declarations)
def test_what_is_imported_reads_back_equal_and_reimports_unchanged(
    decls: list[Declaration],
) -> None:
    engine = make_engine("sqlite://")
    create_tables(engine)
    try:
        first = import_records(engine, parsed(decls), batch_size=4)
        assert (first.new, first.rejected) == (len(decls), 0)
        back = sorted(iter_declarations(engine, chunk=4), key=lambda d: (d.kind, d.business_key))
        assert back == sorted(decls, key=lambda d: (d.kind, d.business_key))
        again = import_records(engine, parsed(back), batch_size=4)
        assert again.unchanged == len(decls)
    finally:
        engine.dispose()


def test_a_payment_or_waybill_with_goods_lines_is_refused_by_name(engine: Engine) -> None:
    # CEB411 and CEB511 have a head only; the snapshot relies on it (hub.services.snapshot)
    inv = inventory(1)
    payment = replace(inv, kind=DocKind.PAYMENT, message_type="CEB411", business_key="P:1")
    waybill = replace(inv, kind=DocKind.WAYBILL, message_type="CEB511", business_key="W:1")
    report = import_records(engine, parsed([payment, waybill, replace(payment, lines=())]))
    assert (report.new, report.rejected) == (1, 2)
    assert [(r.index, r.field, r.reason) for r in report.rejections] == [
        (1, "lines", "a payment has no goods lines, yet 1 came"),
        (2, "lines", "a waybill has no goods lines, yet 1 came"),
    ]
    assert _count(engine, DECLARATION_LINE) == 0


def test_payment_and_waybill_files_import_whole_with_no_goods_lines(engine: Engine) -> None:
    # head-only messages as the CEB411 and CEB511 layouts give them (PaymentHead, LogisticsHead),
    # through the real reader: the refusal above never turns such a record away
    data = Path(__file__).resolve().parents[2] / "inspection" / "data" / "ceb"
    for name in ("ceb411_payments.xml", "ceb511_waybills.xml"):
        report = import_file(engine, data / name)
        assert report.error is None and report.accepted > 0, name
        # the files' own broken records (a missing field) are refused for that, none for lines
        assert all(r.field != "lines" for r in report.rejections), report.rejections
    with engine.connect() as conn:
        kinds = set(conn.execute(select(DECLARATION.c.kind).distinct()).scalars())
    assert kinds == {"payment", "waybill"}
    assert _count(engine, DECLARATION_LINE) == 0
