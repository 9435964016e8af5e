"""The audit log page: who did what, when and why, newest first, with each rules change
key by key (old → new), and a check of the keyed chain."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from hub.db.audit_models import AuditEntry
from hub.db.auth_models import Role
from hub.deps import EngineDep, EverySite, SessionDep, require_roles
from hub.services import audit, audit_read
from hub.services.auth import Principal
from hub.web import i18n
from hub.web.i18n import N_
from hub.web.shell import page

router = APIRouter(tags=["pages"])

Supervisor = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR))]

#: What each audited action is, in words (the filter offers these).
ACTIONS: dict[str, str] = {
    "rules.change": N_("changed the rules"),
    "verdict": N_("gave an X-ray verdict"),
    "late_review": N_("reviewed after the parcel had left"),
    "inspection_result": N_("recorded a manual inspection"),
    "user_": N_("changed a user"),
    "user_enable": N_("enabled a user"),
    "user_disable": N_("disabled a user"),
    "user_password_reset": N_("reset a user's password"),
    "user_role": N_("changed a user's role"),
    "user_language": N_("set a user's page language"),
    audit.SEAL_ACTION: N_("sealed the log with its key"),
}
#: Actions offered in the filter (``user_`` takes every user change).
FILTERS = ("rules.change", "verdict", "late_review", "inspection_result", "user_")
#: Who an actor is when no person is (the hub host's command line, the hub itself).
ACTORS = {"hub-cli": N_("command line on the hub host"), "system": N_("the hub")}
#: Reasons the hub itself gives, in words.
SYSTEM_WHY = {"initial rules at first start": N_("the rules the hub started with")}
#: Language setting values in words.
LANGUAGE_WORDS = {"": N_("as the browser asks"), **i18n.NAMES}


def _changes(row: AuditEntry) -> list[tuple[str, str, str]]:
    """What changed (key, old, new) as the row records it."""
    try:
        data = json.loads(row.data)
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    tr = i18n.gettext
    if row.action == "user_language":
        old, new = str(data.get("old", "")), str(data.get("new", ""))
        return [
            (tr("Language"), tr(LANGUAGE_WORDS.get(old, old)), tr(LANGUAGE_WORDS.get(new, new)))
        ]
    if row.action in ("verdict", "late_review") and data.get("verdict"):
        return [(tr("Verdict"), "", tr(str(data["verdict"])))]
    changes = data.get("changes")
    if not isinstance(changes, list):
        return []
    out = [
        (str(c.get("key", "")), str(c.get("old", "")), str(c.get("new", "")))
        for c in changes
        if isinstance(c, dict)
    ]
    hidden = int(data.get("changed_keys", len(out)) or 0) - len(out)
    if hidden > 0:
        out.append(("…", "", tr("and %(n)s more keys") % {"n": hidden}))
    return out


def _row(row: AuditEntry) -> dict[str, Any]:
    """One audit row as the page shows it."""
    tr = i18n.gettext
    return {
        "seq": row.seq,
        "at": row.at.strftime("%Y-%m-%d %H:%M:%S") + " UTC",
        "actor": tr(ACTORS[row.actor]) if row.actor in ACTORS else row.actor,
        "role": tr(row.role) if row.role else "",
        "action": tr(ACTIONS[row.action]) if row.action in ACTIONS else row.action,
        "code": row.action,
        "subject": row.subject,
        "why": tr(SYSTEM_WHY[row.why]) if row.why in SYSTEM_WHY else row.why,
        "changes": _changes(row),
    }


@router.get("/audit", response_class=HTMLResponse, summary="Audit log page")
def audit_page(
    me: Supervisor,
    _every: EverySite,
    request: Request,
    session: SessionDep,
    engine: EngineDep,
    action: Annotated[str, Query(max_length=64)] = "",
    before: Annotated[int, Query(ge=0, le=2**62)] = 0,
    verify: bool = False,
) -> HTMLResponse:
    """The newest entries (a hundred a page), filtered by action; ``verify`` checks the chain."""
    rows = audit_read.latest(session, before=before, action=action, limit=100)
    checked = audit.verify(engine) if verify else None
    with i18n.speaking(i18n.choose(request)):
        shown = [_row(r) for r in rows]
        filters = [(a, i18n.gettext(ACTIONS[a])) for a in FILTERS]
    return page(
        request,
        "audit.html",
        me,
        rows=shown,
        filters=filters,
        action=action,
        older=rows[-1].seq if len(rows) == 100 else 0,
        checked=checked,
    )
