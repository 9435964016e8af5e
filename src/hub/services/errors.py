"""The service-layer error: one base type, subclassed by the HTTP status it maps to."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the hub services refuse; ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str, *, field: str = "") -> None:
        """Keep the message (never containing unmasked personal numbers) and the field."""
        super().__init__(message)
        self.message = message
        self.field = field


class Unauthenticated(ServiceError):  # noqa: N818  (named after the HTTP status)
    """No credentials, or credentials that are wrong, expired or revoked."""

    status = 401


class Forbidden(ServiceError):  # noqa: N818  (named after the HTTP status)
    """The principal is known but its role or enterprise does not allow the action."""

    status = 403


class NotFound(ServiceError):  # noqa: N818  (named after the HTTP status)
    """The named resource does not exist (or is not visible to the principal)."""

    status = 404


class Conflict(ServiceError):  # noqa: N818  (named after the HTTP status)
    """The request conflicts with stored state (a duplicate name, say)."""

    status = 409


class Invalid(ServiceError):  # noqa: N818  (named after the HTTP status)
    """The request content is invalid; ``field`` names what is wrong."""

    status = 422


class TooManyAttempts(ServiceError):  # noqa: N818  (named after the HTTP status)
    """Too many failed logins for the account or the address; retry after a while."""

    status = 429

    def __init__(self, message: str, *, retry_after_s: int, field: str = "") -> None:
        """Keep the message and the seconds to wait (sent as ``Retry-After``)."""
        super().__init__(message, field=field)
        self.retry_after_s = retry_after_s
