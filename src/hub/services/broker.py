"""Mosquitto files from the registry of enrolled edges: password file, ACL and a TLS listener.

The password file uses Mosquitto's PBKDF2-SHA512 format (``$7$`` in ``mosquitto_passwd``):
``user:$7$ITERATIONS$BASE64(SALT)$BASE64(HASH)``, a 12-byte salt and a 64-byte hash, so the
hub can write it without the ``mosquitto_passwd`` tool.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from contracts.topics import ROOT

#: Mosquitto's own defaults for the ``sha512-pbkdf2`` hash.
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12
#: The broker user of the hub itself.
HUB_USER = "clearline-hub"


def password_hash(
    password: str, *, salt: bytes | None = None, rounds: int = PBKDF2_ITERATIONS
) -> str:
    """The Mosquitto ``$7$`` PBKDF2-SHA512 hash of ``password``."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, rounds, 64)
    b64 = base64.b64encode
    return f"$7${rounds}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (constant-time compare)."""
    parts = stored.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    salt = base64.b64decode(parts[3])
    return hmac.compare_digest(password_hash(password, salt=salt, rounds=int(parts[2])), stored)


@dataclass(frozen=True, slots=True)
class BrokerUser:
    """One broker account: the hub, an edge (with its devices) or a lone device."""

    user: str
    hash: str
    role: str  # hub | edge | device
    site: str
    edge_id: str = ""
    devices: tuple[str, ...] = field(default=())


def password_file(users: list[BrokerUser]) -> str:
    """The Mosquitto password file for ``users``."""
    return "".join(f"{u.user}:{u.hash}\n" for u in users)


def _device_topics(site: str, device: str) -> list[str]:
    """What one device (or its edge, for it) may publish: its images and its availability."""
    return [
        f"{ROOT}/{site}/+/{device}/availability",
        f"{ROOT}/{site}/xray/{device}/image/+",
    ]


def acl_file(users: list[BrokerUser]) -> str:
    """The Mosquitto ACL: each edge writes only its own topics, only the hub writes ``hub/``.

    Everyone may read the site's topics (verdicts and sync notices go to every edge, and a
    signature, not secrecy, protects them); writes are per account.
    """
    lines = [
        "# Written by `clearline hub broker-config` from the hub's registry of edges.",
        "# Anyone not listed here (or anonymous) may do nothing.",
        "",
    ]
    for u in users:
        site = u.site
        lines.append(f"user {u.user}")
        if u.role == "hub":
            lines += [
                f"topic read {ROOT}/{site}/#",
                f"topic write {ROOT}/{site}/hub/#",
            ]
        elif u.role == "edge":
            lines += [
                f"topic read {ROOT}/{site}/hub/#",
                f"topic read {ROOT}/{site}/xray/+/image/+",
                f"topic write {ROOT}/{site}/edge/{u.edge_id}/#",
            ]
            for device in u.devices:
                lines += [f"topic write {t}" for t in _device_topics(site, device)]
        else:
            lines += [f"topic write {t}" for t in _device_topics(site, u.user)]
        lines.append("")
    return "\n".join(lines)


def mosquitto_conf(
    dir_path: str, *, port: int = 8883, certfile: str = "", keyfile: str = "", cafile: str = ""
) -> str:
    """A ``mosquitto.conf`` snippet: one TLS listener, no anonymous clients, our files."""
    cert = certfile or f"{dir_path}/server.crt"
    key = keyfile or f"{dir_path}/server.key"
    ca = cafile or f"{dir_path}/ca.crt"
    return "\n".join(
        [
            "# Written by `clearline hub broker-config`; include it from mosquitto.conf.",
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {dir_path}/passwd",
            f"acl_file {dir_path}/acl",
            "",
            f"listener {port}",
            "protocol mqtt",
            f"certfile {cert}",
            f"keyfile {key}",
            f"cafile {ca}",
            "tls_version tlsv1.2",
            "",
        ]
    )
