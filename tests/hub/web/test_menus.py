"""Every person's home page and every page their menu offers open for them: no link leads
to a refusal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlmodel import Session

from hub.db.auth_models import Role
from hub.services.users import create_api_key
from hub.web.shell import HOMES
from tests.hub.helpers_events import Hub, hub

__all__ = ["hub"]  # fixture used below

#: Roles a person logs in with (``edge`` is a machine).
PEOPLE = [r for r in Role if r is not Role.EDGE]


def _auth(h: Hub, role: Role) -> dict[str, str]:
    if role not in h.keys:
        with Session(h.engine) as session:
            ent = "3301960002" if role is Role.FILER else ""
            _, secret = create_api_key(session, f"{role.value}-menu", role, h.clock.now(), ent)
        h.keys[role] = secret
    return h.auth(role)


@pytest.mark.parametrize("role", PEOPLE, ids=lambda r: r.value)
def test_home_and_every_menu_link_open_for_the_role(hub: Hub, role: Role) -> None:
    """The role's home answers 200, and so does every menu entry on it."""
    headers = _auth(hub, role)
    home = HOMES[role.value]
    r = hub.client.get(home, headers=headers)
    assert r.status_code == 200, f"{role.value} home {home}: {r.status_code}"
    links = set(re.findall(r"<nav[^>]*>.*?</nav>", r.text, flags=re.S))
    hrefs = {h for nav in links for h in re.findall(r'href="(/[^"#?]*)', nav)}
    hrefs -= {"/logout", "/login"}
    hrefs = {h for h in hrefs if not h.startswith(("/lang/", "/static/"))}
    assert home in hrefs or home == "/", f"{role.value}: its home {home} is not in its menu"
    for href in sorted(hrefs):
        got = hub.client.get(href, headers=headers)
        assert got.status_code == 200, f"{role.value}: menu link {href} answers {got.status_code}"


def test_review_station_names_the_supervision_mode_in_words(hub: Hub) -> None:
    """The declaration panel's script gets each supervision mode in the page's language."""
    page = hub.client.get("/review", headers=_auth(hub, Role.INSPECTOR)).text
    found = re.search(r"const CFG = (\{.*?\});\n", page)
    assert found is not None
    modes = json.loads(found.group(1))["tradeModes"]
    assert modes["9610"] == "跨境贸易电子商务 (9610)"
    assert modes["1210"].endswith("(1210)") and not modes["1210"].startswith("bonded")


def test_no_template_has_an_inline_event_handler() -> None:
    """The pages' CSP allows inline scripts only by hash: an ``onchange=`` would be dead."""
    templates = Path(__file__).resolve().parents[3] / "src/hub/web/templates"
    handlers = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
    found = [
        f"{t.name}:{n}"
        for t in sorted(templates.glob("*.html"))
        for n, line in enumerate(t.read_text(encoding="utf-8").splitlines(), 1)
        if handlers.search(line)
    ]
    assert found == [], f"inline event handlers the CSP blocks: {found}"
