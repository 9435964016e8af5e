"""Ed25519 keys and signatures for the messages between the hub and its edges.

The hub signs every inspector verdict with its key; each edge signs its events with its own.
What is signed is the message's canonical form: a domain tag (so a verdict signature can
never pass as an event signature) and the message as JSON with sorted keys and no spaces,
without its ``sig`` field. Signatures and public keys travel as base64 text.

Key files: private keys are PKCS#8 PEM written with mode 0600; public keys are
SubjectPublicKeyInfo PEM. This module sits beside the MQTT transport because both the edge
and the hub use it, and the hub may use nothing else of ``devices/``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts.events import EdgeEvent
from contracts.messages import Verdict

__all__ = [
    "EVENT_TAG",
    "VERDICT_TAG",
    "KeyFileError",
    "SignatureError",
    "canonical",
    "event_bytes",
    "generate_key",
    "key_id",
    "load_or_create_private_key",
    "load_private_key",
    "load_public_key",
    "public_from_text",
    "public_text",
    "sign",
    "sign_event",
    "sign_verdict",
    "verdict_bytes",
    "verify",
    "verify_event",
    "verify_verdict",
    "write_private_key",
    "write_public_key",
]

#: Domain tags in front of the canonical JSON; a signature binds the kind of message too.
VERDICT_TAG = b"clearline/verdict/v1\n"
EVENT_TAG = b"clearline/event/v1\n"
#: File mode of every private key file.
PRIVATE_MODE = 0o600


class KeyFileError(ValueError):
    """A key file is missing, unreadable, of the wrong kind, or too widely readable."""


class SignatureError(ValueError):
    """A message is unsigned, or its signature does not verify with any trusted key."""


def canonical(tag: bytes, fields: dict[str, Any]) -> bytes:
    """The bytes signed for a message: ``tag`` then compact JSON with sorted keys."""
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return tag + body.encode("utf-8")


def verdict_bytes(verdict: Verdict) -> bytes:
    """Canonical bytes of a verdict (every field but ``sig``)."""
    return canonical(VERDICT_TAG, verdict.model_dump(mode="json", exclude={"sig"}))


def event_bytes(event: EdgeEvent) -> bytes:
    """Canonical bytes of an edge event (every field but ``sig``)."""
    return canonical(EVENT_TAG, event.model_dump(mode="json", exclude={"sig"}))


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """Base64 signature of ``message``."""
    return base64.b64encode(key.sign(message)).decode("ascii")


def verify(keys: list[Ed25519PublicKey], message: bytes, sig: str | None) -> Ed25519PublicKey:
    """Return the key of ``keys`` that signed ``message``; raise SignatureError if none did."""
    if not sig:
        raise SignatureError("the message is not signed")
    try:
        raw = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("the signature is not base64") from None
    if len(raw) != 64:
        raise SignatureError("the signature is not 64 bytes long")
    for key in keys:
        try:
            key.verify(raw, message)
        except InvalidSignature:
            continue
        return key
    raise SignatureError("the signature does not verify with any trusted key")


def sign_verdict(key: Ed25519PrivateKey, verdict: Verdict) -> Verdict:
    """Return ``verdict`` with its signature."""
    return verdict.model_copy(update={"sig": sign(key, verdict_bytes(verdict))})


def verify_verdict(keys: list[Ed25519PublicKey], verdict: Verdict) -> None:
    """Raise SignatureError unless one of ``keys`` signed ``verdict``."""
    verify(keys, verdict_bytes(verdict), verdict.sig)


def sign_event(key: Ed25519PrivateKey, event: EdgeEvent) -> EdgeEvent:
    """Return ``event`` with its signature."""
    return event.model_copy(update={"sig": sign(key, event_bytes(event))})


def verify_event(keys: list[Ed25519PublicKey], event: EdgeEvent) -> None:
    """Raise SignatureError unless one of ``keys`` signed ``event``."""
    verify(keys, event_bytes(event), event.sig)


# --- keys -------------------------------------------------------------------------------------


def generate_key() -> Ed25519PrivateKey:
    """A new random Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def public_text(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The raw 32-byte public key as base64 (how the hub's registry stores it)."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_from_text(text: str) -> Ed25519PublicKey:
    """Parse a base64 raw public key; raise KeyFileError if it is not one."""
    try:
        raw = base64.b64decode(text, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as err:
        raise KeyFileError(f"not an Ed25519 public key: {err}") from None


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """A short fingerprint of a public key (16 hex digits of its SHA-256), for logs and docs."""
    return hashlib.sha256(public_text(key).encode("ascii")).hexdigest()[:16]


def write_private_key(key: Ed25519PrivateKey, path: Path) -> None:
    """Write ``key`` as PKCS#8 PEM with mode 0600 (created so, never widened first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_public_key(key: Ed25519PublicKey | Ed25519PrivateKey, path: Path) -> None:
    """Write the public half of ``key`` as PEM (mode 0644)."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        pub.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a private key file; refuse one that others than its owner can read."""
    try:
        mode = path.stat().st_mode & 0o777
        data = path.read_bytes()
    except OSError as err:
        raise KeyFileError(f"cannot read the key file {path}: {err.strerror}") from None
    if mode & 0o077:
        raise KeyFileError(
            f"the key file {path} has mode {mode:o}; it must be 600 (chmod 600 {path})"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as err:
        raise KeyFileError(f"{path} is not a PEM private key: {err}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read a PEM public key file."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise KeyFileError(f"cannot read the key file {path}: {err.strerror}") from None
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as err:
        raise KeyFileError(f"{path} is not a PEM public key: {err}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} is not an Ed25519 public key")
    return key


def load_or_create_private_key(path: Path) -> Ed25519PrivateKey:
    """Load the key at ``path``, or generate one there (0600) with its ``.pub`` beside it."""
    if path.exists():
        return load_private_key(path)
    key = generate_key()
    write_private_key(key, path)
    write_public_key(key, path.with_name(path.name + ".pub"))
    return key
