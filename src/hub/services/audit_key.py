"""The audit log's HMAC key: a file outside the database, 0600, made on first use.

The key is what makes the chain unforgeable: anyone who can write the database but not
read this file cannot recompute a row's hash. Each engine the hub writes the log through
is bound to its key (:func:`bind_key`); appends and checks look it up by engine.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import weakref
from pathlib import Path

from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

#: Bytes of a new key (HMAC-SHA256 takes any length; 32 is its block-size-safe choice).
KEY_BYTES = 32
#: Shortest key accepted from a file, in bytes.
MIN_KEY_BYTES = 16

_KEYS: weakref.WeakKeyDictionary[Engine, bytes] = weakref.WeakKeyDictionary()


class AuditKeyError(RuntimeError):
    """The audit key file is missing, unreadable, too open or malformed."""


def _parse(raw: str, path: Path) -> bytes:
    try:
        key = bytes.fromhex(raw.strip())
    except ValueError as err:
        raise AuditKeyError(f"{path}: the audit key is not hexadecimal text") from err
    if len(key) < MIN_KEY_BYTES:
        raise AuditKeyError(f"{path}: the audit key is shorter than {MIN_KEY_BYTES} bytes")
    return key


def read_key(path: Path) -> bytes:
    """Read the key from ``path``; refuse a file that others than its owner may read."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise AuditKeyError(
                f"{path}: the audit key file may be read by others (mode {stat.S_IMODE(mode):o}); "
                "chmod 600 it"
            )
        return _parse(path.read_text(encoding="ascii"), path)
    except FileNotFoundError as err:
        raise AuditKeyError(f"{path}: the audit key file does not exist") from err
    except (OSError, UnicodeDecodeError) as err:
        raise AuditKeyError(f"{path}: cannot read the audit key ({err})") from err


def create_key(path: Path) -> bytes:
    """Write a new random key to ``path`` (mode 0600, never over an existing file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key(path)
    except OSError as err:
        raise AuditKeyError(f"{path}: cannot create the audit key ({err.strerror})") from err
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key.hex() + "\n")
    log.warning("audit key created at %s: keep a copy of it outside this host", path)
    return key


def load_key(path: Path, *, create: bool, log_rows: int = 0) -> bytes:
    """Return the key at ``path``; make it when ``create`` and the log is still empty.

    A missing key with rows in the log is an error: a new key would not verify them.
    """
    if path.exists() or not create:
        return read_key(path)
    if log_rows:
        raise AuditKeyError(
            f"{path}: the audit key file is missing but the audit log holds {log_rows} rows; "
            "restore the key file (a new key cannot verify them)"
        )
    return create_key(path)


def bind_key(engine: Engine, key: bytes) -> None:
    """Use ``key`` for the audit log written and checked through ``engine``."""
    _KEYS[engine] = key


def key_for(bind: Engine | Connection) -> bytes:
    """Return the key bound to ``bind``'s engine; raise AuditKeyError when there is none."""
    engine = bind.engine if isinstance(bind, Connection) else bind
    key = _KEYS.get(engine)
    if key is None:
        raise AuditKeyError("no audit key is bound to this database (set CLEARLINE_AUDIT_KEY_PATH)")
    return key
