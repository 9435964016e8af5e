"""Credentials: scrypt password hashes, opaque bearer tokens and API keys, role checks."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from hub.db.auth_models import Role
from hub.services.errors import Forbidden

#: scrypt cost parameters for new password hashes (CPU/memory cost, block size, parallelism).
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
#: Salt length for password hashes, in bytes.
SALT_BYTES = 16
#: Random bytes in a bearer token or an API key.
SECRET_BYTES = 32
#: Prefix of bearer tokens issued at login.
TOKEN_PREFIX = "clt_"
#: Prefix of machine API keys.
API_KEY_PREFIX = "clk_"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """Return ``scrypt$n$r$p$salt$hash`` for ``password`` with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Return whether ``password`` matches a hash made by :func:`hash_password`."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(key)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


@functools.cache
def unknown_user_hash() -> str:
    """Return a hash no password matches, checked for unknown users (same cost either way)."""
    return hash_password(secrets.token_urlsafe(16))


def new_secret(prefix: str) -> str:
    """Return a new random secret (a bearer token or an API key) starting with ``prefix``."""
    return prefix + secrets.token_urlsafe(SECRET_BYTES)


def secret_digest(secret: str) -> str:
    """Return the SHA-256 hex digest a token or key is stored as."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a logged-in user or a machine holding an API key."""

    kind: str  # "user" | "api_key"
    id: uuid.UUID
    name: str
    role: Role
    enterprise: str = ""
    language: str = ""  # the user's page language ("" when none is set)

    def allowed(self, roles: frozenset[Role]) -> bool:
        """Return whether this principal passes a check for ``roles`` (admin always does)."""
        return self.role is Role.ADMIN or self.role in roles

    @property
    def is_filer(self) -> bool:
        """Whether this principal only sees its own enterprise's declarations."""
        return self.role is Role.FILER


def check_role(principal: Principal, roles: frozenset[Role]) -> Principal:
    """Return ``principal`` if it holds one of ``roles``; raise :class:`Forbidden` otherwise."""
    if not principal.allowed(roles):
        wanted = ", ".join(sorted(r.value for r in roles))
        raise Forbidden(f"role {principal.role.value!r} may not do this (needs one of: {wanted})")
    return principal
