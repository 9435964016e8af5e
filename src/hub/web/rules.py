"""The rules page: the current rules, their thresholds changed in a form or the whole text
edited, and every stored version; each change is recorded in the audit log (old → new)."""

from __future__ import annotations

import re
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.db.auth_models import Role
from hub.db.rules_models import RuleVersion
from hub.deps import ClockDep, SessionDep, require_roles
from hub.services import rules as service
from hub.services import rules_edit
from hub.services.auth import Principal
from hub.services.errors import ServiceError
from hub.web import i18n
from hub.web.i18n import N_
from hub.web.shell import page

router = APIRouter(tags=["pages"])

Supervisor = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR))]

#: The thresholds the form changes: dotted key, what it is, its unit.
THRESHOLDS: tuple[tuple[str, str, str], ...] = (
    ("weight.abs_g", N_("Weight: allowed deviation"), N_("g")),
    ("weight.rel", N_("Weight: allowed deviation, share of the declared weight"), ""),
    ("limits.per_transaction_cny", N_("Value limit per transaction"), N_("yuan")),
    ("limits.annual_per_buyer_cny", N_("Value limit per buyer and year"), N_("yuan")),
    ("limits.postal_per_item_cny", N_("Postal item value limit"), N_("yuan")),
    ("limits.postal_hk_mo_tw_cny", N_("Postal item value limit from Hong Kong, Macao, Taiwan"),
     N_("yuan")),
    ("three_doc.amount_tolerance_cny", N_("Three documents: amount tolerance"), N_("yuan")),
    ("tax.tolerance_cny", N_("Declared tax: tolerance"), N_("yuan")),
    ("random_selection.rates.advanced", N_("Random selection: advanced-grade enterprises"), ""),
    ("random_selection.rates.general", N_("Random selection: general-grade enterprises"), ""),
    ("random_selection.rates.dishonest", N_("Random selection: dishonest enterprises"), ""),
)  # fmt: skip
#: The form field of a threshold.
FIELD = "t_{}"


def next_version(row: RuleVersion) -> str:
    """A version name for the next rules: the current one with ``-r<number>`` at the end."""
    base = re.sub(r"-r\d+$", "", row.version)[:100]
    return f"{base}-r{row.number + 1}"


def _values(text: str) -> dict[str, Any]:
    """The current value of each threshold ('' when the rules lack it)."""
    flat = rules_edit.flatten(yaml.safe_load(text) or {})
    return {key: flat.get(key, "") for key, _label, _unit in THRESHOLDS}


def _show(
    request: Request,
    me: Principal,
    session: SessionDep,
    note: str = "",
    bad: bool = False,
    text: str | None = None,
) -> HTMLResponse:
    """The rules page, with a note about the last change."""
    current = service.current(session)
    return page(
        request,
        "rules.html",
        me,
        status=422 if bad else 200,
        current=current,
        versions=service.versions(session)[:50],
        thresholds=THRESHOLDS,
        values=_values(current.text),
        field=FIELD,
        suggested=next_version(current),
        text=current.text if text is None else text,
        note=note,
        bad=bad,
    )


@router.get("/rules", response_class=HTMLResponse, summary="Rules page")
def rules_page(
    me: Supervisor,
    request: Request,
    session: SessionDep,
    saved: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> HTMLResponse:
    """The current rules, the threshold form, the text and every stored version."""
    note = ""
    if saved:
        with i18n.speaking(i18n.choose(request)):
            note = i18n.gettext(
                "Saved as rules version %(n)s; the edges take it at their next sync."
            ) % {"n": saved}
    return _show(request, me, session, note)


def _save(
    request: Request, me: Principal, session: SessionDep, clock: ClockDep, text: str, why: str
) -> Response:
    """Store ``text`` as the next rules (audited) and go back to the page; say what failed."""
    with i18n.speaking(i18n.choose(request)):
        if not why.strip():
            return _show(
                request, me, session, i18n.gettext(N_("Say why the rules change.")), True, text
            )
        try:
            row, changed = service.change(session, me, text, why, clock.now())
        except ServiceError as err:
            session.rollback()
            return _show(request, me, session, err.message, True, text)
        if not changed:
            return _show(request, me, session, i18n.gettext("Nothing changed."))
    return RedirectResponse(f"/rules?saved={row.number}", status_code=303)


@router.post("/rules", response_class=HTMLResponse, response_model=None)
async def change_thresholds(
    me: Supervisor, request: Request, session: SessionDep, clock: ClockDep
) -> Response:
    """Change the thresholds given in the form, under a new version name, with a reason."""
    form = await request.form()
    why = str(form.get("why", ""))[:2000]
    version = str(form.get("version", ""))[:120]
    values = {
        key: str(form.get(FIELD.format(key), ""))[:20]
        for key, _label, _unit in THRESHOLDS
        if form.get(FIELD.format(key))
    }
    current = service.current(session)
    bad = [key for key, raw in values.items() if not rules_edit.NUMBER.match(raw.strip())]
    if bad:
        with i18n.speaking(i18n.choose(request)):
            note = i18n.gettext(N_("Give plain numbers (such as 60 or 0.05): %(keys)s"))
        return _show(request, me, session, note % {"keys": ", ".join(bad)}, True)
    try:
        text = rules_edit.with_thresholds(current.text, values, version or next_version(current))
    except ServiceError as err:
        return _show(request, me, session, err.message, True)
    return _save(request, me, session, clock, text, why)


@router.post("/rules/text", response_class=HTMLResponse, response_model=None)
def change_text(
    me: Supervisor,
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    text: Annotated[str, Form(max_length=service.MAX_RULES_CHARS)],
    why: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Store an edited rules text (checked key by key, line by line) with a reason."""
    return _save(request, me, session, clock, text.replace("\r\n", "\n"), why)
