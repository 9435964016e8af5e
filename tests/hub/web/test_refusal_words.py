"""The import report speaks the page's language: every reason the real importers give a record,
and every whole-file error, is worded in Chinese on a Chinese page with its values and numbers
as written, and shown exactly as the importers wrote it on an English page. A new reason or
error the word tables do not know fails here."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import html as lxml_html
from rich.console import Console
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.clock import ManualClock
from hub.cli.importing import _summary
from hub.db.auth_models import Role
from hub.db.engine import create_tables, make_engine
from hub.importing import importer, rows
from hub.importing.importer import FileReport, import_file, import_records
from hub.services.auth import Principal
from hub.services.declarations import import_stream, save_upload
from hub.services.errors import Invalid
from hub.services.users import create_api_key
from hub.web import file_refusals, i18n, refusals
from inspection.formats import csvutil, detect, dxp, jsonstream
from inspection.formats.ceb_read import read_ceb
from inspection.model import (
    PASSED,
    Declaration,
    DocKind,
    FormatError,
    ParsedRecord,
    Receipt,
    RecordError,
)
from tests.hub.helpers_events import Hub, hub
from tests.hub.web.bad_files import DATA, INVENTORY, BadFile, all_files, ceb, put

__all__ = ["hub"]  # fixture used below

CJK = re.compile(r"[\u4e00-\u9fff]")
QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
#: Forms of messages the code holds but cannot give today: ``validate_s10`` checks the shape
#: and the check digit before asking ``s10_problem``, and libxml2 refuses a document without
#: a root element before the reader can say it found none.
UNREACHED = frozenset({
    "%(field)s %(value)s is not a valid S10 id: check digit does not match",
    "%(field)s %(value)s is not a valid S10 id: not 2 letters, 8 digits, a check digit and 2 "
    "letters",
    "no XML root element found, expected a CEB XML message",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Said:
    """One reason (``record``) or file error (``file``) a real importer gave."""

    kind: str
    text: str
    source: str = ""


def _principal(role: Role, enterprise: str = "") -> Principal:
    return Principal("api_key", uuid.uuid4(), f"{role.value}-1", role, enterprise)


def _collect(reports: list[FileReport], out: list[Said]) -> None:
    for r in reports:
        out.extend(Said("record", x.reason) for x in r.rejections)
        if r.error:
            out.append(Said("file", r.error, r.file))


def _upload(session: Session, who: Principal, name: str, data: bytes) -> FileReport:
    return import_stream(session, who, io.BytesIO(data), name, ManualClock(NOW))


def _generic(*lines: str) -> bytes:
    """A generic CSV of ``lines`` (code, mode, flag, enterprise, currency, value)."""
    head = "code,trade_mode,ie_flag,enterprise_code,currency,goods_value"
    return "\n".join((head, *lines)).encode()


def _filing_rules(session: Session) -> list[FileReport]:
    """Records refused by who files them: a filer of enterprise E1, the customs channel."""
    boss, e1 = _principal(Role.SUPERVISOR), _principal(Role.FILER, "E1")
    stored = _upload(session, boss, "e2.csv", _generic("YT9000000001,9610,I,E2,CNY,10"))
    assert stored.new == 1, stored
    mine = _generic(
        "YT9000000001,9610,I,E1,CNY,10",  # E2's business key
        "YT9000000002,9610,I,E2,CNY,10",  # in E2's name
        "YT9000000003,9610,I,,CNY,10",  # in no one's name
    )
    customs = _principal(Role.CUSTOMS)
    return [
        _upload(session, e1, "e1.csv", mine),
        _upload(session, e1, "r.csv", b"item_id,return_status\nRR123456785CN,800\n"),
        _upload(session, e1, "624.xml", (DATA / "ceb/spec/ceb624_spec.xml").read_bytes()),
        _upload(session, customs, "c.csv", _generic("YT9000000004,9610,I,,CNY,1")),
    ]


def _raised(call: Any) -> str:
    with pytest.raises(FormatError) as err:
        call()
    return str(err.value)


def _beyond_files(engine: Engine, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[Said]:
    """Reasons and errors no uploaded file can give today, got from the real code directly."""
    shaper = rows.RowShaper(engine.dialect)
    decl = Declaration(kind=DocKind.GENERIC, message_type="GENERIC", business_key="YT1")
    receipt = Receipt(message_type="POSTAL", kind=DocKind.POSTAL, business_key="RR1",
                      return_status=800)  # fmt: skip
    reasons = [
        rows.check_receipt(1, replace(receipt, business_key=" ")),
        rows.check_receipt(1, replace(receipt, return_time="soon")),  # type: ignore[arg-type]
        shaper.prepare(1, replace(decl, business_key=" ")),
        shaper.prepare(1, replace(decl, goods_value=1.5)),  # type: ignore[arg-type]
        shaper.prepare(1, replace(decl, decl_time="soon")),  # type: ignore[arg-type]
        shaper.prepare(1, replace(decl, buyer_name=5)),  # type: ignore[arg-type]
        rows._type_problem(1, ("name",), ["text"]),
    ]
    out = [Said("record", r.reason) for r in reasons if isinstance(r, RecordError)]
    assert len(out) == len(reasons)
    report = import_records(engine, [ParsedRecord(1, PASSED)], source="x")
    with monkeypatch.context() as m:
        m.setattr(importer._Writer, "_commit", lambda *_: (_ for _ in ()).throw(ValueError("no")))
        refused = import_records(engine, [ParsedRecord(1, decl)], source="x")
    _collect([report, refused, import_file(engine, tmp / "missing.xml")], out)
    with pytest.raises(Invalid) as too_big:  # the filing page reports it as the file's error
        save_upload(io.BytesIO(b"x" * 2048), tmp / "upload", 1024)
    out.append(Said("file", f"big.json: {too_big.value.message}", "big.json"))
    head621 = ceb("CEB621", INVENTORY)

    def ceb_as(data: bytes, message_type: str) -> object:
        return list(read_ceb(io.BytesIO(data), source="a.xml", expected_type=message_type))

    errors = [
        _raised(lambda: detect.detect_format(b"[]", "a.json", "ceb")),
        _raised(lambda: detect.detect_format(head621, "a.xml", "CEB311")),
        _raised(lambda: detect.detect_format(b"[]", "a.json", "yaml")),
        _raised(lambda: ceb_as(head621, "CEB311")),
        _raised(lambda: ceb_as(b"", "CEB621")),
        _raised(lambda: csvutil.read_csv(io.BytesIO(b""), "a.csv")),
        _raised(lambda: list(jsonstream.iter_json_items(["  "], "a.json"))),
        _raised(lambda: list(jsonstream.iter_json_items(["x"], "a.json"))),
    ]
    with monkeypatch.context() as m:
        m.setattr(csvutil, "MAX_LINE_CHARS", 5)
        errors.append(_raised(lambda: list(csvutil.iter_lines(["code,abcdefgh"], "a.csv"))))
        m.setattr(jsonstream, "MAX_VALUE_CHARS", 50)
        chunks = ['["' + "a" * 40, "a" * 70_000, '"]']
        errors.append(_raised(lambda: list(jsonstream.iter_json_items(iter(chunks), "a.json"))))
        m.setattr(dxp, "MAX_ENVELOPE", 10)
        errors.append(_raised(lambda: dxp.read_dxp(io.BytesIO(b"<DxpMsg/>" * 5), source="a.xml")))
    limit = csv.field_size_limit(4)
    try:
        errors.append(_raised(lambda: detect.detect_format(b"code,abcdefgh\n", "a.csv")))
    finally:
        csv.field_size_limit(limit)
    return out + [Said("file", e, e.split(": ")[0]) for e in errors]


@pytest.fixture(scope="module")
def said(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Said]]:
    """Every reason and error the real importers gave the bad files and the direct calls."""
    tmp = tmp_path_factory.mktemp("refusals")
    engine = make_engine(f"sqlite:///{tmp / 'hub.db'}")
    create_tables(engine)
    out: list[Said] = []
    with Session(engine) as session:
        boss = _principal(Role.SUPERVISOR)
        _collect([_upload(session, boss, f.name, f.data) for f in all_files()], out)
        _collect(_filing_rules(session), out)
    with pytest.MonkeyPatch.context() as monkeypatch:
        out += _beyond_files(engine, tmp, monkeypatch)
    yield out
    engine.dispose()


def _worded(s: Said) -> str | None:
    if s.kind == "record":
        return refusals.worded_record(s.text)
    return file_refusals.worded_file(s.text, s.source)


def _lost(english: str, chinese: str) -> list[str]:
    """Quoted values and numbers of ``english`` that ``chinese`` does not show as written."""
    return [w for w in QUOTED.findall(english) + re.findall(r"\d+", english) if w not in chinese]


def test_every_reason_and_error_is_worded_in_chinese_with_its_values(said: list[Said]) -> None:
    """A Chinese page shows each in Chinese, every value and number as the importer wrote it."""
    assert len(said) > 120
    with i18n.speaking("zh"):
        for s in said:
            zh = _worded(s)
            assert zh is not None, f"no words for this {s.kind} reason: {s.text!r}"
            assert CJK.search(zh), zh
            assert _lost(s.text, zh) == [], (s.text, zh)


def test_english_pages_show_what_the_importer_wrote(said: list[Said]) -> None:
    """The English of every form is the importer's own sentence, word for word."""
    with i18n.speaking("en"):
        for s in said:
            assert _worded(s) == s.text


def test_every_form_meets_a_real_reason(said: list[Said]) -> None:
    """No form is left that the code no longer produces (or that nothing tests)."""
    texts = [s.text for s in said]
    cores = [re.sub(r"^(the file broke at record \d+: )?[^:]*?(?: \(DxpMsg Data\))?: ", "", t)
             for t in texts]  # fmt: skip
    wheres = [m.group(1) for t in texts if (m := re.search(r" \(([^()]*)\)$", t))]
    unmet = [
        f.words
        for forms, pool in (
            (refusals.RECORD_FORMS, texts + [re.sub(r" \([^()]*\)$", "", t) for t in texts]),
            (file_refusals.FILE_FORMS, cores),
            (refusals.WHERE_FORMS, wheres),
        )
        for f in forms
        if f.words not in UNREACHED and not any(f.pattern.fullmatch(t) for t in pool)
    ]
    assert unmet == []


def test_a_reason_no_form_knows_is_shown_as_written() -> None:
    with i18n.speaking("zh"):
        assert refusals.record_words("a brand-new reason 'x'") == "a brand-new reason 'x'"
        assert file_refusals.file_words("f.xml: odd", "f.xml") == "f.xml: odd"
        assert file_refusals.file_words("odd", "f.xml") == "odd"


def _reports(page: str) -> dict[str, tuple[str, list[tuple[str, str, str]]]]:
    """File name → (error shown, rows of rejected records) of each import report on a page."""
    doc: Any = lxml_html.fromstring(page)
    found: dict[str, tuple[str, list[tuple[str, str, str]]]] = {}
    for section in doc.xpath("//section[contains(@class, 'report')]"):
        name = section.xpath("./h2/code")[0].text_content()
        error = " ".join(p.text_content() for p in section.xpath(".//p[@class='warn']"))
        table = section.xpath("(.//table)[2]")
        cells = table[0].xpath(".//tr[td]") if table else []
        found[name] = (error, [tuple(td.text_content() for td in tr.xpath("./td")) for tr in cells])
    return found


def _post(hub: Hub, files: list[BadFile], lang: str, role: Role = Role.SUPERVISOR) -> Any:
    body = [("files", (f.name, f.data, "application/octet-stream")) for f in files]
    r = hub.client.post(f"/filing?lang={lang}", files=body, headers=hub.auth(role))
    assert r.status_code == 200, r.text
    return _reports(r.text)


def test_the_filing_page_words_every_reason_in_the_language_asked(hub: Hub) -> None:
    """Uploads of every bad file: reasons and errors in Chinese by default, with the values
    each file names; the same reports word for word as the importers wrote them in English."""
    files = all_files()
    for start in range(0, len(files), 20):
        batch = files[start : start + 20]
        zh, en = _post(hub, batch, "zh"), _post(hub, batch, "en")
        for f in batch:
            (zh_error, zh_rows), (en_error, en_rows) = zh[f.name], en[f.name]
            shown = [zh_error] if zh_error else []
            assert len(zh_rows) == len(en_rows)
            for (i, field, why), (j, en_field, en_why) in zip(zh_rows, en_rows, strict=True):
                assert (i, field) == (j, en_field) and CJK.search(why), why
                assert _lost(en_why, why) == [], (en_why, why)
                shown.append(why)
            if zh_error:
                assert CJK.search(zh_error) and _lost(en_error, zh_error) == [], zh_error
            assert shown, f"{f.name}: nothing refused"
            for value in f.values:
                assert any(value in text for text in shown), (f.name, value, shown)


def test_an_upload_too_large_is_reported_with_the_others(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file over the upload limit gets its own report; the other files are imported."""
    small_limit = hub.app.state.settings.model_copy(update={"max_upload_bytes": 8192})
    monkeypatch.setattr(hub.app.state, "settings", small_limit)
    big = BadFile("big.json", b"[" + b" " * 9000 + b"]")
    small = BadFile("small.xml", ceb("CEB621", put(INVENTORY, "grossWeight", "x")))
    zh = _post(hub, [big, small], "zh")
    assert zh["big.json"][0] == "big.json：文件超过 8192 字节"
    assert zh["small.xml"][1][0][2] == "'x' 不是十进制数"
    assert _post(hub, [big], "en")["big.json"][0] == "big.json: the file is larger than 8192 bytes"


def test_the_filing_page_words_what_a_filer_may_not_file(hub: Hub) -> None:
    """A filer's refusals (another enterprise's key or name) in the filer's language."""
    with Session(hub.engine) as session:
        _, hub.keys[Role.FILER] = create_api_key(session, "filer-1", Role.FILER, NOW, "E1")
    csv_file = BadFile("e1.csv", _generic("YT9000000005,9610,I,E2,CNY,10"))
    zh = _post(hub, [csv_file], "zh", Role.FILER)["e1.csv"][1]
    assert zh == [("1", "ebc_code", "ebcCode 'E2' 不是本企业 E1：申报企业只能以自己的名义申报")]


def test_the_command_line_words_the_report_in_the_terminals_language(
    said: list[Said], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``clearline import`` in a Chinese terminal: reasons and errors in Chinese too."""
    report = FileReport(file="a.xml", error="a.xml: file is empty")
    report.rejections.append(RecordError(3, "InventoryHead.grossWeight", "must not be negative"))
    console = Console(file=io.StringIO(), width=200)
    monkeypatch.setenv("CLEARLINE_LANG", "zh")
    _summary(console, [report])
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "a.xml：文件为空" in out and "第 3 条记录, InventoryHead.grossWeight: 不能为负数" in out
