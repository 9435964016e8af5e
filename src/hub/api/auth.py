"""Login (bearer tokens), logout and who-am-I."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import APIKeyCookie, OAuth2PasswordBearer
from pydantic import BaseModel, Field, ValidationError

from hub.db.auth_models import Role
from hub.deps import (
    PUBLIC,
    SESSION_COOKIE,
    ClockDep,
    LimiterDep,
    SessionDep,
    SettingsDep,
    client_address,
    require_roles,
)
from hub.services import users
from hub.services.auth import Principal
from hub.services.errors import Forbidden, Invalid
from hub.services.login_limits import limited_login

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

AnyRole = Annotated[Principal, Depends(require_roles(*Role))]
_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False)

_LOGIN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {
        "username": {"type": "string", "minLength": 1, "maxLength": 64},
        "password": {"type": "string", "minLength": 1, "maxLength": 256},
    },
}


class Login(BaseModel):
    """A user name and password, as a form (OAuth2 password flow) or as JSON."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    """A bearer token: send it as ``Authorization: Bearer <access_token>``."""

    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    expires_in: int = Field(description="Seconds the token stays valid.")


class Me(BaseModel):
    """Who the caller is."""

    kind: str = Field(description="user or api_key")
    id: uuid.UUID
    name: str
    role: Role
    enterprise: str


async def _login_body(request: Request) -> Login:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind == "application/json":
            data: Any = json.loads(await request.body() or b"null")
        else:
            form = await request.form()
            data = {k: v for k, v in form.items() if isinstance(v, str)}
        return Login.model_validate(data)
    except (ValidationError, ValueError) as err:
        raise Invalid("send username and password as a form or as JSON", field="username") from err


@router.post(
    "/token",
    response_model=TokenOut,
    dependencies=[PUBLIC],
    summary="Log in with a user name and password; get a bearer token",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": _LOGIN_SCHEMA},
                "application/json": {"schema": _LOGIN_SCHEMA},
            },
        }
    },
    responses={
        401: {"description": "Wrong user name or password"},
        429: {"description": "Too many failed logins for the account or the address"},
    },
)
async def token(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    limiter: LimiterDep,
) -> TokenOut:
    """Check the password and return a new opaque bearer token.

    After too many failures for the account or from the address (5 in 5 minutes by
    default) every attempt gets 429 with ``Retry-After`` until the window has passed.
    """
    login = await _login_body(request)
    now = clock.now()
    secret, expires = limited_login(
        limiter,
        session,
        login.username,
        login.password,
        client_address(request),
        now,
        settings.token_ttl_s,
    )
    return TokenOut(
        access_token=secret,
        expires_at=expires,
        expires_in=int((expires - now).total_seconds()),
    )


@router.get("/me", response_model=Me, summary="Who am I")
def me(principal: AnyRole) -> Me:
    """Return the calling user or machine."""
    return Me(
        kind=principal.kind,
        id=principal.id,
        name=principal.name,
        role=principal.role,
        enterprise=principal.enterprise,
    )


@router.post("/logout", status_code=204, summary="Revoke the token or session cookie used")
def logout(
    principal: AnyRole,
    session: SessionDep,
    response: Response,
    bearer: Annotated[str | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> None:
    """Revoke the bearer token or session cookie of this request (API keys are not
    affected); the revoked token gets 401 from then on."""
    if principal.kind == "user":
        for secret in (bearer, cookie):
            if secret:
                users.revoke_token(session, secret)
    if cookie:
        response.delete_cookie(SESSION_COOKIE, path="/")


class PasswordChange(BaseModel):
    """The current password and the new one."""

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


@router.post(
    "/password",
    status_code=204,
    summary="Change the caller's own password",
    responses={
        401: {"description": "The current password is wrong"},
        422: {"description": "The new password fails the password policy"},
    },
)
def change_password(
    principal: AnyRole, session: SessionDep, clock: ClockDep, body: PasswordChange
) -> None:
    """Set a new password (at least 12 characters, not a common or default password, not
    the user name); every session of the user ends, so log in again."""
    if principal.kind != "user":
        raise Forbidden("an API key has no password")
    users.change_password(
        session, principal.name, body.current_password, body.new_password, clock.now()
    )
