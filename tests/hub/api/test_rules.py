"""Rules over HTTP: validated, versioned, audited changes by supervisors only."""

from __future__ import annotations

from importlib import resources

from hub.db.auth_models import Role
from hub.services import audit
from tests.hub import conftest_api as fx
from tests.hub.conftest_api import Api

# fixtures (imported explicitly: pytest_plugins is for the root conftest only)
api = fx.api
api_engine = fx.api_engine

DEFAULT = resources.files("inspection").joinpath("data/rules.yaml").read_text("utf-8")


def _edited(version: str, abs_g: str = "60") -> str:
    text = DEFAULT.replace('version: "default-2026.1"', f'version: "{version}"', 1)
    return text.replace("  abs_g: 50\n", f"  abs_g: {abs_g}\n", 1)


def test_the_packaged_rules_are_version_one(api: Api) -> None:
    r = api.client.get("/api/v1/rules/current", headers=api.as_role(Role.INSPECTOR))
    assert r.status_code == 200
    body = r.json()
    assert body["number"] == 1 and body["version"] == "default-2026.1" and body["text"] == DEFAULT
    assert body["author"] == "system"


def test_a_supervisor_saves_a_new_version_and_it_is_audited(api: Api) -> None:
    sup = api.as_role(Role.SUPERVISOR)
    r = api.client.put(
        "/api/v1/rules", headers=sup, json={"text": _edited("site-2026.2"), "why": "looser scale"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["changed"] is True and r.json()["rules"]["number"] == 2
    current = api.client.get("/api/v1/rules/current", headers=sup).json()
    assert current["version"] == "site-2026.2" and "abs_g: 60" in current["text"]
    versions = api.client.get("/api/v1/rules/versions", headers=sup).json()
    assert [v["number"] for v in versions] == [2, 1]
    old = api.client.get("/api/v1/rules/versions/1", headers=sup).json()
    assert old["text"] == DEFAULT
    log = api.client.get("/api/v1/audit", headers=api.as_role(Role.ADMIN)).json()
    change = [e for e in log if e["subject"] == "rules/2"]
    assert len(change) == 1 and change[0]["why"] == "looser scale"
    assert change[0]["action"] == "rules.change" and change[0]["role"] == "supervisor"
    assert audit.verify(api.engine).ok


def test_identical_rules_change_nothing(api: Api) -> None:
    sup = api.as_role(Role.SUPERVISOR)
    r = api.client.put("/api/v1/rules", headers=sup, json={"text": DEFAULT, "why": "again"})
    assert r.status_code == 200 and r.json()["changed"] is False
    assert r.json()["rules"]["number"] == 1


def test_invalid_rules_name_the_line_and_key(api: Api) -> None:
    sup = api.as_role(Role.SUPERVISOR)
    bad = _edited("site-bad", abs_g="-5")
    r = api.client.put("/api/v1/rules", headers=sup, json={"text": bad, "why": "typo"})
    assert r.status_code == 422
    line = bad.splitlines().index("  abs_g: -5") + 1
    assert f":{line}: weight.abs_g" in r.json()["detail"]
    unknown = bad.replace("  abs_g: -5\n", "  abs_g: 5\n  abs_kg: 1\n")
    r = api.client.put("/api/v1/rules", headers=sup, json={"text": unknown, "why": "typo"})
    assert r.status_code == 422 and "weight.abs_kg" in r.json()["detail"]
    r = api.client.put("/api/v1/rules", headers=sup, json={"text": "a: [1,", "why": "x"})
    assert r.status_code == 422 and "not valid YAML" in r.json()["detail"]
    versions = api.client.get("/api/v1/rules/versions", headers=sup).json()
    assert len(versions) == 1


def test_a_reused_version_name_is_refused(api: Api) -> None:
    sup = api.as_role(Role.SUPERVISOR)
    text = _edited("default-2026.1", abs_g="70")
    r = api.client.put("/api/v1/rules", headers=sup, json={"text": text, "why": "sneaky"})
    assert r.status_code == 409 and r.json()["field"] == "version"


def test_why_is_required_and_others_may_not_change_rules(api: Api) -> None:
    body = {"text": _edited("x-1"), "why": ""}
    sup = api.as_role(Role.SUPERVISOR)
    assert api.client.put("/api/v1/rules", headers=sup, json=body).status_code == 422
    body["why"] = "because"
    for role in (Role.INSPECTOR, Role.OPERATOR, Role.EDGE, Role.FILER):
        r = api.client.put("/api/v1/rules", headers=api.as_role(role), json=body)
        assert r.status_code == 403
    assert api.client.get("/api/v1/rules/versions/9", headers=sup).status_code == 404
