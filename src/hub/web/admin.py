"""User administration page: list, disable and enable, reset password, change role or language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse

from hub.db.auth_models import Role
from hub.deps import ClockDep, SessionDep, require_roles
from hub.services import user_admin, users
from hub.services.auth import Principal
from hub.services.errors import ServiceError
from hub.web import i18n
from hub.web.i18n import N_
from hub.web.shell import page

router = APIRouter(tags=["pages"])

Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Name = Annotated[str, PathParam(min_length=1, max_length=64)]
#: Roles a person may hold (edges are machines with API keys).
PERSON_ROLES = [r for r in Role if r is not Role.EDGE]


def _list(
    request: Request, me: Principal, session: SessionDep, note: str = "", bad: bool = False
) -> HTMLResponse:
    """The users page, with a note about the last change."""
    return page(
        request,
        "users.html",
        me,
        people=users.list_users(session),
        roles=[r.value for r in PERSON_ROLES],
        note=note,
        bad=bad,
        status=422 if bad else 200,
    )


@router.get("/admin/users", response_class=HTMLResponse, summary="User administration page")
def users_page(me: Admin, request: Request, session: SessionDep) -> HTMLResponse:
    """Every login with its role, enterprise and state."""
    return _list(request, me, session)


@router.post("/admin/users/{name}", response_class=HTMLResponse, response_model=None)
def change_user(
    me: Admin,
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    name: Name,
    action: Annotated[str, Form(max_length=16)],
    password: Annotated[str, Form(max_length=256)] = "",
    role: Annotated[str, Form(max_length=16)] = "",
    enterprise: Annotated[str, Form(max_length=64)] = "",
    language: Annotated[str, Form(max_length=8)] = "",
) -> HTMLResponse | RedirectResponse:
    """Disable, enable, reset the password of, change the role or the language of one user."""
    now = clock.now()
    with i18n.speaking(i18n.choose(request)):
        try:
            if action in ("disable", "enable"):
                user_admin.set_active(session, name, action == "enable", now, me)
                note = (
                    N_("%(name)s is now disabled.")
                    if action == "disable"
                    else N_("%(name)s is now enabled.")
                )
            elif action == "password":
                user_admin.reset_password(session, name, password, now, me)
                note = N_("The password of %(name)s was reset; their sessions ended.")
            elif action == "role" and role in {r.value for r in PERSON_ROLES}:
                user_admin.set_role(session, name, Role(role), now, enterprise, me)
                note = N_("%(name)s has a new role.")
            elif action == "language":
                user_admin.set_language(session, name, language, now, me)
                note = N_("%(name)s has a new page language.")
            else:
                return _list(request, me, session, i18n.gettext("Unknown change."), True)
        except ServiceError as err:
            session.rollback()
            return _list(request, me, session, err.message, True)
        return _list(request, me, session, i18n.gettext(note) % {"name": name})
