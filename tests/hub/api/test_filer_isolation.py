"""A filer files and sees only its own enterprise's declarations and receipts."""

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


def own(n: int, code: str, **kw: Any) -> dict[str, Any]:
    """A declaration whose every enterprise code is ``code`` (as its filer files it)."""
    fields = {"ebp_code": code, "agent_code": code, "logistics_code": code}
    return decl_json(n, ebc=code, **{**fields, **kw})


def test_a_filer_files_only_for_its_enterprise(api: Api) -> None:
    e1 = api.as_role(Role.FILER, "E1")
    ok = api.client.post(URL, json=own(1, "E1"), headers=e1)
    assert ok.status_code == 201
    other = api.client.post(URL, json=own(2, "E2", agent_code="AG2"), headers=e1)
    assert other.status_code == 422 and "E1" in other.json()["detail"]


def test_a_filer_sees_only_its_own(api: Api) -> None:
    e1, e2 = api.as_role(Role.FILER, "E1"), api.as_role(Role.FILER, "E2")
    mine = api.client.post(URL, json=own(1, "E1"), headers=e1).json()["id"]
    theirs = api.client.post(URL, json=own(2, "E2"), headers=e2).json()["id"]
    listed = api.client.get(URL, headers=e1).json()
    assert [i["id"] for i in listed["items"]] == [mine] and listed["total"] == 1
    assert api.client.get(f"{URL}/{theirs}", headers=e1).status_code == 404
    assert api.client.get(f"{URL}/{mine}", headers=e1).json()["masked"] is False
    assert api.client.get(URL, params={"code": "ORD00000002"}, headers=e1).json()["total"] == 0
    assert api.client.get(URL, headers=api.as_role(Role.SUPERVISOR)).json()["total"] == 2


def test_a_filer_cannot_take_over_another_enterprises_key(api: Api) -> None:
    e1, e2 = api.as_role(Role.FILER, "E1"), api.as_role(Role.FILER, "E2")
    api.client.post(URL, json=own(1, "E1"), headers=e1)
    grab = api.client.post(URL, json=own(1, "E2"), headers=e2)
    assert grab.status_code == 422 and grab.json()["field"] == "business_key"
    sup = api.as_role(Role.SUPERVISOR)
    assert api.client.get(URL, params={"enterprise": "E1"}, headers=sup).json()["total"] == 1


def test_uploads_and_receipts_are_filtered_record_by_record(api: Api) -> None:
    e1 = api.as_role(Role.FILER, "E1")
    mine = {"ebc_code": "E1", "ebp_code": "E1", "agent_code": "E1", "logistics_code": "E1"}
    records = [
        inventory(1, **mine),
        inventory(2, ebc_code="E2", ebp_code="P2", agent_code="A2", logistics_code="L2"),
        inventory(3, **mine),
    ]
    files = [("files", ("mixed.xml", ceb_file("CEB621", records), "application/xml"))]
    report = api.client.post(f"{URL}/upload", files=files, headers=e1).json()[0]
    assert report["new"] == 2 and report["rejected"] == 1
    assert report["rejections"][0]["index"] == 2
    sup = api.as_role(Role.SUPERVISOR)
    api.client.post(URL, json=decl_json(7, ebc="E2", agent_code="AG2"), headers=sup)
    # a list's business key is its agent's code and its copNo, as read from the file
    rc = [receipt(n, st, business_key=f"E1:COP{n:08d}") for n, st in ((1, 800), (3, 500))]
    rc_other = {
        "message_type": "CEB622",
        "kind": "inventory",
        "business_key": "AG001:COP00000007",
        "return_status": 800,
    }
    body = [
        {
            "message_type": r.message_type,
            "kind": r.kind.value,
            "business_key": r.business_key,
            "return_status": r.return_status,
        }
        for r in rc
    ] + [rc_other]
    out = api.client.post("/api/v1/receipts", json=body, headers=e1).json()
    assert out["receipts_applied"] == 0 and out["receipts_information"] == 2
    assert out["rejected"] == 1
    assert out["rejections"][0]["field"] == "business_key"
    mine = api.client.get("/api/v1/receipts", headers=e1).json()
    assert mine["total"] == 2
