"""No personal data reaches a role that may not see it, whatever the filed values are.

Hypothesis draws identity numbers, phones, names and addresses, files them (and a receipt
whose ``returnInfo`` quotes the id), then reads every API output an operator or inspector
gets: the declaration list, the declaration detail (fields, ``extra``, goods lines,
receipts) and the receipt list; the statistics CSV too. None may hold a drawn value whole.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.db.auth_models import Role
from tests.hub import conftest_api as fx
from tests.hub.conftest_api import Api, decl_json

api = fx.api
api_engine = fx.api_engine

_SURNAMES = "赵钱孙李周吴郑冯陈褚卫蒋沈韩杨朱秦尤许何吕施"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"
_PLACES = "东西南北中新华光明和平幸福长安建设人民解放"
_numbers = itertools.count(1)

ids = st.from_regex(r"[1-6]\d{16}[\dX]", fullmatch=True)
phones = st.from_regex(r"1[3-9]\d{9}", fullmatch=True)
names = st.builds(
    lambda s, g: s + g,
    st.sampled_from(_SURNAMES),
    st.text(alphabet=_GIVEN, min_size=1, max_size=2),
)
addresses = st.builds(
    lambda a, b, n: f"浙江省杭州市{a}区{b}路{n}号",
    st.text(alphabet=_PLACES, min_size=2, max_size=3),
    st.text(alphabet=_PLACES, min_size=2, max_size=3),
    st.integers(1, 999),
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(buyer_id=ids, phone=phones, name=names, address=addresses, payer_id=ids)
def test_api_outputs_hold_no_personal_data_for_operators(
    api: Api, buyer_id: str, phone: str, name: str, address: str, payer_id: str
) -> None:
    n = next(_numbers)
    body = decl_json(
        n,
        buyer_id_number=buyer_id,
        buyer_name=name,
        buyer_telephone=phone,
        consignee=name,
        consignee_telephone=phone,
        consignee_address=address,
        payer_id_number=payer_id,
        payer_name=name,
        extra={"customsCode": "2991", "note": f"联系{phone}, 证件P{buyer_id}"},
    )
    body["lines"][0]["name"] = f"T恤 (买家 {buyer_id})"
    sup = api.as_role(Role.SUPERVISOR)
    r = api.client.post("/api/v1/declarations", json=body, headers=sup)
    assert r.status_code in (200, 201), r.text
    decl_id = r.json()["id"]
    receipt = {
        "message_type": "CEB622",
        "kind": "inventory",
        "business_key": body["business_key"],
        "return_status": 800,
        "return_info": f"放行; 订购人证件 {buyer_id} 电话 {phone[:3]}-{phone[3:7]}-{phone[7:]}",
    }
    r = api.client.post("/api/v1/receipts", json=[receipt], headers=sup)
    assert r.status_code == 200, r.text
    secrets = (buyer_id, payer_id, phone, name, address)
    # what a supervisor sees is whole (the masking is by role, not a loss of data)
    full = api.client.get(f"/api/v1/declarations/{decl_id}", headers=sup).text
    assert buyer_id in full and address in full
    for role in (Role.OPERATOR, Role.INSPECTOR):
        who = api.as_role(role)
        outputs = [
            api.client.get("/api/v1/declarations", params={"code": body["logistics_no"]},
                           headers=who),
            api.client.get(f"/api/v1/declarations/{decl_id}", headers=who),
            api.client.get("/api/v1/receipts", params={"business_key": body["business_key"]},
                           headers=who),
        ]  # fmt: skip
        for out in outputs:
            assert out.status_code == 200, out.text
            leaked = [s for s in secrets if s in out.text]
            assert not leaked, (out.url, leaked)
        detail = outputs[1].json()
        assert detail["masked"] is True
        assert detail["receipts"] and detail["lines"]
    csv = api.client.get(
        "/api/v1/stats", params={"format": "csv", "group_by": ["day", "ebc_code"]}, headers=sup
    )
    assert csv.status_code == 200
    assert not [s for s in secrets if s in csv.text]


def test_a_declaration_detail_lists_its_notices(api: Api) -> None:
    """A CEB513 logistics status shows on its list's detail with its status and history."""
    import io

    from inspection.formats.ceb_notice_write import write_notices
    from inspection.model import Notice

    sup = api.as_role(Role.SUPERVISOR)
    r = api.client.post("/api/v1/declarations", json=decl_json(900_001), headers=sup)
    decl_id = r.json()["id"]
    body = decl_json(900_001)
    buf = io.BytesIO()
    write_notices(buf, "CEB625", [Notice("CEB625", body["business_key"], info="退货 13800138000")])
    r = api.client.post(
        "/api/v1/declarations/upload", files={"files": ("ceb625.xml", buf.getvalue())},
        headers=sup,
    )  # fmt: skip
    assert r.status_code == 200 and r.json()[0]["notices"] == 1, r.text
    full = api.client.get(f"/api/v1/declarations/{decl_id}", headers=sup).json()
    assert [n["message_type"] for n in full["notices"]] == ["CEB625"]
    assert "return_request" in [h["event"] for h in full["history"]]
    masked = api.client.get(f"/api/v1/declarations/{decl_id}", headers=api.as_role(Role.OPERATOR))
    assert "13800138000" not in masked.text and masked.json()["notices"]
