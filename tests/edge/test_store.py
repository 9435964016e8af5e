"""The edge's SQLite-kept index decides every customs case exactly as the in-memory one does."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from contracts.clock import ManualClock
from contracts.reasons import Outcome, Reason
from edge.cache import DeclarationCache
from edge.store import SqliteBooks, decode, encode
from inspection.index import DeclarationIndex
from inspection.model import DocKind, Notice
from inspection.pipeline import decide_parcel
from inspection.rules import RuleSet
from simulators.sample_declarations import parcel_sets
from tests.inspection import test_index, test_wrong_release_cases
from tests.inspection.builders import T0, good_facts, inventory, order, payment, purchase, waybill

CLOCK = ManualClock(T0)


def _sqlite_index() -> DeclarationIndex:
    return DeclarationIndex(SqliteBooks(sqlite3.connect(":memory:", isolation_level=None)))


@pytest.fixture
def on_sqlite(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every index the customs test modules build is kept in SQLite instead of memory."""
    for module in (test_index, test_wrong_release_cases):
        monkeypatch.setattr(module, "DeclarationIndex", _sqlite_index)
    yield


def _cases() -> list[Callable[..., None]]:
    return [getattr(test_index, n) for n in dir(test_index) if n.startswith("test_")]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c.__name__)
def test_index_cases_on_sqlite(
    case: Callable[[RuleSet], None], on_sqlite: None, rules: RuleSet
) -> None:
    case(rules)


@pytest.mark.parametrize("case", test_wrong_release_cases.CASES, ids=lambda c: c.name)
def test_wrong_release_paths_closed_on_sqlite(
    case: test_wrong_release_cases.Case, on_sqlite: None, rules: RuleSet
) -> None:
    test_wrong_release_cases.test_wrong_release_path_is_closed(case, rules)


def test_records_round_trip_without_personal_fields() -> None:
    """A stored record decodes to the declaration, less what the edge never keeps."""
    ps = next(iter(parcel_sets(1, seed=3)))
    for decl in ps.declarations():
        back = decode(encode(decl))
        kept = {k: decl.extra[k] for k in ("goodsInfo", "insuredFee") if decl.extra.get(k)}
        assert back == replace(decl, buyer_telephone="", sender="", addressee="", extra=kept)
    assert ps.order.buyer_telephone  # the generator does fill what is left out


def test_a_restart_answers_from_the_file_with_state_and_ledger(
    tmp_path: Path, rules: RuleSet
) -> None:
    """Statuses, notices, withdrawals and the buyer's year survive closing the cache."""
    cache = DeclarationCache(tmp_path / "cache.db")
    for i in range(1, 7):
        cache.store(purchase(i, Decimal("4990.00"), decl_time=T0 + timedelta(hours=i)),
                    [(DocKind.INVENTORY, f"AG001:COP{i:08d}", 800)])  # fmt: skip
    cache.store([], [], cursor="42")
    cache.close()
    again = DeclarationCache(tmp_path / "cache.db")
    idx = again.reader()
    assert again.meta("cursor") == "42" and len(idx) == 6
    d = decide_parcel(idx, ["YT0000000006"], good_facts(), rules, CLOCK).decision
    assert d.reasons == (Reason.ANNUAL_LIMIT,)
    again.close()


def test_the_reader_sees_a_page_once_told(tmp_path: Path, rules: RuleSet) -> None:
    """The engine's reader answers from its hot set until the sync says the books changed."""
    cache = DeclarationCache(tmp_path / "cache.db")
    reader = cache.reader()
    assert decide_parcel(reader, ["YT0000000001"], good_facts(), rules, CLOCK).decision.reasons == (
        Reason.NOT_DECLARED,
    )
    docs = [order(1), payment(1), waybill(1), inventory(1)]
    cache.store(docs, [(DocKind.INVENTORY, "AG001:COP00000001", 800)])
    reader.forget()  # what the engine does with a SyncApplied: nothing is written twice
    d = decide_parcel(reader, ["YT0000000001"], good_facts(), rules, CLOCK).decision
    assert d.outcome is Outcome.RELEASE
    # a cancellation accepted by customs withdraws the list
    cache.store([], notices=[Notice("CEB624", "AG001:COP00000001", status="800")])
    reader.forget()
    d = decide_parcel(reader, ["YT0000000001"], good_facts(), rules, CLOCK).decision
    assert d.reasons == (Reason.NOT_DECLARED,)
    assert len(reader) == 0
    cache.close()


def test_an_older_cache_is_indexed_once(tmp_path: Path, rules: RuleSet) -> None:
    """A cache file with whole JSON declarations is read into the index at the next start."""
    import json

    from inspection.codec import declaration_to_dict

    path = tmp_path / "cache.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE decl (kind TEXT, key TEXT, body TEXT, PRIMARY KEY (kind, key))")
    db.execute("CREATE TABLE status (kind TEXT, key TEXT, status INTEGER, PRIMARY KEY (kind, key))")
    for d in (order(1), payment(1), waybill(1), inventory(1)):
        db.execute("INSERT INTO decl VALUES (?, ?, ?)",
                   (d.kind.value, d.business_key, json.dumps(declaration_to_dict(d))))  # fmt: skip
    db.execute("INSERT INTO status VALUES ('inventory', 'AG001:COP00000001', 800)")
    db.commit()
    db.close()
    cache = DeclarationCache(path)
    assert cache.upgrade() == 4 and cache.upgrade() == 0
    d = decide_parcel(cache.reader(), ["YT0000000001"], good_facts(), rules, CLOCK).decision
    assert d.outcome is Outcome.RELEASE
    assert cache.count() == 4
    cache.close()


def test_a_write_to_a_reader_is_refused_not_lost(tmp_path: Path) -> None:
    """The engine's reader cannot be written: a write there would never reach a decision."""
    cache = DeclarationCache(tmp_path / "cache.db")
    try:
        reader = cache.reader()
        assert not reader.writable
        with pytest.raises(RuntimeError, match="write through that store's writer"):
            reader.add(inventory(1))
        with pytest.raises(RuntimeError, match="store's writer"):
            reader.set_status(DocKind.INVENTORY, "AG001:COP00000001", 800)
        cache.store([inventory(1)], [(DocKind.INVENTORY, "AG001:COP00000001", 800)])
        reader.forget()
        entry = reader.lookup("YT0000000001")
        assert entry is not None and entry.status == 800
    finally:
        cache.close()
