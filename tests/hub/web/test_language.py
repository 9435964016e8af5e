"""The language of a page: this request's choice, then the user's setting, then the browser's,
then Chinese; set by the user on their own page, by an administrator (page and command line)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select
from starlette.requests import Request
from typer.testing import CliRunner

from clearline.cli import app as cli_app
from hub.db.audit_models import AuditEntry
from hub.db.auth_models import Role, User, UserCreate
from hub.db.engine import make_engine
from hub.db.migrate import upgrade
from hub.services import user_admin, users
from hub.services.audit_key import load_key
from hub.services.errors import Invalid
from hub.web import i18n
from tests.hub.helpers_events import Hub, hub

__all__ = ["hub"]  # fixture used below

PASSWORD = "language-password-7"
#: A word of the statistics page in each language.
HEADING = {"zh": "统计", "en": "Statistics"}


def _request(query: str = "", cookie: str = "", accept: str = "", user: str = "") -> Request:
    """A bare request with what the language choice looks at."""
    headers = []
    if cookie:
        headers.append((b"cookie", f"{i18n.COOKIE}={cookie}".encode()))
    if accept:
        headers.append((b"accept-language", accept.encode()))
    scope = {
        "type": "http", "method": "GET", "path": "/", "query_string": query.encode(),
        "headers": headers, "state": {i18n.STATE: user} if user else {},
    }  # fmt: skip
    return Request(scope)


@pytest.mark.parametrize(
    ("query", "cookie", "user", "accept", "want"),
    [
        ("lang=en", "zh", "zh", "zh", "en"),  # this request's choice first
        ("", "en", "zh", "zh", "en"),  # then the switch's cookie
        ("", "", "en", "zh-CN,zh", "en"),  # then the user's setting
        ("", "", "zh", "en-US,en", "zh"),
        ("", "", "", "en-US,en", "en"),  # then the browser's language
        ("", "", "", "fr", "zh"),  # then Chinese
        ("lang=fr", "xx", "de", "", "zh"),  # unknown choices count for nothing
    ],
)
def test_the_order_of_the_language_choice(
    query: str, cookie: str, user: str, accept: str, want: str
) -> None:
    assert i18n.choose(_request(query, cookie, accept, user)) == want


def _person(hub: Hub, name: str, role: Role = Role.SUPERVISOR) -> dict[str, str]:
    """A user who logged in: the headers of their bearer token."""
    with Session(hub.engine) as session:
        users.create_user(
            session, UserCreate(name=name, role=role, password=PASSWORD), hub.clock.now()
        )
        token, _ = users.login(session, name, PASSWORD, hub.clock.now(), 3600)
    return {"Authorization": f"Bearer {token}"}


def _heading(html: str) -> str:
    return (
        "zh" if f"<h1>{HEADING['zh']}" in html else "en" if f"<h1>{HEADING['en']}" in html else "?"
    )


def test_the_user_sets_their_language_on_their_own_page(hub: Hub) -> None:
    """Saved on /me, the setting beats the browser's language; the switch beats the setting."""
    auth = _person(hub, "lin")
    english_browser = {**auth, "Accept-Language": "en-US,en;q=0.9"}
    assert _heading(hub.client.get("/statistics", headers=english_browser).text) == "en"
    me = hub.client.get("/me", headers=auth)
    assert me.status_code == 200 and "我的账户" in me.text and 'value="zh"' in me.text
    saved = hub.client.post(
        "/me/language", data={"language": "zh"}, headers=auth, follow_redirects=False
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/me?saved=true"
    assert i18n.COOKIE in saved.headers.get("set-cookie", "")  # the old switch is dropped
    assert _heading(hub.client.get("/statistics", headers=english_browser).text) == "zh"
    asked = hub.client.get("/statistics?lang=en", headers=english_browser)
    assert _heading(asked.text) == "en"
    hub.client.cookies.set(i18n.COOKIE, "en")
    try:
        assert _heading(hub.client.get("/statistics", headers=auth).text) == "en"
    finally:
        hub.client.cookies.clear()
    bad = hub.client.post("/me/language", data={"language": "fr"}, headers=auth)
    assert bad.status_code == 422
    with Session(hub.engine) as session:
        row = session.exec(select(User).where(User.name == "lin")).one()
        assert row.language == "zh"
        audited = session.exec(select(AuditEntry).where(AuditEntry.action == "user_language"))
        assert [(a.actor, a.subject) for a in audited] == [("lin", "lin")]
    log = hub.client.get("/audit?action=user_", headers=auth).text
    assert "设置了用户的页面语言" in log and "<ins>中文</ins>" in log


def test_an_administrator_sets_a_users_language(hub: Hub) -> None:
    """The users page sets it; an API key has no setting of its own."""
    auth = _person(hub, "wang", Role.INSPECTOR)
    admin = _person(hub, "boss", Role.ADMIN)
    page = hub.client.get("/admin/users", headers=admin)
    assert page.status_code == 200 and 'name="language"' in page.text
    done = hub.client.post(
        "/admin/users/wang", data={"action": "language", "language": "en"}, headers=admin
    )
    assert done.status_code == 200 and "wang" in done.text
    me = hub.client.get("/me", headers={**auth, "Accept-Language": "zh-CN"})
    assert "My account" in me.text and 'value="en" checked' in me.text
    key = hub.client.post(
        "/me/language", data={"language": "en"}, headers=hub.auth(Role.SUPERVISOR)
    )
    assert key.status_code == 403


def _cli(args: list[str], lang: str, key: Path) -> str:
    env = {"CLEARLINE_LANG": "", "LANG": "zh_CN.UTF-8" if lang == "zh" else "en_GB.UTF-8"}
    env["CLEARLINE_AUDIT_KEY_PATH"] = str(key)
    result = CliRunner().invoke(cli_app, ["--log-level", "WARNING", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_command_line_sets_it_and_speaks_the_terminals_language(tmp_path: Path) -> None:
    """``clearline hub user language`` and ``list``: words follow the locale, JSON does not."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    key = tmp_path / "audit.key"
    load_key(key, create=True)  # as the hub makes it at its first start

    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        users.create_user(
            session,
            UserCreate(name="zhao", role=Role.OPERATOR, password=PASSWORD),
            datetime.now(UTC),
        )
    engine.dispose()
    zh = _cli(["hub", "user", "language", "zhao", "en", "--db", url], "zh", key)
    assert "zhao" in zh and "English" in zh and "页面" in zh
    en = _cli(["hub", "user", "list", "--db", url], "en", key)
    assert "Language" in en and "English" in en and "operator" in en
    listed = _cli(["hub", "user", "list", "--db", url], "zh", key)
    assert "语言" in listed and "操作员" in listed and "Language" not in listed
    as_json = _cli(["hub", "user", "list", "--json", "--db", url], "zh", key)
    assert '"language": "en"' in as_json
    back = _cli(["hub", "user", "language", "zhao", "default", "--db", url], "en", key)
    assert "as the browser asks" in back
    engine = make_engine(url)
    with Session(engine) as session:
        assert session.exec(select(User.language).where(User.name == "zhao")).one() == ""
    engine.dispose()


def test_the_service_refuses_an_unknown_language(hub: Hub) -> None:
    _person(hub, "qian")
    with Session(hub.engine) as session, pytest.raises(Invalid):
        user_admin.set_language(session, "qian", "fr", hub.clock.now())
