"""Inspector verdicts come down in the edge's sync, so an edge that lost its disk keeps a HOLD."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx

from edge.cache import DeclarationCache
from edge.line.engine import LineEngine
from edge.state import SafetyState
from edge.sync import HubSync, SyncApplied
from hub.db.auth_models import Role
from inspection.index import DeclarationIndex
from inspection.rules import load_rules
from tests.edge.test_state import PLAN
from tests.hub import conftest_api as fx
from tests.hub.conftest_api import Api

api = fx.api
api_engine = fx.api_engine


def _verdict(api: Api, code: str, kind: str) -> str:
    body = {"parcel_code": code, "verdict": kind, "why": "seen on the image"}
    r = api.client.post("/api/v1/verdicts", json=body, headers=api.as_role(Role.INSPECTOR))
    assert r.status_code in (200, 201), r.text
    return str(r.json()["verdict"]["verdict_id"])


def _page(api: Api, after: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"cursor": "", "limit": 10}
    if after is not None:
        params["verdicts_after"] = after
    r = api.client.get("/api/v1/sync/declarations", params=params, headers=api.as_role(Role.EDGE))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_sync_carries_verdicts_from_a_cursor(api: Api) -> None:
    """All verdicts from the beginning, then only from the cursor on (the last one again)."""
    first = _verdict(api, "RR000000001CN", "hold")
    api.clock.advance(5)
    second = _verdict(api, "RR000000002CN", "clear")
    assert _page(api, None).get("verdicts", []) == []  # an older edge asks for none
    body = _page(api, "")
    assert [v["verdict_id"] for v in body["verdicts"]] == [first, second]
    assert body["verdicts"][0]["verdict"] == "hold"
    again = _page(api, body["next_verdicts"])
    assert [v["verdict_id"] for v in again["verdicts"]] == [second]
    bad = api.client.get(
        "/api/v1/sync/declarations",
        params={"verdicts_after": "yesterday"},
        headers=api.as_role(Role.EDGE),
    )
    assert bad.status_code in (400, 422)


def test_edge_that_lost_its_disk_gets_its_holds_back(api: Api, tmp_path: Path) -> None:
    """A fresh edge store pulls every verdict; the engine's store then holds the parcel."""
    _verdict(api, "RR000000003CN", "hold")
    key = api.as_role(Role.EDGE)

    def forward(request: httpx.Request) -> httpx.Response:
        r = api.client.get(request.url.path, params=dict(request.url.params), headers=key)
        return httpx.Response(r.status_code, content=r.content)

    state = SafetyState(tmp_path / "state.db")
    cache = DeclarationCache(tmp_path / "cache.db")
    got: list[object] = []
    sync = HubSync(
        "http://hub", "", cache, got.append, threading.Event(),
        transport=httpx.MockTransport(forward), verdicts_from=state.verdicts_cursor,
    )  # fmt: skip
    try:
        sync.pull_once()
    finally:
        sync.join()
        cache.close()
    applied = [g for g in got if isinstance(g, SyncApplied)]
    assert [v.parcel_code for a in applied for v in a.verdicts] == ["RR000000003CN"]
    engine = LineEngine(
        site="s1", edge_id="e1", index=DeclarationIndex(), rules=load_rules(), plan=PLAN,
        reply=lambda _c: None, emit=lambda _e: None, clock=api.clock, state=state,
    )  # fmt: skip
    for page in applied:
        engine.handle(page)
    assert state.holds == {"RR000000003CN"}
    assert state.verdicts_cursor() == applied[-1].verdicts_cursor != ""
    state.close()
