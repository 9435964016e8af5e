"""Customs status only from customs: filers' receipts are information; filers file as themselves."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from sqlmodel import Session, select

from hub.db.auth_models import Role
from hub.db.models import DeclarationRow, ReceiptRow, StatusHistoryRow
from tests.hub import conftest_api as fx
from tests.hub.conftest import inventory, receipt
from tests.hub.conftest_api import Api, ceb_file, decl_json

api = fx.api
api_engine = fx.api_engine

URL = "/api/v1/declarations"
RECEIPTS = "/api/v1/receipts"
OWN = {"ebc": "E1", "ebp_code": "E1", "agent_code": "E1", "logistics_code": "E1"}


def _receipt(key: str, status: int = 800, info: str = "放行") -> dict[str, Any]:
    return {
        "message_type": "CEB622",
        "kind": "inventory",
        "business_key": key,
        "return_status": status,
        "return_info": info,
    }


def _declaration(api: Api, decl_id: str) -> DeclarationRow:
    with Session(api.engine) as session:
        row = session.get(DeclarationRow, uuid.UUID(decl_id))
        assert row is not None
        return row


def _status_events(api: Api, decl_id: str) -> list[StatusHistoryRow]:
    with Session(api.engine) as session:
        rows = session.exec(
            select(StatusHistoryRow).where(StatusHistoryRow.event == "status")
        ).all()
    return [r for r in rows if str(r.declaration_id) == decl_id]


def test_a_filers_800_for_its_own_list_leaves_the_status_unchanged(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    e1 = api.as_role(Role.FILER, "E1")
    filed = api.client.post(URL, json=decl_json(1, **OWN), headers=e1)
    assert filed.status_code == 201, filed.text
    decl_id = filed.json()["id"]
    with caplog.at_level(logging.WARNING, logger="hub.services.declarations"):
        out = api.client.post(RECEIPTS, json=[_receipt("AG001:COP00000001")], headers=e1)
    assert out.status_code == 200, out.text
    assert any("stored as information" in r.getMessage() for r in caplog.records)
    report = out.json()
    assert report["receipts_applied"] == 0 and report["receipts_information"] == 1
    assert _declaration(api, decl_id).customs_status is None
    assert _status_events(api, decl_id) == []
    detail = api.client.get(f"{URL}/{decl_id}", headers=e1).json()
    assert detail["fields"]["customs_status"] is None
    assert [(r["return_status"], r["from_customs"]) for r in detail["receipts"]] == [(800, False)]
    # the same receipt from customs is applied: the filer's copy did not pre-empt it
    customs = api.as_role(Role.CUSTOMS)
    applied = api.client.post(RECEIPTS, json=[_receipt("AG001:COP00000001")], headers=customs)
    assert applied.json()["receipts_applied"] == 1
    assert _declaration(api, decl_id).customs_status == 800


def test_a_filers_uploaded_receipt_file_is_information_too(api: Api) -> None:
    e1 = api.as_role(Role.FILER, "E1")
    records = [inventory(1, ebc_code="E1", ebp_code="E1", agent_code="E1", logistics_code="E1")]
    up = [("files", ("inv.xml", ceb_file("CEB621", records), "application/xml"))]
    assert api.client.post(f"{URL}/upload", files=up, headers=e1).json()[0]["new"] == 1
    rc = ceb_file("CEB622", [receipt(1, 800, business_key="E1:COP00000001")])
    files = [("files", ("rc.xml", rc, "application/xml"))]
    report = api.client.post(f"{URL}/upload", files=files, headers=e1).json()[0]
    assert report["receipts_applied"] == 0 and report["receipts_information"] == 1
    with Session(api.engine) as session:
        row = session.exec(select(DeclarationRow)).one()
        assert row.customs_status is None


def test_a_supervisors_receipt_is_information_even_when_linked_later(api: Api) -> None:
    sup = api.as_role(Role.SUPERVISOR)
    early = api.client.post(RECEIPTS, json=[_receipt("AG001:COP00000005")], headers=sup).json()
    assert early["receipts_pending"] == 1 and early["receipts_applied"] == 0
    decl_id = api.client.post(URL, json=decl_json(5), headers=sup).json()["id"]
    assert _declaration(api, decl_id).customs_status is None
    with Session(api.engine) as session:
        stored = session.exec(select(ReceiptRow)).one()
    assert str(stored.declaration_id) == decl_id and stored.from_customs is False


def test_customs_receipts_set_the_status_and_customs_files_no_declaration(api: Api) -> None:
    sup, customs = api.as_role(Role.SUPERVISOR), api.as_role(Role.CUSTOMS)
    decl_id = api.client.post(URL, json=decl_json(2), headers=sup).json()["id"]
    out = api.client.post(
        RECEIPTS, json=[_receipt("AG001:COP00000002", 500, "查验")], headers=customs
    )
    assert out.json()["receipts_applied"] == 1
    assert _declaration(api, decl_id).customs_status == 500
    refused = api.client.post(URL, json=decl_json(3), headers=customs)
    assert refused.status_code == 403
    files = [("files", ("inv.xml", ceb_file("CEB621", [inventory(4)]), "application/xml"))]
    report = api.client.post(f"{URL}/upload", files=files, headers=customs).json()[0]
    assert report["new"] == 0 and report["rejections"][0]["field"] == "message_type"


@pytest.mark.parametrize(
    ("field", "ceb_name"),
    [
        ("ebc_code", "ebcCode"),
        ("ebp_code", "ebpCode"),
        ("agent_code", "agentCode"),
        ("logistics_code", "logisticsCode"),
    ],
)
def test_a_filer_cannot_file_in_another_enterprises_name(
    api: Api, field: str, ceb_name: str
) -> None:
    e1 = api.as_role(Role.FILER, "E1")
    body = decl_json(1, **OWN)
    body[field] = "OTHER9"
    r = api.client.post(URL, json=body, headers=e1)
    assert r.status_code == 422 and r.json()["field"] == field
    assert ceb_name in r.json()["detail"] and "OTHER9" in r.json()["detail"]
    mine = {"ebc_code": "E1", "ebp_code": "E1", "agent_code": "E1", "logistics_code": "E1"}
    records = [inventory(1, **mine), inventory(2, **{**mine, field: "OTHER9"})]
    files = [("files", ("two.xml", ceb_file("CEB621", records), "application/xml"))]
    report = api.client.post(f"{URL}/upload", files=files, headers=e1).json()[0]
    assert report["new"] == 1 and report["rejected"] == 1
    (rejection,) = report["rejections"]
    assert rejection["index"] == 2 and rejection["field"] == field
    assert "OTHER9" in rejection["reason"]
    sup = api.as_role(Role.SUPERVISOR)
    listed = api.client.get(URL, headers=sup).json()
    assert listed["total"] == 1
