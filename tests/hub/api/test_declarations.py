"""Declarations over HTTP: upload files, file JSON, list masked, show one with history."""

from __future__ import annotations

from typing import Any

from hub.db.auth_models import Role
from tests.hub import conftest_api as fx
from tests.hub.conftest import inventory, receipt
from tests.hub.conftest_api import Api, ceb_file, decl_json

# fixtures (imported explicitly: pytest_plugins is for the root conftest only)
api = fx.api
api_engine = fx.api_engine

URL = "/api/v1/declarations"


def test_upload_reports_each_file(api: Api) -> None:
    good = ceb_file("CEB621", [inventory(1), inventory(2), inventory(3)])
    receipts = ceb_file("CEB622", [receipt(1, 800), receipt(9, 500)])
    files = [
        ("files", ("inv.xml", good, "application/xml")),
        ("files", ("junk.xml", b"<html>not ceb</html>", "application/xml")),
    ]
    r = api.client.post(f"{URL}/upload", files=files, headers=api.as_role(Role.SUPERVISOR))
    assert r.status_code == 200, r.text
    inv, junk = r.json()
    assert inv["file"] == "inv.xml" and inv["new"] == 3 and inv["rejected"] == 0
    assert junk["error"] and junk["accepted"] == 0
    from_customs = [("files", ("rcpt.xml", receipts, "application/xml"))]
    r = api.client.post(f"{URL}/upload", files=from_customs, headers=api.as_role(Role.CUSTOMS))
    (rcpt,) = r.json()
    assert rcpt["receipts_applied"] == 1 and rcpt["receipts_pending"] == 1
    again = api.client.post(
        f"{URL}/upload", files=files[:1], headers=api.as_role(Role.SUPERVISOR)
    ).json()
    assert again[0]["unchanged"] == 3


def test_upload_with_a_claimed_format_refuses_another(api: Api) -> None:
    files = [("files", ("inv.xml", ceb_file("CEB621", [inventory(1)]), "application/xml"))]
    r = api.client.post(
        f"{URL}/upload",
        files=files,
        data={"format": "postal-json"},
        headers=api.as_role(Role.SUPERVISOR),
    )
    assert r.status_code == 200 and r.json()[0]["error"] and r.json()[0]["new"] == 0


def test_json_filing_new_unchanged_updated(api: Api) -> None:
    h = api.as_role(Role.SUPERVISOR)
    first = api.client.post(URL, json=decl_json(1), headers=h)
    assert first.status_code == 201 and first.json()["outcome"] == "new"
    same = api.client.post(URL, json=decl_json(1), headers=h)
    assert same.status_code == 200 and same.json()["outcome"] == "unchanged"
    changed = api.client.post(URL, json=decl_json(1, freight="12.00000"), headers=h)
    assert changed.status_code == 200 and changed.json()["outcome"] == "updated"
    assert first.json()["id"] == changed.json()["id"]
    detail = api.client.get(f"{URL}/{first.json()['id']}", headers=h).json()
    assert [e["event"] for e in detail["history"]] == ["filed", "amended"]
    assert detail["fields"]["freight"] == "12.00000"


def test_json_filing_errors_name_the_field(api: Api) -> None:
    h = api.as_role(Role.SUPERVISOR)
    r = api.client.post(URL, json=decl_json(1, goods_value="1e30"), headers=h)
    assert r.status_code == 422 and r.json()["field"] == "goods_value"
    r = api.client.post(URL, json=decl_json(1, kind="parcel"), headers=h)
    assert r.status_code == 422
    r = api.client.post(URL, json={**decl_json(1), "surprise": 1}, headers=h)
    assert r.status_code == 422


def _list(api: Api, role: Role = Role.SUPERVISOR, **params: Any) -> dict[str, Any]:
    r = api.client.get(URL, params=params, headers=api.as_role(role))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_list_is_masked_filtered_and_paged(api: Api) -> None:
    h = api.as_role(Role.SUPERVISOR)
    for n in range(1, 8):
        api.client.post(URL, json=decl_json(n, trade_mode="1210" if n > 5 else "9610"), headers=h)
    page = _list(api, limit=3)
    assert page["total"] == 7 and len(page["items"]) == 3
    item = page["items"][0]
    assert item["buyer_id_number"] == "110*************34"
    assert item["buyer_telephone"] == "138****8000" and item["buyer_name"] == "张*"
    assert "110101199003071234" not in str(page) and "13800138000" not in str(page)
    rest = _list(api, offset=3, limit=10)
    keys = {i["id"] for i in page["items"]} | {i["id"] for i in rest["items"]}
    assert len(keys) == 7
    assert _list(api, trade_mode="1210")["total"] == 2
    assert _list(api, code="YT0000000004")["items"][0]["order_no"] == "ORD00000004"
    assert _list(api, enterprise="3301960002")["total"] == 7
    assert _list(api, kind="payment")["total"] == 0
    assert api.client.get(URL, params={"limit": 501}, headers=h).status_code == 422


def test_detail_masks_for_inspectors_not_supervisors(api: Api) -> None:
    sup = api.as_role(Role.SUPERVISOR)
    decl_id = api.client.post(URL, json=decl_json(1), headers=sup).json()["id"]
    api.client.post(
        "/api/v1/receipts",
        json=[
            {
                "message_type": "CEB622",
                "kind": "inventory",
                "business_key": "AG001:COP00000001",
                "return_status": 800,
            }
        ],
        headers=api.as_role(Role.CUSTOMS),
    )
    full = api.client.get(f"{URL}/{decl_id}", headers=sup).json()
    assert full["masked"] is False and full["fields"]["buyer_id_number"] == "110101199003071234"
    assert full["lines"][0]["gnum"] == 1 and full["receipts"][0]["return_status"] == 800
    assert full["fields"]["customs_status"] == 800
    assert [h["event"] for h in full["history"]] == ["filed", "status"]
    seen = api.client.get(f"{URL}/{decl_id}", headers=api.as_role(Role.INSPECTOR)).json()
    assert seen["masked"] is True and "110101199003071234" not in str(seen)
    missing = api.client.get(f"{URL}/00000000-0000-0000-0000-000000000000", headers=sup)
    assert missing.status_code == 404


def test_receipts_list_and_pending(api: Api) -> None:
    sup = api.as_role(Role.SUPERVISOR)
    api.client.post(URL, json=decl_json(1), headers=sup)
    body = [
        {
            "message_type": "CEB622",
            "kind": "inventory",
            "business_key": "AG001:COP00000001",
            "return_status": 120,
        },
        {
            "message_type": "CEB622",
            "kind": "inventory",
            "business_key": "AG001:COP00000099",
            "return_status": 800,
        },
    ]
    customs = api.as_role(Role.CUSTOMS)
    report = api.client.post("/api/v1/receipts", json=body, headers=customs).json()
    assert report["receipts_applied"] == 1 and report["receipts_pending"] == 1
    listed = api.client.get("/api/v1/receipts", headers=sup).json()
    assert listed["total"] == 2
    pending = api.client.get("/api/v1/receipts", params={"pending": True}, headers=sup).json()
    assert [r["business_key"] for r in pending["items"]] == ["AG001:COP00000099"]
    assert api.client.post("/api/v1/receipts", json=[], headers=customs).status_code == 422
