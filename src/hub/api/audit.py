"""The audit log: read it page by page and check its hash chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from hub.db.audit_models import AuditEntryPublic
from hub.deps import EngineDep, SessionDep, Supervisor
from hub.services import audit

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class VerifyOut(BaseModel):
    """The outcome of checking the audit chain."""

    ok: bool
    rows: int
    last_seq: int
    last_hash: str
    first_bad_seq: int | None
    problem: str


@router.get("", response_model=list[AuditEntryPublic], summary="Audit entries from a seq on")
def entries(
    principal: Supervisor,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditEntryPublic]:
    """Return up to ``limit`` entries with ``seq`` greater than ``after``, oldest first."""
    rows = audit.entries(session, after, limit)
    return [AuditEntryPublic.model_validate(r, from_attributes=True) for r in rows]


@router.get("/verify", response_model=VerifyOut, summary="Check the hash chain")
def verify(principal: Supervisor, engine: EngineDep) -> VerifyOut:
    """Recompute every row's hash and link; name the first bad row if any."""
    return VerifyOut.model_validate(audit.verify(engine).as_json())
