"""Edge delta sync: resumable by cursor; nothing skipped or doubled across pages and writes."""

from __future__ import annotations

from typing import Any

from hub.db.auth_models import Role
from tests.hub import conftest_api as fx
from tests.hub.conftest_api import Api, decl_json

# fixtures (imported explicitly: pytest_plugins is for the root conftest only)
api = fx.api
api_engine = fx.api_engine


def _file(api: Api, n: int, **kw: Any) -> str:
    r = api.client.post(
        "/api/v1/declarations", json=decl_json(n, **kw), headers=api.as_role(Role.SUPERVISOR)
    )
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


def _page(api: Api, cursor: str, limit: int, digest: str = "") -> dict[str, Any]:
    r = api.client.get(
        "/api/v1/sync/declarations",
        params={"cursor": cursor, "limit": limit, "rules_digest": digest},
        headers=api.as_role(Role.EDGE),
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_pages_cover_everything_once_in_change_order(api: Api) -> None:
    ids = [_file(api, n) for n in range(1, 12)]
    seen: list[str] = []
    cursor, pages = "", 0
    while True:
        body = _page(api, cursor, 4)
        pages += 1
        seen += [d["id"] for d in body["declarations"]]
        changes = [d["change"] for d in body["declarations"]]
        assert changes == sorted(changes)
        cursor = body["next_cursor"]
        if not body["more"]:
            break
    assert pages == 3 and seen == ids
    assert _page(api, cursor, 4)["declarations"] == []
    assert _page(api, cursor, 4)["next_cursor"] == cursor


def test_writes_between_pages_are_delivered_and_amendments_come_again(api: Api) -> None:
    ids = [_file(api, n) for n in range(1, 7)]
    first = _page(api, "", 3)
    delivered = [d["id"] for d in first["declarations"]]
    assert delivered == ids[:3]
    # new filings, an amendment of a delivered one and of an undelivered one
    ids.append(_file(api, 7))
    _file(api, 1, goods_value="250.00000")
    _file(api, 5, goods_value="260.00000")
    r = api.client.post(
        "/api/v1/receipts",
        json=[
            {
                "message_type": "CEB622",
                "kind": "inventory",
                "business_key": "AG001:COP00000002",
                "return_status": 800,
                "return_time": "2026-11-22T09:00:00Z",
            }
        ],
        headers=api.as_role(Role.CUSTOMS),
    )
    assert r.status_code == 200 and r.json()["receipts_applied"] == 1
    rest: list[dict[str, Any]] = []
    cursor = first["next_cursor"]
    while True:
        body = _page(api, cursor, 2)
        rest += body["declarations"]
        cursor = body["next_cursor"]
        if not body["more"]:
            break
    after = [d["id"] for d in rest]
    assert len(after) == len(set(after))
    assert set(delivered) | set(after) == set(ids)
    by_id = {d["id"]: d for d in rest}
    assert by_id[ids[0]]["declaration"]["goods_value"] == "250.00000"
    assert by_id[ids[4]]["declaration"]["goods_value"] == "260.00000"
    assert by_id[ids[1]]["customs_status"] == 800
    assert after[-3:] == [ids[0], ids[4], ids[1]]  # latest changes last


def test_a_page_carries_lines_full_fields_and_rules(api: Api) -> None:
    _file(api, 1)
    body = _page(api, "", 10)
    decl = body["declarations"][0]["declaration"]
    assert decl["buyer_id_number"] == "110101199003071234"  # edges need it for the checks
    assert decl["lines"][0]["hs_code"] == "6109100021" and decl["extra"] == {"customsCode": "2991"}
    rules = body["rules"]
    assert rules["number"] == 1 and rules["text"]
    again = _page(api, "", 10, digest=rules["digest"])
    assert again["rules"]["text"] is None and again["rules"]["digest"] == rules["digest"]


def test_bad_cursors_and_limits_are_refused(api: Api) -> None:
    edge = api.as_role(Role.EDGE)
    for params in ({"cursor": "abc"}, {"cursor": "-1"}, {"limit": 0}, {"limit": 100_000}):
        r = api.client.get("/api/v1/sync/declarations", params=params, headers=edge)
        assert r.status_code == 422, params
