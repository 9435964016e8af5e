"""The files an enrolment hands to an edge, and the broker's files from the registry."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session

from devices.signing import write_private_key, write_public_key
from hub.services import edges
from hub.services.broker import (
    HUB_USER,
    BrokerUser,
    acl_file,
    mosquitto_conf,
    password_file,
    password_hash,
)


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 (created so, never widened first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class EnrolFiles:
    """Where an enrolment's files went."""

    out: Path
    signing_key: Path
    hub_public_key: Path
    broker_password: Path
    api_key: Path | None
    site_snippet: Path


def write_enrolment(
    enrolment: edges.Enrolment, out: Path, hub_key: Ed25519PrivateKey, broker_url: str
) -> EnrolFiles:
    """Write what the edge needs into ``out``: keys, broker password, API key, a site snippet.

    ``broker_url`` is the broker as the edge reaches it, without credentials; the snippet
    adds the edge's user to it and points at the password file.
    """
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    signing = out / "edge-signing.key"
    write_private_key(enrolment.signing_key, signing)
    write_public_key(enrolment.signing_key, out / "edge-signing.key.pub")
    hub_pub = out / "hub-signing.pub"
    write_public_key(hub_key, hub_pub)
    password = out / "broker.password"
    write_secret(password, enrolment.broker_password + "\n")
    api: Path | None = None
    if enrolment.api_key is not None:
        api = out / "api.key"
        write_secret(api, enrolment.api_key + "\n")
    scheme, _, rest = broker_url.partition("://")
    snippet = out / "site-snippet.yaml"
    snippet.write_text(
        "# Add under this edge's entry in the site file (edges: or desks:).\n"
        f"broker_url: {scheme}://{enrolment.broker_user}@{rest}\n"
        "trust:\n"
        f"  signing_key: {signing.resolve()}\n"
        f"  hub_public_keys: [{hub_pub.resolve()}]\n"
        f"  broker_password_file: {password.resolve()}\n"
        + (f"# and export CLEARLINE_EDGE_API_KEY=$(cat {api.resolve()})\n" if api else ""),
        encoding="utf-8",
    )
    return EnrolFiles(out, signing, hub_pub, password, api, snippet)


def broker_users(
    session: Session, site: str, hub_password: str, devices: dict[str, str] | None = None
) -> list[BrokerUser]:
    """Every broker account: the hub, each enrolled edge not revoked, and lone devices."""
    users = [BrokerUser(HUB_USER, password_hash(hub_password), "hub", site)]
    for row in edges.registry(session):
        if row["revoked_at"] is not None:
            continue
        devs = tuple(d for d in str(row["devices"]).split(",") if d)
        users.append(
            BrokerUser(
                row["broker_user"], row["broker_hash"], "edge", row["site"], row["edge_id"], devs
            )
        )
    for device, password in (devices or {}).items():
        users.append(
            BrokerUser(edges.check_id(device, "device id"), password_hash(password), "device", site)
        )
    return users


def write_broker_config(
    session: Session,
    out: Path,
    site: str,
    *,
    hub_password_file: Path | None = None,
    devices: list[str] | None = None,
    port: int = 8883,
    tls: tuple[str, str, str] = ("", "", ""),
) -> dict[str, Any]:
    """Write ``passwd``, ``acl`` and ``mosquitto.conf`` into ``out``; return what was written.

    The hub's broker password is read from ``hub_password_file`` or made and written to
    ``out/hub.password``; each lone device gets ``out/devices/ID.password``. ``tls`` names
    the server certificate, its key and the CA (empty: ``server.crt``, ``server.key`` and
    ``ca.crt`` in ``out``).
    """
    out.mkdir(parents=True, exist_ok=True)
    if hub_password_file is not None and hub_password_file.exists():
        hub_password = hub_password_file.read_text(encoding="utf-8").strip()
    else:
        hub_password = secrets.token_urlsafe(24)
        hub_password_file = out / "hub.password"
        write_secret(hub_password_file, hub_password + "\n")
    device_passwords: dict[str, str] = {}
    for device in devices or []:
        device_passwords[device] = secrets.token_urlsafe(24)
        write_secret(out / "devices" / f"{device}.password", device_passwords[device] + "\n")
    users = broker_users(session, site, hub_password, device_passwords)
    write_secret(out / "passwd", password_file(users))
    (out / "acl").write_text(acl_file(users), encoding="utf-8")
    (out / "mosquitto.conf").write_text(
        mosquitto_conf(
            str(out.resolve()), port=port, certfile=tls[0], keyfile=tls[1], cafile=tls[2]
        ),
        encoding="utf-8",
    )
    return {
        "users": [u.user for u in users],
        "hub_user": HUB_USER,
        "hub_password_file": str(hub_password_file),
        "dir": str(out),
    }
