"""Pages speak Simplified Chinese by default and English on request; no message is left
untranslated: every message in the sources has its Chinese, and no page shows English text."""

from __future__ import annotations

import gettext
import io
import json
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract
from babel.messages.pofile import read_po
from lxml import html as lxml_html
from sqlmodel import Session

from hub.db.auth_models import Role
from hub.services.users import create_api_key
from hub.web import i18n
from hub.web.extract import extract_page
from tests.hub.helpers_events import Hub, file_declarations, hub, story_for

__all__ = ["hub"]  # fixture used below

ROOT = Path(__file__).resolve().parents[3]
PO = ROOT / "src/hub/web/locale/zh_CN/LC_MESSAGES/messages.po"
#: Pages and the role that opens each.
PAGES = (
    ("/lines", Role.OPERATOR),
    ("/review", Role.INSPECTOR),
    ("/desk", Role.INSPECTOR),
    ("/work", Role.SUPERVISOR),
    ("/work?outcome=HOLD", Role.OPERATOR),
    ("/statistics", Role.SUPERVISOR),
    ("/review/inspectors", Role.SUPERVISOR),
    ("/filing", Role.SUPERVISOR),
    ("/admin/users", Role.ADMIN),
    ("/rules", Role.SUPERVISOR),
    ("/audit?verify=true", Role.SUPERVISOR),
    ("/check?code=NOSUCH0001&xray=none", Role.OPERATOR),
    ("/me", Role.INSPECTOR),
)
#: Words that stay as they are in every language: units, codes, product names.
KEEP = {
    "Tab",
    "Esc",
    "kg",
    "ms",
    "UTC",
    "CSV",
    "HS",
    "API",
    "PLC",
    "Clearline",
    "English",
    "ID",
    "CEB",
    "JSON",
}


def _extracted() -> set[str]:
    """Every message id the sources hold: Python through Babel, templates through the page
    extractor (as ``pybabel extract -F babel.cfg`` does)."""
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found: set[str] = set()
    sources = [(p, "python") for p in sorted((ROOT / "src/hub").rglob("*.py"))]
    sources += [(p, extract_page) for p in sorted((ROOT / "src/hub/web/templates").glob("*.html"))]
    for path, method in sources:
        with path.open("rb") as f:
            for _line, message, _comments, _ctx in extract(method, f, keywords):  # type: ignore[arg-type]
                found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_has_its_chinese() -> None:
    """A message added to a page or a word list without a translation fails here."""
    with PO.open("rb") as f:
        catalog = read_po(f)
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id and not m.fuzzy and (m.string if isinstance(m.string, str) else m.string[0])
    }
    missing = sorted(_extracted() - translated)
    assert not missing, f"untranslated messages (run pybabel, see docs/languages.md): {missing}"


def test_the_catalogue_template_holds_every_message() -> None:
    """``messages.pot`` (what a translator starts from) lists exactly the sources' messages."""
    with (PO.parents[2] / "messages.pot").open("rb") as f:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    extracted = _extracted()
    new = sorted(extracted - template)
    assert not new, f"run pybabel extract (docs/languages.md): {new}"
    assert not template - extracted, f"gone from the sources: {sorted(template - extracted)}"


def _visible(page: str) -> str:
    """The text a person sees: no scripts, no styles, attributes that are read aloud too."""
    doc = lxml_html.fromstring(page)
    for bad in doc.xpath("//script|//style|//code|//noscript|//textarea"):  # textarea: data
        bad.drop_tree()
    text = " ".join(doc.xpath("//body//text()"))
    shown = " ".join(doc.xpath("//@placeholder|//@aria-label|//@alt|//@title"))
    return f"{text} {shown}"


def _english_words(text: str) -> list[str]:
    """Latin words of two letters or more that are not codes, units or names."""
    words = re.findall(r"[A-Za-z][A-Za-z0-9'_-]+", text)
    return [w for w in words if w not in KEEP and not w.isupper() and not re.search(r"\d", w)]


@pytest.mark.parametrize(("path", "role"), PAGES)
def test_pages_speak_chinese_by_default(hub: Hub, path: str, role: Role) -> None:
    """No English word on any page for a browser that asks for nothing in particular."""
    headers = _headers(hub, role)
    r = hub.client.get(path, headers=headers)
    assert r.status_code == 200, r.text
    visible = _visible(r.text)
    assert re.search(r"[\u4e00-\u9fff]", visible)
    for name in (f"{r.value}-1" for r in Role):  # the signed-in key's name is data, not words
        visible = visible.replace(name, "")
    english = [w for w in _english_words(visible) if w.lower() != "admin"]
    assert english == [], f"{path}: untranslated words {english[:20]}"


def test_trace_page_speaks_chinese_and_english_on_request(hub: Hub) -> None:
    """The trace in Chinese by default, in English with the browser's language or the switch."""
    (ps,) = file_declarations(hub.engine, 1)
    events = story_for(ps, 7, outcome="INSPECT", reasons=("WEIGHT_DEVIATION",), chute=6)
    body = [json.loads(e.model_dump_json()) for e in events]
    assert (
        hub.client.post("/api/v1/events", json=body, headers=hub.auth(Role.EDGE)).status_code == 200
    )
    code = ps.inventory.logistics_no
    zh = hub.client.get(f"/trace/{code}", headers=hub.auth(Role.SUPERVISOR)).text
    assert "实测重量超出申报重量的允许偏差" in zh and "查验格口 6" in zh
    visible = _visible(zh)
    leftovers = [w for w in _english_words(visible) if w not in code]
    assert leftovers == [], leftovers
    en_headers = {**hub.auth(Role.SUPERVISOR), "Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"}
    en = hub.client.get(f"/trace/{code}", headers=en_headers).text
    assert (
        "the measured weight is outside the tolerance" in en.lower() and "inspection chute 6" in en
    )
    switched = hub.client.get("/lang/zh?next=/trace/x", follow_redirects=False)
    assert switched.status_code == 303 and switched.cookies.get(i18n.COOKIE) == "zh"
    hub.client.cookies.set(i18n.COOKIE, "zh")
    again = hub.client.get(f"/trace/{code}", headers=en_headers).text
    assert "去向" in again  # the person's choice wins over the browser's language
    hub.client.cookies.clear()


def test_accept_language_ranking() -> None:
    """The first language the hub speaks, by quality; nothing known gives None."""
    assert i18n.from_accept_language("fr-FR,en;q=0.8,zh-CN;q=0.9") == "zh"
    assert i18n.from_accept_language("en-US,en;q=0.9") == "en"
    assert i18n.from_accept_language("de,fr") is None
    assert i18n.from_accept_language("zh;q=0,en;q=0.1") == "en"


def _headers(hub: Hub, role: Role) -> dict[str, str]:
    if role in hub.keys:
        return hub.auth(role)
    with Session(hub.engine) as session:
        _, secret = create_api_key(session, f"{role.value}-1", role, hub.clock.now())
    hub.keys[role] = secret
    return hub.auth(role)


def test_catalogue_compiles(tmp_path: Path) -> None:
    """The .po compiles; the compiled catalogue translates."""
    data = i18n._compiled(PO)
    tr = gettext.GNUTranslations(io.BytesIO(data))
    assert tr.gettext("Review station") == "判图工位"
