"""Rules: the current rule set, stored versions, and audited changes by supervisors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from hub.db.auth_models import Role
from hub.db.rules_models import RuleVersion, RuleVersionFull, RuleVersionPublic
from hub.deps import ClockDep, SessionDep, Supervisor, require_roles
from hub.services import rules as service
from hub.services.auth import Principal

router = APIRouter(prefix="/api/v1/rules", tags=["rules"])

RulesReader = Annotated[
    Principal,
    Depends(require_roles(Role.SUPERVISOR, Role.INSPECTOR, Role.OPERATOR, Role.EDGE)),
]


class RulesUpdate(BaseModel):
    """New rules YAML and why it changes (recorded in the audit log)."""

    text: str = Field(min_length=1, max_length=service.MAX_RULES_CHARS, description="YAML.")
    why: str = Field(min_length=1, max_length=2000, description="Reason for the change.")


class RulesChanged(BaseModel):
    """The outcome of a rules change."""

    changed: bool = Field(description="False when the text equals the current rules.")
    rules: RuleVersionPublic


def _full(row: RuleVersion) -> RuleVersionFull:
    return RuleVersionFull.model_validate(row, from_attributes=True)


@router.get("/current", response_model=RuleVersionFull, summary="The current rules")
def current(principal: RulesReader, session: SessionDep) -> RuleVersionFull:
    """Return the newest stored rule set with its YAML text."""
    return _full(service.current(session))


@router.get("/versions", response_model=list[RuleVersionPublic], summary="Stored rule versions")
def versions(principal: RulesReader, session: SessionDep) -> list[RuleVersionPublic]:
    """Return every stored rule set (without text), newest first."""
    return [
        RuleVersionPublic.model_validate(r, from_attributes=True) for r in service.versions(session)
    ]


@router.get("/versions/{number}", response_model=RuleVersionFull, summary="One stored version")
def version(
    principal: RulesReader,
    session: SessionDep,
    number: Annotated[int, Path(ge=1, le=10_000_000)],
) -> RuleVersionFull:
    """Return stored rule set ``number`` with its YAML text."""
    return _full(service.by_number(session, number))


@router.put(
    "",
    response_model=RulesChanged,
    summary="Save new rules (validated; audited)",
    responses={422: {"description": "Invalid YAML or rules: names the line and the key"}},
)
def change(
    principal: Supervisor, session: SessionDep, clock: ClockDep, body: RulesUpdate
) -> RulesChanged:
    """Validate and store the rules as the next version; the change is audited."""
    row, changed = service.change(session, principal, body.text, body.why, clock.now())
    return RulesChanged(
        changed=changed, rules=RuleVersionPublic.model_validate(row, from_attributes=True)
    )
