"""The audit log: read it page by page and check its keyed chain and the audited tables."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from hub.db.audit_models import AuditEntryPublic
from hub.deps import EngineDep, EverySite, SessionDep, Supervisor
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
    mismatches: list[str] = Field(
        default_factory=list, description="Verdict, rule or desk rows unlike their audit row."
    )
    anchor_seq: int | None = Field(default=None, description="Row checked against an anchor.")


@router.get("", response_model=list[AuditEntryPublic], summary="Audit entries from a seq on")
def entries(
    principal: Supervisor,
    _every: EverySite,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditEntryPublic]:
    """Return up to ``limit`` entries with ``seq`` greater than ``after``, oldest first."""
    rows = audit.entries(session, after, limit)
    return [AuditEntryPublic.model_validate(r, from_attributes=True) for r in rows]


@router.get("/verify", response_model=VerifyOut, summary="Check the keyed chain and tables")
def verify(principal: Supervisor, _every: EverySite, engine: EngineDep) -> VerifyOut:
    """Recompute every row's keyed hash and link, name the first bad row if any, and list
    verdict, rule and desk rows that differ from their audit rows."""
    return VerifyOut.model_validate(audit.verify(engine).as_json())
