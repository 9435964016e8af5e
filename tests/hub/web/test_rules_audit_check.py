"""The rules page (thresholds and text, audited old → new), the audit log page and the check
page (the check of ``clearline check``, in words; a filer checks only its own parcels)."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from hub.db.audit_models import AuditEntry
from hub.db.auth_models import Role
from hub.services import rules as rules_service
from hub.services import rules_edit
from hub.services.errors import Invalid
from hub.services.users import create_api_key
from tests.hub.helpers_events import Hub, file_declarations, hub

__all__ = ["hub"]  # fixture used below

import pytest


def test_a_threshold_changes_in_place_and_the_rest_of_the_file_stays() -> None:
    text = 'version: "a"\nweight:\n  abs_g: 50   # grams\n  rel: 0.10\nlimits:\n  abs_g: 7\n'
    new = rules_edit.with_thresholds(text, {"weight.abs_g": "60", "weight.rel": "0.1"}, "b")
    assert new == 'version: "b"\nweight:\n  abs_g: 60   # grams\n  rel: 0.10\nlimits:\n  abs_g: 7\n'
    assert rules_edit.differences(text, new) == [
        {"key": "version", "old": "a", "new": "b"},
        {"key": "weight.abs_g", "old": "50", "new": "60"},
    ]
    with pytest.raises(Invalid):
        rules_edit.set_value(text, "weight.missing", "1")
    with pytest.raises(Invalid):
        rules_edit.with_thresholds(text, {"weight.abs_g": "-1"}, "c")
    assert rules_edit.with_thresholds(text, {"weight.abs_g": "50"}, "c") == text


def test_a_supervisor_changes_a_threshold_and_the_audit_log_shows_old_and_new(hub: Hub) -> None:
    sup = hub.auth(Role.SUPERVISOR)
    page = hub.client.get("/rules", headers=sup)
    assert page.status_code == 200 and "阈值" in page.text and "weight.abs_g" in page.text
    no_why = hub.client.post("/rules", data={"t_weight.abs_g": "60", "why": " "}, headers=sup)
    assert no_why.status_code == 422 and "说明" in no_why.text
    bad = hub.client.post("/rules", data={"t_weight.abs_g": "sixty", "why": "x"}, headers=sup)
    assert bad.status_code == 422 and "weight.abs_g" in bad.text
    saved = hub.client.post(
        "/rules",
        data={"t_weight.abs_g": "60", "version": "site-2", "why": "new scales"},
        headers=sup,
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/rules?saved=2"
    with Session(hub.engine) as session:
        current = rules_service.current(session)
        assert current.version == "site-2" and "abs_g: 60" in current.text
        row = session.exec(select(AuditEntry).where(AuditEntry.action == "rules.change")).all()[-1]
    data = json.loads(row.data)
    assert {"key": "weight.abs_g", "old": "50", "new": "60"} in data["changes"]
    assert row.actor == "supervisor-1" and row.why == "new scales"
    log = hub.client.get("/audit?action=rules.change", headers=sup).text
    assert "修改了规则" in log and "weight.abs_g" in log and "<del>50</del>" in log
    assert "<ins>60</ins>" in log and "supervisor-1" in log and "new scales" in log
    checked = hub.client.get("/audit?verify=true", headers=sup).text
    assert 'id="chain"' in checked and "完好" in checked
    same = hub.client.post("/rules/text", data={"text": current.text, "why": "again"}, headers=sup)
    assert same.status_code == 200 and "没有变化" in same.text
    broken = hub.client.post("/rules/text", data={"text": "version: [", "why": "x"}, headers=sup)
    assert broken.status_code == 422
    assert hub.client.get("/rules", headers=hub.auth(Role.OPERATOR)).status_code == 403


def test_the_check_page_says_the_outcome_and_its_reasons_in_words(hub: Hub) -> None:
    (ps,) = file_declarations(hub.engine, 1)
    code = ps.inventory.logistics_no
    r = hub.client.get(f"/check?code={code}&weight=&xray=none", headers=hub.auth(Role.OPERATOR))
    assert r.status_code == 200
    assert "X 光图像缺失或待判图" in r.text or "XRAY" not in r.text
    assert 'id="outcome"' in r.text and "没有 X 光图像" in r.text
    unknown = hub.client.get("/check?code=NOSUCH0001", headers=hub.auth(Role.OPERATOR)).text
    assert "此包裹没有申报单" in unknown
    with Session(hub.engine) as session:
        _, other = create_api_key(session, "filer-x", Role.FILER, hub.clock.now(), "OTHER01")
    foreign = hub.client.get(f"/check?code={code}", headers={"X-API-Key": other}).text
    assert "你的申报中没有这个编码" in foreign and code not in foreign.split('id="outcome"')[1]
