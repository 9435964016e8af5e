"""``clearline import`` on real CEB and postal files: JSON report, table, exit codes, masking."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from hub.cli.importing import import_command
from hub.db.engine import make_engine
from hub.db.models import DECLARATION
from hub.importing.loader import iter_declarations, latest_statuses
from inspection.formats.ceb_write import write_ceb
from inspection.formats.postal import write_postal_json
from inspection.model import Declaration, DocKind, GoodsLine, Receipt
from tests.hub.conftest import BUYER_ID, BUYER_PHONE, T0, inventory, receipt

FILE_KEYS = {
    "file",
    "format",
    "records_read",
    "accepted",
    "rejected",
    "new",
    "updated",
    "unchanged",
    "receipts_applied",
    "error",
    "rejections",
}

app = typer.Typer()
app.command()(import_command)


def _run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def _write(path: Path, message_type: str, records: list[Declaration] | list[Receipt]) -> Path:
    with path.open("wb") as f:
        write_ceb(f, message_type, records)
    return path


def _doc(result: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def _stored(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(DECLARATION)).scalar_one())
    engine.dispose()
    return count


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'hub.db'}"


def test_json_report_of_a_ceb621_file_then_its_receipts(tmp_path: Path, db_url: str) -> None:
    inv = _write(tmp_path / "inv.xml", "CEB621", [inventory(i) for i in range(1, 6)])
    result = _run(str(inv), "--db", db_url, "--json")
    assert result.exit_code == 0, result.output
    doc = _doc(result)
    assert set(doc) == {"files", "totals"}
    entry = doc["files"][0]
    assert set(entry) >= FILE_KEYS
    assert (entry["format"], entry["records_read"], entry["new"], entry["error"]) == (
        "CEB621",
        5,
        5,
        None,
    )
    assert doc["totals"]["accepted"] == 5
    receipts = [receipt(i, 800, T0 + timedelta(hours=1)) for i in (1, 2, 9)]
    rcpt = _write(tmp_path / "rcpt.xml", "CEB622", receipts)
    again = _doc(_run(str(inv), str(rcpt), "--db", db_url, "--json"))
    first, second = again["files"]
    assert (first["unchanged"], first["new"], first["updated"]) == (5, 0, 0)
    assert (second["format"], second["receipts_applied"], second["receipts_pending"]) == (
        "CEB622",
        2,
        1,
    )
    assert again["totals"]["records_read"] == 8
    engine = make_engine(db_url)
    assert latest_statuses(engine) == {
        (DocKind.INVENTORY, "AG001:COP00000001"): 800,
        (DocKind.INVENTORY, "AG001:COP00000002"): 800,
    }
    assert [d.business_key for d in iter_declarations(engine)][:1] == ["AG001:COP00000001"]
    engine.dispose()


def test_rejected_records_are_listed_and_masked(tmp_path: Path, db_url: str) -> None:
    good = _write(tmp_path / "good.xml", "CEB621", [inventory(1), inventory(2)])
    text = good.read_text(encoding="utf-8")
    text = text.replace("<ceb:grossWeight>1.20000</ceb:grossWeight>", "", 1)
    text = text.replace(">9610</ceb:tradeMode>", ">0110</ceb:tradeMode>")
    bad = tmp_path / "bad.xml"
    bad.write_text(text, encoding="utf-8")
    result = _run(str(bad), "--db", db_url, "--json")
    assert result.exit_code == 0  # rejected records are not a failure of the file
    entry = _doc(result)["files"][0]
    assert (entry["records_read"], entry["accepted"], entry["rejected"]) == (2, 0, 2)
    assert [(r["index"], r["field"]) for r in entry["rejections"]] == [
        (1, "InventoryHead.grossWeight"),
        (2, "InventoryHead.tradeMode"),
    ]
    assert BUYER_ID not in result.output
    assert BUYER_PHONE not in result.output
    assert _stored(db_url) == 0


def test_a_file_of_another_format_is_rejected_whole_with_exit_2(
    tmp_path: Path, db_url: str
) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><body>not a declaration</body></html>", encoding="utf-8")
    inv = _write(tmp_path / "inv.xml", "CEB621", [inventory(1)])
    result = _run(str(page), str(inv), "--db", db_url, "--json")
    assert result.exit_code == 2
    doc = _doc(result)
    assert "not a CEB message" in doc["files"][0]["error"]
    assert doc["files"][0]["records_read"] == 0
    assert doc["files"][1]["new"] == 1  # the other file is still imported
    assert doc["totals"]["files_failed"] == 1
    claimed = _doc(_run(str(inv), "--db", db_url, "--format", "CEB311", "--json"))
    assert "claimed CEB311 but the file is CEB621" in claimed["files"][0]["error"]
    missing = _run(str(tmp_path / "nope.xml"), "--db", db_url, "--json")
    assert missing.exit_code == 2
    assert "cannot read the file" in _doc(missing)["files"][0]["error"]


def test_a_truncated_file_keeps_what_was_read_before_the_break(tmp_path: Path, db_url: str) -> None:
    full = _write(tmp_path / "full.xml", "CEB621", [inventory(i) for i in range(1, 11)])
    data = full.read_bytes()
    cut = data.index(b"<ceb:Inventory>", data.index(b"COP00000006"))  # start of record 7
    short = tmp_path / "short.xml"
    short.write_bytes(data[: cut + 40])
    result = _run(str(short), "--db", db_url, "--json")
    assert result.exit_code == 2
    entry = _doc(result)["files"][0]
    assert entry["new"] == 6
    assert entry["broken_at"] == 7
    assert entry["error"].startswith("the file broke at record 7")
    assert _stored(db_url) == 6


def test_postal_json_items_are_imported(tmp_path: Path, db_url: str) -> None:
    item = Declaration(
        kind=DocKind.POSTAL,
        message_type="CN23",
        business_key="RR123456785CN",
        logistics_no="RR123456785CN",
        category="sale_of_goods",
        addressee="张伟",
        consignee_address="上海市浦东新区世纪大道100号",
        gross_weight_kg=Decimal("0.75"),
        goods_value=Decimal("300.00"),
        currency="USD",
        lines=(GoodsLine(1, "851830", "蓝牙耳机", qty=Decimal(2), total_price=Decimal("300.00")),),
    )
    path = tmp_path / "items.json"
    with path.open("wb") as f:
        write_postal_json(f, [item])
    entry = _doc(_run(str(path), "--db", db_url, "--json"))["files"][0]
    assert (entry["format"], entry["new"], entry["rejections"]) == ("postal-json", 1, [])
    engine = make_engine(db_url)
    stored = list(iter_declarations(engine, [DocKind.POSTAL]))
    engine.dispose()
    assert [d.business_key for d in stored] == ["RR123456785CN"]


def test_table_output_and_default_url_from_the_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    inv = _write(tmp_path / "inv.xml", "CEB621", [inventory(1), inventory(2)])
    result = _run(str(inv), env={"CLEARLINE_DATABASE_URL": url})
    assert result.exit_code == 0
    assert "Import report" in result.stdout
    assert "CEB621" in result.stdout
    assert BUYER_ID not in result.output
    assert _stored(url) == 2


def test_unusable_database_url_exits_1(tmp_path: Path) -> None:
    inv = _write(tmp_path / "inv.xml", "CEB621", [inventory(1)])
    result = _run(str(inv), "--db", "mysql://root:hunter2@localhost/db", "--json")
    assert result.exit_code == 1
    assert "not supported" in result.stderr
    assert "hunter2" not in result.output


def test_a_terminal_gets_a_progress_bar_on_stderr(tmp_path: Path, db_url: str) -> None:
    inv = _write(tmp_path / "inv.xml", "CEB621", [inventory(i) for i in range(1, 4)])
    size_kb = f"{inv.stat().st_size / 1000:.1f}"
    result = _run(str(inv), "--db", db_url, env={"FORCE_COLOR": "1"})
    assert result.exit_code == 0
    assert f"{size_kb}/{size_kb} kB" in result.stderr
    assert "inv.xml" in result.stderr
    assert "Import report" in result.stdout


def test_a_directory_of_every_message_type_exits_0(db_url: str) -> None:
    """Files written from the specification: orders in a DxpMsg envelope, logistics status,
    cancellation and return with their receipts are read, none is a failure."""
    spec = Path(__file__).parents[2] / "inspection" / "data" / "ceb" / "spec"
    names = ["dxp_ceb311_spec.xml", "ceb311_spec.xml", "ceb513_spec.xml", "ceb623_spec.xml",
             "ceb624_spec.xml", "ceb625_spec.xml", "ceb626_spec.xml"]  # fmt: skip
    result = _run(*(str(spec / n) for n in names), "--db", db_url, "--json")
    assert result.exit_code == 0, result.output
    files = {Path(f["file"]).name: f for f in _doc(result)["files"]}
    assert all(f["error"] is None and f["rejected"] == 0 for f in files.values())
    assert files["dxp_ceb311_spec.xml"]["new"] == 2
    assert files["ceb311_spec.xml"]["unchanged"] == 2
    assert files["ceb513_spec.xml"]["notices"] == 2
    assert [files[n]["notices"] for n in names[3:]] == [1, 1, 1, 1]
    assert _stored(db_url) == 2  # the two orders, once


def test_a_negative_receipt_leaves_the_status_alone(tmp_path: Path, db_url: str) -> None:
    """Customs' error about a message (returnStatus < 0) is kept in history, not as status."""
    inv = _write(tmp_path / "inv.xml", "CEB621", [inventory(1)])
    released = _write(tmp_path / "r1.xml", "CEB622", [receipt(1, 800, T0 + timedelta(hours=1))])
    error = _write(tmp_path / "r2.xml", "CEB622", [receipt(1, -304001, T0 + timedelta(hours=2))])
    result = _run(str(inv), str(released), str(error), "--db", db_url, "--json")
    assert result.exit_code == 0, result.output
    engine = make_engine(db_url)
    assert latest_statuses(engine) == {(DocKind.INVENTORY, "AG001:COP00000001"): 800}
    engine.dispose()


def test_the_human_report_follows_the_terminal_language(tmp_path: Path, db_url: str) -> None:
    """A zh locale gets the report in Chinese; any other locale, or none, in English."""
    good = _write(tmp_path / "good.xml", "CEB621", [inventory(1)])
    zh = _run(str(good), "--db", db_url, env={"LANG": "zh_CN.UTF-8", "CLEARLINE_LANG": ""})
    assert zh.exit_code == 0 and "导入报告" in zh.output and "Import report" not in zh.output
    en = _run(str(good), "--db", db_url, env={"LANG": "en_GB.UTF-8", "CLEARLINE_LANG": ""})
    assert en.exit_code == 0 and "Import report" in en.output and "导入报告" not in en.output
    chosen = _run(str(good), "--db", db_url, env={"LANG": "en_GB.UTF-8", "CLEARLINE_LANG": "zh"})
    assert "导入报告" in chosen.output
