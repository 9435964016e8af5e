"""``clearline check``: every wrong-release case, imported into a hub database and checked.

Each case of ``tests/inspection/test_wrong_release_cases.py`` is built once more while its
documents, customs statuses and notices are recorded; they are imported into a fresh hub
database through ``hub.importing.importer`` (statuses as customs receipts, notices as
CEB623-626), then the command decides the parcel from that database. The outcome and
reasons asserted are DESIGN's, as the in-process cases state them.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from clearline.cli import app
from hub.db.engine import make_engine
from hub.db.migrate import upgrade
from hub.importing.importer import import_records
from inspection.index import DeclarationIndex
from inspection.model import Declaration, DocKind, Notice, ParsedRecord, Receipt
from tests.inspection import test_wrong_release_cases as cases
from tests.inspection.conftest import RULES_NO_RANDOM

runner = CliRunner()

#: The receipt message answering each kind of declaration.
_RECEIPT_TYPE = {
    DocKind.INVENTORY: "CEB622",
    DocKind.EXPORT_INVENTORY: "CEB604",
    DocKind.GENERIC: "GENERIC",
    DocKind.POSTAL: "POSTAL",
}
T0 = datetime(2026, 11, 1, tzinfo=UTC)


class RecordingIndex(DeclarationIndex):
    """A declaration index that also records what was filed, in order, as records to import."""

    recorded: ClassVar[list[Declaration | Receipt | Notice]] = []

    def add(self, decl: Declaration) -> None:
        """Record and add one document."""
        self.recorded.append(decl)
        super().add(decl)

    def set_status(self, kind: DocKind, business_key: str, status: int) -> None:
        """Record a customs receipt (each one later than the last) and apply it."""
        at = T0 + timedelta(seconds=len(self.recorded))
        self.recorded.append(
            Receipt(_RECEIPT_TYPE[kind], kind, business_key, status, return_time=at)
        )
        super().set_status(kind, business_key, status)

    def apply_notice(self, notice: Notice) -> None:
        """Record and apply a notice."""
        self.recorded.append(notice)
        super().apply_notice(notice)


def _recorded(case: cases.Case, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Build the case with a recording index; return what it filed, in order."""
    RecordingIndex.recorded = []
    with monkeypatch.context() as m:
        m.setattr(cases, "DeclarationIndex", RecordingIndex)
        case.build()
    return RecordingIndex.recorded


def _hub_db(tmp_path: Path, items: list[Any]) -> str:
    """A fresh hub database holding ``items``, imported one record at a time, in order."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        for i, item in enumerate(items, start=1):
            report = import_records(engine, [ParsedRecord(i, item)], source=f"case-{i}")
            assert not report.rejections, report.rejections
    finally:
        engine.dispose()
    return url


def _weight_arg(kg: float | None) -> list[str]:
    if kg is None:
        return []
    return ["--weight", "nan" if math.isnan(kg) else str(kg)]


@pytest.mark.parametrize("case", cases.CASES, ids=[c.name for c in cases.CASES])
def test_check_gives_design_outcome(
    case: cases.Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = _recorded(case, monkeypatch)
    url = _hub_db(tmp_path, items)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES_NO_RANDOM, encoding="utf-8")
    facts = case.facts()
    args = ["check", case.codes[0], "--db", url, "--rules", str(rules), "--json"]
    result = runner.invoke(app, [*args, *_weight_arg(facts.weight_kg)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    reasons = {r["code"] for r in doc["reasons"]}
    assert doc["outcome"] == case.outcome.value, doc
    expected = {r.value for r in case.reasons}
    assert reasons == expected if case.exact else expected <= reasons, doc
    if case.note:
        assert any(case.note in n for n in doc["notes"]), doc["notes"]
    assert all(r["words"] and r["words"] != r["code"] for r in doc["reasons"])
    assert not doc["failed"]


def test_check_json_shows_masked_documents_and_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clean set: released, every check that ran passed, personal data masked."""
    clean = cases.Case("clean", cases._clean, cases.Outcome.RELEASE, frozenset())
    url = _hub_db(tmp_path, _recorded(clean, monkeypatch))
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES_NO_RANDOM, encoding="utf-8")
    result = runner.invoke(
        app, ["check", "yt0000000001", "--db", url, "--rules", str(rules), "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["outcome"] == "RELEASE" and doc["reasons"] == []
    assert doc["customs_status"] == 800
    docs = doc["documents"]
    assert docs["declaration"]["business_key"] == cases.KEY1
    assert docs["order"]["business_key"] == "EBP0001:ORD00000001"
    assert docs["payment"] and docs["waybill"]
    text = result.stdout
    assert "110101199003071234" not in text and "张三" not in text
    assert docs["declaration"]["buyer_id_number"].startswith("110*")
    ran = {c["check"]: c for c in doc["checks"]}
    assert ran["three documents agree"]["ran"] and ran["three documents agree"]["passed"]
    assert all(c["passed"] for c in doc["checks"] if c["ran"])
    assert any("declared gross weight" in a for a in doc["assumed"])


def test_check_of_an_unknown_code_is_not_declared(tmp_path: Path) -> None:
    url = _hub_db(tmp_path, [])
    result = runner.invoke(app, ["check", "NOSUCH0001", "--db", url, "--weight", "1", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["outcome"] == "HOLD"
    assert [r["code"] for r in doc["reasons"]] == ["NOT_DECLARED"]
    plain = runner.invoke(app, ["check", "NOSUCH0001", "--db", url, "--weight", "1"])
    assert plain.exit_code == 0 and "NOT_DECLARED" in plain.stdout


def test_the_human_answer_follows_the_terminal_language(tmp_path: Path) -> None:
    """A zh locale gets the reasons, checks and assumptions in Chinese; codes stay codes."""
    url = _hub_db(tmp_path, [])
    args = ["check", "NOSUCH0001", "--db", url, "--weight", "1"]
    zh = runner.invoke(app, args, env={"LANG": "zh_CN.UTF-8", "CLEARLINE_LANG": ""})
    assert zh.exit_code == 0 and "NOT_DECLARED" in zh.stdout
    assert "此包裹没有申报单" in zh.stdout and "称重 1.0 kg，稳定" in zh.stdout
    assert "no declaration" not in zh.stdout and "did not run" not in zh.stdout
    en = runner.invoke(app, args, env={"LANG": "en_GB.UTF-8", "CLEARLINE_LANG": ""})
    assert "no declaration was filed for this parcel" in en.stdout and "checks:" in en.stdout
