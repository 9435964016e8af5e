"""The check page: what would happen to a parcel on the line now, and why, in words.

It runs the check of ``clearline check`` (:mod:`hub.services.parcel_check`: the one decision
pipeline on what the hub holds for the code) with the hub's current rules. A filer checks
only its own enterprise's parcels.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from contracts.clock import Clock
from hub.db.auth_models import Role
from hub.deps import ClockDep, EngineDep, SessionDep, require_roles
from hub.importing.loader import load_index_for
from hub.services import rules as rules_service
from hub.services.auth import Principal
from hub.services.declarations import declaration_owned
from hub.services.errors import NotFound
from hub.services.parcel_check import XRAY_CHOICES, ParcelCheck, check_parcel
from hub.web import i18n
from hub.web.names import customs_status, outcome_badge
from hub.web.shell import page
from hub.web.wording import outcome_words, reason_words
from inspection.rules import parse_rules

router = APIRouter(tags=["pages"])

Checker = Annotated[
    Principal,
    Depends(require_roles(Role.FILER, Role.SUPERVISOR, Role.INSPECTOR, Role.OPERATOR)),
]


def _view(check: ParcelCheck) -> dict[str, Any]:
    """What the page shows of a check, in the language being spoken."""
    tr = i18n.gettext
    decision, entry = check.result.decision, check.result.entry
    decl = entry.declaration if entry is not None else None
    return {
        "outcome": str(decision.outcome),
        "badge": outcome_badge(str(decision.outcome)),
        "words": outcome_words(str(decision.outcome), tr),
        "reasons": [(str(r), reason_words(str(r), tr)) for r in decision.reasons],
        "checks": [
            {
                "name": tr(c["check"]),
                "state": "skip" if not c["ran"] else ("pass" if c["passed"] else "fail"),
                "reasons": [reason_words(r, tr) for r in c["reasons"]],
            }
            for c in check.checks()
        ],
        "assumed": [n.said(tr) for n in check.notes],
        "rules": decision.rule_set_version,
        "declaration": decl.business_key if decl is not None else "",
        "kind": tr(decl.kind.value) if decl is not None else "",
        "customs": customs_status(entry.status) if entry is not None else "",
        "failed": check.result.failed,
    }


def _check(
    engine: EngineDep, session: SessionDep, me: Principal, code: str, kg: float | None,
    xray: str, clock: Clock,
) -> ParcelCheck | None:  # fmt: skip
    """Check ``code`` with the hub's current rules; None when a filer may not see its parcel."""
    rules = parse_rules(rules_service.current(session).text, "rules (hub)")
    index = load_index_for(engine, code)
    check = check_parcel(
        index, code, rules, clock, weight=kg, xray=XRAY_CHOICES.get(xray, XRAY_CHOICES["cleared"])
    )
    entry = check.result.entry
    if me.is_filer and (entry is None or not declaration_owned(me, entry.declaration)):
        return None
    return check


@router.get("/check", response_class=HTMLResponse, summary="Check a parcel code (page)")
def check_page(
    me: Checker,
    request: Request,
    engine: EngineDep,
    session: SessionDep,
    clock: ClockDep,
    code: Annotated[str, Query(max_length=200)] = "",
    weight: Annotated[str, Query(max_length=16)] = "",
    xray: Annotated[str, Query(max_length=8)] = "cleared",
) -> HTMLResponse:
    """The form; with a code, the outcome, its reasons in words, each check and what was
    assumed."""
    code = code.strip()
    try:
        kg = float(weight) if weight.strip() else None
    except ValueError:
        kg = None
    if kg is not None and not 0 < kg < 1000:
        kg = None
    context: dict[str, Any] = {"code": code, "weight": weight, "xray": xray, "result": None}
    context["unknown"] = False
    if code:
        try:
            check = _check(engine, session, me, code, kg, xray, clock)
        except NotFound:
            check = None
        if check is None:
            context["unknown"] = True
        else:
            with i18n.speaking(i18n.choose(request)):
                context["result"] = _view(check)
    return page(request, "check.html", me, **context)
