"""The edge's keys: its own signing key for events, and the hub's public keys for verdicts.

``clearline hub edge enrol EDGE_ID --out DIR`` writes the files this section names; the
site file points at them under ``trust:`` for each edge (or desk).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field

from contracts.config import ConfigModel
from contracts.events import EdgeEvent
from devices.signing import KeyFileError, load_private_key, load_public_key, sign_event

__all__ = ["EdgeKeys", "EdgeTrust", "KeyFileError", "with_password"]


class EdgeTrust(ConfigModel):
    """Where an edge finds its keys, and how old a verdict it still accepts."""

    signing_key: Path = Field(
        title="Signing key", description="The edge's Ed25519 private key (PEM, mode 0600)."
    )
    hub_public_keys: list[Path] = Field(
        min_length=1,
        title="Hub keys",
        description="The hub's public key(s); two while the hub's key is being rotated.",
    )
    broker_password_file: Path | None = Field(
        None,
        title="Broker password file",
        description="File holding the broker password of the user named in broker_url.",
    )
    max_skew_s: float = Field(
        30.0, ge=0, le=600, title="Clock skew", description="Allowed hub/edge clock skew, s."
    )
    max_lifetime_s: float = Field(
        3600.0,
        gt=0,
        le=24 * 3600,
        title="Longest verdict life",
        description="A verdict valid for longer than this (expires_at - issued_at) is refused.",
    )


class EdgeKeys:
    """The loaded keys of one edge: it signs events with one and checks verdicts with others."""

    def __init__(self, signing: Ed25519PrivateKey, hub: list[Ed25519PublicKey]) -> None:
        """Hold the edge's private key and the hub's public keys."""
        self.signing, self.hub = signing, hub

    @classmethod
    def load(cls, trust: EdgeTrust) -> EdgeKeys:
        """Read the key files named by ``trust``; raise KeyFileError when one is unusable."""
        return cls(
            load_private_key(trust.signing_key), [load_public_key(p) for p in trust.hub_public_keys]
        )

    def encode(self, event: EdgeEvent) -> bytes:
        """The signed event as JSON bytes, ready for the outbox."""
        return sign_event(self.signing, event).model_dump_json().encode()


def with_password(url: str, password_file: Path | None) -> str:
    """``url`` with the broker password read from ``password_file`` (unchanged when None)."""
    if password_file is None:
        return url
    try:
        password = password_file.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise KeyFileError(f"cannot read the broker password {password_file}: {err}") from None
    parts = urlsplit(url)
    if not parts.username:
        raise KeyFileError(f"broker URL {url!r} names no user for the password file")
    host = parts.hostname or ""
    netloc = f"{quote(parts.username, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
