"""Property tests: the CEB reader survives any bytes, and write-then-read gives the same records."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspection.formats.ceb_fields import MESSAGE_TYPES
from inspection.formats.ceb_read import read_ceb
from inspection.formats.ceb_write import write_ceb
from inspection.model import (
    Declaration,
    DocKind,
    FormatError,
    GoodsLine,
    ParsedRecord,
    Receipt,
    RecordError,
)

DATA = Path(__file__).parent / "data" / "ceb"
GOLDEN = {
    "CEB621": (DATA / "ceb621_mixed.xml").read_bytes(),
    "CEB311": (DATA / "ceb311_orders.xml").read_bytes(),
    "CEB622": (DATA / "ceb622_receipts.xml").read_bytes(),
    "CEB411": (DATA / "ceb411_payments.xml").read_bytes(),
}
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CHINA = timezone(timedelta(hours=8))


def consume(data: bytes, message_type: str) -> list[ParsedRecord]:
    """Read everything; only ``FormatError`` may escape, and records must be well-typed."""
    got: list[ParsedRecord] = []
    try:
        got.extend(read_ceb(io.BytesIO(data), source="fuzz.xml", expected_type=message_type))
    except FormatError as err:
        assert str(err).startswith("fuzz.xml: ")
    for number, record in enumerate(got, 1):
        assert record.index == number
        assert isinstance(record.item, Declaration | Receipt | RecordError)
        if isinstance(record.item, RecordError):
            assert record.item.index == number
            assert record.item.field and record.item.reason
    return got


@FUZZ
@given(data=st.binary(max_size=2000), message_type=st.sampled_from(MESSAGE_TYPES))
def test_random_bytes_only_raise_format_error(data: bytes, message_type: str) -> None:
    consume(data, message_type)


@FUZZ
@given(
    name=st.sampled_from(sorted(GOLDEN)),
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 3), st.binary(min_size=0, max_size=8)),
        min_size=1,
        max_size=6,
    ),
)
def test_mutated_golden_files_only_raise_format_error(
    name: str, edits: list[tuple[float, int, bytes]]
) -> None:
    data = bytearray(GOLDEN[name])
    for where, how, junk in edits:
        at = int(where * (len(data) - 1))
        if how == 0:  # overwrite
            data[at : at + len(junk)] = junk
        elif how == 1:  # insert
            data[at:at] = junk
        elif how == 2:  # delete
            del data[at : at + 1 + len(junk)]
        else:  # truncate
            del data[at:]
    consume(bytes(data), name)


TEXT = st.text(
    alphabet=st.characters(
        codec="utf-8",
        exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"),
        exclude_characters="\ufffe\uffff",
    ),
    max_size=12,
).map(str.strip)
CODE = st.from_regex(r"[0-9A-Z]{1,10}", fullmatch=True)
NUMBER = st.from_regex(r"[0-9A-Za-z_-]{1,20}", fullmatch=True)
AMOUNT = st.decimals(min_value=0, max_value=10**9, places=5, allow_nan=False)
OPT_AMOUNT = st.none() | AMOUNT
TIME = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(CHINA)
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
#: ``declTime`` is a date (yyyyMMdd): midnight China time.
DATE = TIME.map(lambda t: t.replace(hour=0, minute=0, second=0, microsecond=0))
LINE = st.builds(
    GoodsLine,
    gnum=st.integers(1, 999),
    hs_code=st.from_regex(r"[0-9]{10}", fullmatch=True),
    name=TEXT,
    model=TEXT,
    qty=OPT_AMOUNT,
    unit=TEXT,
    price=OPT_AMOUNT,
    total_price=OPT_AMOUNT,
    currency=st.sampled_from(["", "142", "502"]),
    origin=TEXT,
)
EXTRA = st.dictionaries(st.sampled_from(["ebpName", "emsNo", "note", "zzLocal"]), TEXT, max_size=3)


@st.composite
def inventories(draw: st.DrawFn) -> Declaration:
    """A valid CEB621 declaration with random content."""
    agent, cop = draw(CODE), draw(NUMBER)
    return Declaration(
        kind=DocKind.INVENTORY,
        message_type="CEB621",
        business_key=f"{agent}:{cop}",
        agent_code=agent,
        cop_no=cop,
        order_no=draw(NUMBER),
        logistics_no=draw(st.just("") | NUMBER),
        ebc_name=draw(TEXT),
        trade_mode="9610",
        ie_flag="I",
        decl_time=draw(st.none() | DATE),
        buyer_id_number=draw(st.from_regex(r"[0-9]{17}[0-9X]", fullmatch=True)),
        buyer_name=draw(TEXT),
        consignee_address=draw(TEXT),
        freight=draw(OPT_AMOUNT),
        gross_weight_kg=draw(AMOUNT),
        net_weight_kg=draw(OPT_AMOUNT),
        lines=tuple(draw(st.lists(LINE, min_size=1, max_size=3))),
        extra=draw(EXTRA),
    )


@settings(max_examples=100, deadline=None)
@given(records=st.lists(inventories(), min_size=1, max_size=5))
def test_inventory_write_read_round_trip(records: list[Declaration]) -> None:
    out = io.BytesIO()
    assert write_ceb(out, "CEB621", records) == len(records)
    back = [
        r.item for r in read_ceb(io.BytesIO(out.getvalue()), source="rt", expected_type="CEB621")
    ]
    assert back == records


@settings(max_examples=100, deadline=None)
@given(
    key=st.tuples(CODE, NUMBER),
    status=st.integers(-999999, 999),
    when=st.none() | TIME,
    info=TEXT,
    invt_no=st.just("") | NUMBER,
)
def test_receipt_write_read_round_trip(
    key: tuple[str, str], status: int, when: datetime | None, info: str, invt_no: str
) -> None:
    receipt = Receipt(
        "CEB622", DocKind.INVENTORY, f"{key[0]}:{key[1]}", status, when, info, invt_no=invt_no
    )
    out = io.BytesIO()
    write_ceb(out, "CEB622", [receipt])
    (back,) = read_ceb(io.BytesIO(out.getvalue()), source="rt", expected_type="CEB622")
    assert back.item == receipt


def test_decimal_places_survive() -> None:
    record = Declaration(
        kind=DocKind.PAYMENT,
        message_type="CEB411",
        business_key="P:T",
        pay_code="P",
        pay_transaction_id="T",
        amount_paid=Decimal("0.00001"),
    )
    out = io.BytesIO()
    write_ceb(out, "CEB411", [record])
    (back,) = read_ceb(io.BytesIO(out.getvalue()), source="rt", expected_type="CEB411")
    assert isinstance(back.item, Declaration)
    assert str(back.item.amount_paid) == "0.00001"
