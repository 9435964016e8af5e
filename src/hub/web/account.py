"""The signed-in person's own page: who they are and the language their pages speak."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.db.auth_models import Role
from hub.deps import ClockDep, SessionDep, require_roles
from hub.services import user_admin
from hub.services.auth import Principal
from hub.services.errors import Forbidden
from hub.web import i18n
from hub.web.shell import page

router = APIRouter(tags=["pages"])

AnyUser = Annotated[Principal, Depends(require_roles(*Role))]


@router.get("/me", response_class=HTMLResponse, summary="The signed-in person's own page")
def my_page(me: AnyUser, request: Request, saved: bool = False) -> HTMLResponse:
    """Name, role, enterprise and the language setting."""
    return page(request, "account.html", me, saved=saved, setting=me.language)


@router.post("/me/language", summary="Save the signed-in person's page language")
def save_language(
    me: AnyUser,
    session: SessionDep,
    clock: ClockDep,
    language: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Keep the language with the user (every browser they use) and drop the switch's cookie,
    so the setting speaks from the next page on."""
    if me.kind != "user":
        raise Forbidden("an API key has no settings")
    user_admin.set_language(session, me.name, language, clock.now(), me)
    response = RedirectResponse("/me?saved=true", status_code=303)
    response.delete_cookie(i18n.COOKIE, path="/")
    return response
