"""Login (bearer tokens), logout and who-am-I."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel, Field, ValidationError

from hub.db.auth_models import Role
from hub.deps import PUBLIC, ClockDep, SessionDep, SettingsDep, require_roles
from hub.services import users
from hub.services.auth import Principal
from hub.services.errors import Invalid

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

AnyRole = Annotated[Principal, Depends(require_roles(*Role))]
_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

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
    responses={401: {"description": "Wrong user name or password"}},
)
async def token(
    request: Request, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> TokenOut:
    """Check the password and return a new opaque bearer token."""
    login = await _login_body(request)
    now = clock.now()
    secret, expires = users.login(
        session, login.username, login.password, now, settings.token_ttl_s
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


@router.post("/logout", status_code=204, summary="Revoke the bearer token used")
def logout(
    principal: AnyRole, session: SessionDep, bearer: Annotated[str | None, Depends(_bearer)]
) -> None:
    """Delete the bearer token of this request (API keys are not affected)."""
    if bearer and principal.kind == "user":
        users.revoke_token(session, bearer)
