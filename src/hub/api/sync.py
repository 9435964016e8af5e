"""Delta sync of declarations, customs statuses and the rules version, for edges."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from hub.deps import EdgeMachine, EngineDep, SessionDep
from hub.services import snapshot
from hub.services import sync as service
from hub.services.edges import bound_edge

#: Response header of a snapshot: ``kept`` (the hub's file) or ``live`` (read at the request).
SOURCE_HEADER = "X-Clearline-Snapshot"

router = APIRouter(prefix="/api/v1/sync", tags=["sync"])


class SyncRules(BaseModel):
    """The current rules; ``text`` only when the edge's digest differs."""

    number: int
    version: str
    digest: str
    text: str | None


class SyncDeclaration(BaseModel):
    """One declaration in its current state; amounts are exact decimal text."""

    id: str
    change: int = Field(description="Its change number; the cursor after it.")
    customs_status: int | None
    status_time: str | None
    updated_at: str
    declaration: dict[str, Any] = Field(
        description="Every field of inspection.model.Declaration, with lines and extra."
    )


#: Query parameters both sync routes take.
RulesDigest = Annotated[
    str, Query(max_length=64, description="Digest of the rules the edge holds.")
]
VerdictsAfter = Annotated[
    str | None,
    Query(max_length=40, description="Also send verdicts since this time; empty for all."),
]


class SyncPage(BaseModel):
    """One page of changes; call again with ``next_cursor`` while ``more`` is true."""

    cursor: str
    next_cursor: str
    more: bool
    rules: SyncRules | None
    declarations: list[SyncDeclaration]
    verdicts: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Inspector verdicts recorded since ``verdicts_after`` (when asked).",
    )
    next_verdicts: str | None = Field(None, description="Give back as ``verdicts_after``.")
    behind: int | None = Field(
        None, description="Changes waiting after ``cursor`` (up to ``backlog``), when asked."
    )


@router.get("/declarations", response_model=SyncPage, summary="Declarations changed since a cursor")
def sync_declarations(
    principal: EdgeMachine,
    session: SessionDep,
    cursor: Annotated[
        str, Query(max_length=18, pattern=r"^[0-9]*$", description="Empty for the beginning.")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=service.MAX_SYNC_LIMIT)] = 1000,
    rules_digest: RulesDigest = "",
    verdicts_after: VerdictsAfter = None,
    backlog: Annotated[
        int,
        Query(ge=0, le=10_000_000, description="Also count the changes waiting, up to this."),
    ] = 0,
) -> Any:
    """Return declarations whose newest change is after ``cursor``, oldest change first."""
    bound_edge(session, principal)  # a revoked edge's key is refused
    body = service.page(session, cursor, limit, rules_digest)
    if backlog:
        body["behind"] = service.backlog(session, cursor, backlog)
    if verdicts_after is not None:
        body["verdicts"], body["next_verdicts"] = service.verdicts_since(session, verdicts_after)
    return JSONResponse(body)


@router.get(
    "/snapshot",
    summary="Every declaration in its current state, for an edge's first sync",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def sync_snapshot(
    request: Request,
    principal: EdgeMachine,
    session: SessionDep,
    engine: EngineDep,
    rules_digest: RulesDigest = "",
    verdicts_after: VerdictsAfter = None,
) -> StreamingResponse:
    """Stream every declaration in its current state, with the cursor the delta sync goes on
    from (`hub.services.snapshot`; header and trailer JSON, rows in PostgreSQL's COPY text
    format); the rows come from the kept snapshot file when there is one (its cursor may be
    some changes behind: the delta sync brings them). The edge's key is checked as for the
    delta sync."""
    bound_edge(session, principal)  # a revoked edge's key is refused
    verdicts = None
    if verdicts_after is not None:
        found, after = service.verdicts_since(session, verdicts_after)
        verdicts = {"verdicts": found, "next_verdicts": after}
    session.close()
    store = getattr(request.app.state, "snapshot_store", None)
    kept = store.open_usable(engine) if store is not None else None
    return StreamingResponse(
        snapshot.stream(engine, rules_digest, verdicts, kept),
        media_type="application/x-ndjson",
        headers={SOURCE_HEADER: "kept" if kept is not None else "live"},
    )
