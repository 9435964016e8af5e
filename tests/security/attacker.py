"""What an attacker with write access to the database (but not the audit key) would run.

It is written from the documented row format alone (canonical JSON of the row's fields,
then a hash), not with the hub's own functions: it rewrites one verdict in the verdict
table and in its audit row, then recomputes the whole chain and the head, either with
plain SHA-256 (the chain before the key) or with an HMAC under a key it made up.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from hub.db.audit_models import GENESIS_HASH, AuditEntry, AuditHead
from hub.db.event_models import VERDICT

LOG = AuditEntry.__table__  # type: ignore[attr-defined]
HEAD = AuditHead.__table__  # type: ignore[attr-defined]


def _digest(row: dict[str, Any], prev: str, key: bytes | None) -> str:
    at: datetime = row["at"]
    body = {
        "seq": row["seq"],
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": row["actor"],
        "role": row["role"],
        "action": row["action"],
        "subject": row["subject"],
        "why": row["why"],
        "data": row["data"],
        "prev_hash": prev,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if key is None:
        return hashlib.sha256(text).hexdigest()
    return hmac.new(key, text, hashlib.sha256).hexdigest()


def rewrite_verdict(
    engine: Engine, verdict_id: uuid.UUID, new_verdict: str, key: bytes | None
) -> None:
    """Change one verdict everywhere and recompute the chain so that it links up again."""
    with engine.begin() as conn:
        conn.execute(
            update(VERDICT).where(VERDICT.c.verdict_id == verdict_id).values(verdict=new_verdict)
        )
        rows = [dict(r._mapping) for r in conn.execute(select(LOG).order_by(LOG.c.seq))]
        prev = GENESIS_HASH
        for row in rows:
            data = json.loads(row["data"])
            if data.get("verdict_id") == str(verdict_id):
                data["verdict"] = new_verdict
                row["data"] = json.dumps(data, sort_keys=True, separators=(",", ":"))
            new_hash = _digest(row, prev, key)
            conn.execute(
                update(LOG)
                .where(LOG.c.seq == row["seq"])
                .values(data=row["data"], prev_hash=prev, hash=new_hash)
            )
            prev = new_hash
        conn.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=rows[-1]["seq"], hash=prev))
