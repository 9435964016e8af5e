"""Large files are read in a second process; the report and the stored rows stay the same."""

from __future__ import annotations

import io
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from contracts.clock import ManualClock
from hub.db.engine import make_engine
from hub.db.migrate import upgrade
from hub.importing import pipe as import_pipe
from hub.importing.importer import FileReport, import_file
from hub.importing.loader import iter_declarations
from hub.importing.pipe import PipedReader
from inspection.formats.ceb_write import write_ceb
from inspection.model import Declaration
from tests.hub.conftest import T0, inventory, line, receipt


def _engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


def _file(path: Path, decls: list[Declaration]) -> Path:
    out = io.BytesIO()
    write_ceb(out, "CEB621", decls, cop_code="AG001")
    path.write_bytes(out.getvalue())
    return path


def _report(report: FileReport) -> dict[str, Any]:
    doc = report.as_json()
    doc.pop("seconds")
    return doc


#: How each file is imported: in this process, by one reader process, by three reader
#: processes taking turns at batches of two records.
MODES = (("inproc", 1 << 40, 1), ("piped", 0, 1), ("piped3", 0, 3))


def _both(tmp_path: Path, name: str, data: bytes, *, rounds: int = 1) -> list[dict[str, Any]]:
    """Import ``data`` in-process and piped; return the in-process and piped reports.

    The import by three readers must give exactly what the import by one reader gives.
    """
    src = tmp_path / name
    src.write_bytes(data)
    docs = []
    for mode, min_bytes, readers in MODES:
        engine = _engine(tmp_path / f"{mode}-{name}.db")
        try:
            for _ in range(rounds):
                report = import_file(
                    engine,
                    src,
                    clock=ManualClock(T0),
                    batch_size=3,
                    pipe_min_bytes=min_bytes,
                    readers=readers,
                    pipe_batch=2,
                )
            docs.append(_report(report))
            decls = sorted(iter_declarations(engine), key=lambda d: d.business_key)
            docs.append({"stored": decls})
        finally:
            engine.dispose()
    assert docs[4:] == docs[2:4], "three readers differ from one"
    return docs[:4]


def test_piped_import_matches_the_in_process_import(tmp_path: Path) -> None:
    decls = [inventory(n, lines=(line(1), line(2, name="运动鞋"))) for n in range(1, 9)]
    decls[3] = replace(decls[3], trade_mode="0110")  # rejected by the reader
    decls[5] = replace(decls[5], freight=Decimal("1.123456"))  # rejected by the row checks
    src = _file(tmp_path / "a.xml", decls)
    inproc, inproc_rows, piped, piped_rows = _both(tmp_path, "a.xml", src.read_bytes())
    assert piped == inproc
    assert piped_rows == inproc_rows
    assert (piped["new"], piped["rejected"]) == (6, 2)
    assert [r["index"] for r in piped["rejections"]] == [4, 6]


def test_piped_reimport_counts_unchanged(tmp_path: Path) -> None:
    src = _file(tmp_path / "b.xml", [inventory(n) for n in range(1, 6)])
    inproc, _rows, piped, _rows2 = _both(tmp_path, "b.xml", src.read_bytes(), rounds=2)
    assert piped == inproc
    assert piped["unchanged"] == 5


def test_piped_import_of_a_broken_file_keeps_what_came_before(tmp_path: Path) -> None:
    data = _file(tmp_path / "c.xml", [inventory(n) for n in range(1, 8)]).read_bytes()
    cut = data[: data.index(b"<ceb:Inventory>", data.index(b"COP00000005"))] + b"<ceb:Inv"
    inproc, inproc_rows, piped, piped_rows = _both(tmp_path, "c.xml", cut)
    assert piped == inproc
    assert piped_rows == inproc_rows
    assert piped["broken_at"] == 6 and piped["new"] == 5
    assert "XML is not well-formed" in piped["error"]


def test_piped_import_of_a_file_that_is_not_ceb_is_rejected_whole(tmp_path: Path) -> None:
    inproc, _r1, piped, _r2 = _both(tmp_path, "d.xml", b"<html><body>no</body></html>")
    assert piped == inproc
    assert piped["error"] and piped["records_read"] == 0


def test_imported_declarations_feed_the_sync_cursor(tmp_path: Path) -> None:
    src = _file(tmp_path / "e.xml", [inventory(n) for n in range(1, 5)])
    engine = _engine(tmp_path / "e.db")
    try:
        report = import_file(engine, src, pipe_min_bytes=0)
        assert report.new == 4
        with engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(text("sync_change")))
            assert count.scalar_one() == 4
    finally:
        engine.dispose()


def test_a_record_broken_inside_another_readers_batch_stops_the_import_there(
    tmp_path: Path,
) -> None:
    data = _file(tmp_path / "f.xml", [inventory(n) for n in range(1, 10)]).read_bytes()
    at = data.index(b"</ceb:buyerName>", data.index(b"COP00000006"))
    broken = data[:at] + b"<ceb:x>" + data[at:]  # record 6: reader 3 of 3 (batch 2)
    inproc, inproc_rows, piped, piped_rows = _both(tmp_path, "f.xml", broken)
    assert piped == inproc
    assert piped_rows == inproc_rows
    assert piped["broken_at"] == 6 and piped["new"] == 5


def test_records_outside_the_plain_grammar_read_the_same_in_every_reader(tmp_path: Path) -> None:
    data = _file(tmp_path / "g.xml", [inventory(n) for n in range(1, 10)]).read_bytes()
    at = data.index(b"<ceb:buyerName>", data.index(b"COP00000004"))
    odd = data[:at] + b"<!-- note -->" + data[at:]  # record 4: read by lxml on its own
    inproc, inproc_rows, piped, piped_rows = _both(tmp_path, "g.xml", odd)
    assert piped == inproc
    assert piped_rows == inproc_rows
    assert (piped["new"], piped["rejected"], piped["error"]) == (9, 0, None)


def test_receipts_come_through_several_readers_in_order(tmp_path: Path) -> None:
    out = io.BytesIO()
    write_ceb(out, "CEB622", [receipt(n, 800 if n % 2 else 500) for n in range(1, 8)])
    inproc, _r1, piped, _r2 = _both(tmp_path, "h.xml", out.getvalue())
    assert piped == inproc
    assert (piped["new"], piped["receipts_pending"]) == (7, 7)


def test_a_reader_process_that_dies_is_reported_not_waited_for(tmp_path: Path) -> None:
    src = _file(tmp_path / "k.xml", [inventory(n) for n in range(1, 60)])
    with PipedReader(src, None, "sqlite", readers=2, batch=10) as reader:
        reader._channels[1]._proc.kill()  # before it could send anything
        with pytest.raises(RuntimeError, match="ended unexpectedly"):
            list(reader.items())


@pytest.mark.parametrize(("cores", "readers"), [(1, 1), (2, 1), (3, 2), (4, 3), (8, 4)])
def test_one_reader_per_core_beside_the_writer(
    monkeypatch: pytest.MonkeyPatch, cores: int, readers: int
) -> None:
    monkeypatch.setattr(import_pipe, "usable_cores", lambda: cores)
    assert import_pipe.reader_count() == readers
