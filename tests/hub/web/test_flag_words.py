"""The X-ray pre-screen's flags in words: every kind the code can give has a name and words,
shown with its code for the inspector; every detail line the pre-screen writes is worded in the
page's language with its numbers kept, in Python and in the review station's script alike."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from edge.line import screening
from hub.db.auth_models import Role
from hub.services.review_schemas import FLAG_WORDS
from hub.web import i18n
from hub.web.flag_words import DETAILS, FLAG_NAMES, detail_words, flag_name, script_details
from inspection.xray.declared import ImageContent, MismatchConfig, declared_goods, mismatch_flag
from inspection.xray.flags import FlagKind
from inspection.xray.prescreen import prescreen
from inspection.xray.signatures import SigKind
from simulators.xray import ItemKind, XrayGenerator
from tests.hub.helpers_events import Hub, hub
from tests.hub.web.test_review_browser import CHROMIUM, CHROMIUM_ARGS
from tests.inspection.xray.scans import SMALL, declared, item, png_of, scan_of

__all__ = ["hub"]  # fixture used below

CJK = re.compile(r"[\u4e00-\u9fff]")


def _edge_flags() -> set[str]:
    """The flags ``edge.line.screening`` gives an image it could not screen, read from the
    ``XrayScreened(...)`` calls of its source (literals and module constants alike)."""
    tree = ast.parse(Path(screening.__file__).read_text("utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "XrayScreened":
            flags = node.args[2] if len(node.args) > 2 else None
            for elt in flags.elts if isinstance(flags, ast.Tuple) else []:
                if isinstance(elt, ast.Constant):
                    found.add(str(elt.value))
                elif isinstance(elt, ast.Name):
                    found.add(str(getattr(screening, elt.id)))
    return found


def test_every_flag_kind_has_a_name_and_words() -> None:
    """A kind added to the pre-screens without words for the review station fails here."""
    edge = _edge_flags()
    assert {"UNCALIBRATED", "COARSE_IMAGE", "UNREADABLE"} <= edge
    kinds = {k.value for k in FlagKind} | {k.value for k in SigKind} | edge
    assert sorted(kinds - set(FLAG_NAMES)) == []
    assert sorted(kinds - set(FLAG_WORDS)) == []
    assert set(FLAG_NAMES) == set(FLAG_WORDS) == kinds  # no words for a kind that is gone


def test_a_flag_is_named_in_the_pages_language_with_its_code() -> None:
    with i18n.speaking("zh"):
        assert flag_name("BLADE") == "刀具 (BLADE)"
        for kind in FLAG_NAMES:
            name = flag_name(kind)
            assert CJK.search(name) and name.endswith(f" ({kind})"), name
            assert CJK.search(i18n.gettext(FLAG_WORDS[kind])), kind
        assert flag_name("SOMETHING_NEW") == "SOMETHING_NEW"
    with i18n.speaking("en"):
        assert flag_name("COARSE_IMAGE") == "image too coarse (COARSE_IMAGE)"


def _details() -> list[str]:
    """Detail lines the real pre-screen writes for simulated threats and mismatches."""
    gen = XrayGenerator(SMALL)
    scans = [
        (scan_of(gen, item(ItemKind.BLADE), seed=6), None),
        (scan_of(gen, item(ItemKind.GUN), seed=6), None),
        (scan_of(gen, item(ItemKind.DENSE_BLOCK), seed=6), None),
        (scan_of(gen, item(ItemKind.ELECTRONICS, cells=6), seed=6), None),
        (
            scan_of(gen, item(ItemKind.TEXTILES), item(ItemKind.METAL_TOOL, count=2), seed=6),
            declared(("6109100021", "T-shirt")),
        ),
    ]
    found = [f.detail for scan, decl in scans for f in prescreen(png_of(scan), decl).flags]
    docs = declared_goods(declared(category="documents"))
    shoes = declared_goods(declared(("6404110000", "shoes")))
    box = (10, 10, 100, 100)
    for goods, metal, cells, dense in ((docs, 70.0, 0.0, 0.0), (docs, 0.0, 0.0, 100.0),
                                       (shoes, 0.0, 1.5, 0.0)):  # fmt: skip
        content = ImageContent(metal, box if metal else None, cells, box if cells else None,
                               dense, 0.0, box)  # fmt: skip
        flag = mismatch_flag(goods, content, MismatchConfig())
        assert flag is not None
        found.append(flag.detail)
    return found


@pytest.fixture(scope="module")
def details() -> list[str]:
    """The detail lines, made once."""
    return _details()


def test_every_detail_line_is_worded_with_its_numbers(details: list[str]) -> None:
    """In Chinese with every number kept; in English exactly as the pre-screen wrote it."""
    for detail in details:
        with i18n.speaking("zh"):
            zh = detail_words(detail)
        assert CJK.search(zh), detail
        assert [n for n in re.findall(r"[\d.]+", detail) if n not in zh] == [], (detail, zh)
        with i18n.speaking("en"):
            assert detail_words(detail) == detail
    for pattern, words in DETAILS:  # each form still meets what the pre-screen writes
        assert any(re.fullmatch(pattern, d) for d in details), words


def test_the_review_script_words_details_as_python_does(details: list[str]) -> None:
    """The script's JavaScript patterns, run in Chromium, give the words of :func:`detail_words`."""
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian chromium is not installed at /usr/bin/chromium "
            "(as root: apt-get install -y chromium, or scripts/system-deps.sh)"
        )
    sync_api = pytest.importorskip("playwright.sync_api")
    with i18n.speaking("zh"):
        forms = script_details()
        expected = [detail_words(d) for d in details]
    script = (
        "([forms, texts]) => {\n"
        "const fmt = (s, o) => s.replace(/\\{(\\w+)\\}/g, (m, k) => (k in o ? o[k] : m));\n"
        "return texts.map((text) => { for (const [p, w] of forms) {"
        " const m = new RegExp(p).exec(text); if (m) return fmt(w, m.groups); } return text; });}"
    )
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            got = browser.new_page().evaluate(script, [forms, details])
        finally:
            browser.close()
    assert got == expected


def test_the_review_page_hands_its_script_the_names_and_detail_forms(hub: Hub) -> None:
    page = hub.client.get("/review", headers=hub.auth(Role.INSPECTOR)).text
    m = re.search(r"const CFG = (\{.*?\});\n", page)
    assert m is not None
    cfg = json.loads(m.group(1))
    assert cfg["flags"]["BLADE"] == "刀具 (BLADE)" and cfg["flags"]["LIQUID"].endswith("(LIQUID)")
    assert len(cfg["details"]) == len(DETAILS) and CJK.search(cfg["details"][1][1])
    en = hub.client.get("/review?lang=en", headers=hub.auth(Role.INSPECTOR)).text
    assert '"BLADE": "blade (BLADE)"' in en
