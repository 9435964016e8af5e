"""The append-only, hash-chained audit log: append under a lock, verify the whole chain.

Each row's ``hash`` is the SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8)
of ``seq, at, actor, role, action, subject, why, data, prev_hash``; ``prev_hash`` is the
previous row's ``hash`` (64 zeros for the first). ``audit_head`` names the newest row, so
a deleted tail is caught too. Appends update the head row first, which serialises them
(a row lock on PostgreSQL, the write lock on SQLite), so the chain never forks.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col
from sqlmodel import select as sm_select

from hub.db.audit_models import GENESIS_HASH, AuditEntry, AuditHead
from inspection.masking import scrub

log = logging.getLogger(__name__)

_AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]
_HEAD = AuditHead.__table__  # type: ignore[attr-defined]


class AuditError(RuntimeError):
    """The audit log could not be written."""


def _time_text(at: datetime) -> str:
    """Render a time as it is hashed: UTC, ISO 8601 with microseconds."""
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def data_text(data: Mapping[str, Any]) -> str:
    """Return the canonical JSON text ``data`` is stored and hashed as."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def row_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    role: str,
    action: str,
    subject: str,
    why: str,
    data: str,
    prev_hash: str,
) -> str:
    """Return the SHA-256 (hex) of one row's canonical JSON; ``data`` is its stored text."""
    body = {
        "seq": seq,
        "at": _time_text(at),
        "actor": actor,
        "role": role,
        "action": action,
        "subject": subject,
        "why": why,
        "data": data,
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def entry_hash(row: Any) -> str:
    """Return the hash a stored row (anything with the audit columns) should carry."""
    return row_hash(
        seq=int(row.seq),
        at=row.at,
        actor=row.actor,
        role=row.role,
        action=row.action,
        subject=row.subject,
        why=row.why,
        data=row.data,
        prev_hash=row.prev_hash,
    )


def append(
    session: Session,
    *,
    at: datetime,
    actor: str,
    role: str,
    action: str,
    subject: str,
    why: str = "",
    data: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add one row at the end of the chain in the caller's transaction (it commits).

    ``why`` is scrubbed of long digit runs (identity and phone numbers); ``subject`` and
    ``data`` must not hold personal numbers. ``at`` is stored in UTC.
    """
    conn = session.connection()
    bumped = conn.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq))
    if bumped.rowcount == 0:
        conn.execute(_HEAD.insert().values(id=1, seq=0, hash=GENESIS_HASH))
    head = conn.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).one()
    seq = int(head.seq) + 1
    entry = AuditEntry(
        seq=seq,
        at=at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC),
        actor=actor,
        role=role,
        action=action,
        subject=subject,
        why=scrub(why),
        data=data_text(data or {}),
        prev_hash=str(head.hash),
        hash="",
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    session.flush()
    conn.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=seq, hash=entry.hash))
    log.info("audit %s: %s %s on %s", seq, actor, action, subject)
    return entry


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of checking the audit chain; ``first_bad_seq`` is None when intact."""

    ok: bool
    rows: int
    last_seq: int
    last_hash: str
    first_bad_seq: int | None = None
    problem: str = ""

    def as_json(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        return asdict(self)


def check_rows(rows: Iterable[Any], head: tuple[int, str] | None) -> VerifyReport:
    """Check rows in ``seq`` order against their hashes, links and the head pointer."""
    expected_seq = 1
    prev = GENESIS_HASH
    count = 0
    for row in rows:
        count += 1
        seq = int(row.seq)
        if seq != expected_seq:
            if seq > expected_seq:
                problem = f"rows {expected_seq}..{seq - 1} are missing (deleted)"
                return VerifyReport(False, count, seq, row.hash, expected_seq, problem)
            problem = f"row {seq} is out of order"
            return VerifyReport(False, count, seq, row.hash, seq, problem)
        recomputed = entry_hash(row)
        if recomputed != row.hash:
            problem = f"row {seq} was changed: its content no longer matches its hash"
            return VerifyReport(False, count, seq, row.hash, seq, problem)
        if row.prev_hash != prev:
            problem = f"row {seq} does not follow row {seq - 1} (deleted, replaced or reordered)"
            return VerifyReport(False, count, seq, row.hash, seq, problem)
        prev = row.hash
        expected_seq += 1
    last_seq = expected_seq - 1
    if head is not None and (head[0] != last_seq or head[1] != prev):
        if head[0] > last_seq:
            problem = f"rows {last_seq + 1}..{head[0]} at the end are missing (deleted)"
            return VerifyReport(False, count, last_seq, prev, last_seq + 1, problem)
        problem = f"the head names row {head[0]} but the log ends at row {last_seq}"
        return VerifyReport(False, count, last_seq, prev, min(head[0], last_seq) + 1, problem)
    return VerifyReport(True, count, last_seq, prev)


def verify(engine: Engine) -> VerifyReport:
    """Read the whole audit log in ``seq`` order (streamed) and check the chain."""
    with engine.connect() as conn:
        head_row = conn.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).first()
        head = (int(head_row.seq), str(head_row.hash)) if head_row is not None else None
        cols = [_AUDIT.c[n] for n in ("seq", "at", "actor", "role", "action", "subject")]
        cols += [_AUDIT.c[n] for n in ("why", "data", "prev_hash", "hash")]
        result = conn.execution_options(yield_per=1000).execute(
            select(*cols).order_by(_AUDIT.c.seq)
        )
        report = check_rows(result, head)
        result.close()
    if report.ok:
        log.info("audit log intact: %s rows, last %s", report.rows, report.last_seq)
    else:
        log.warning("audit log broken at row %s: %s", report.first_bad_seq, report.problem)
    return report


#: Statements that make ``audit_log`` refuse UPDATE and DELETE, per dialect.
GUARD_SQL: dict[str, tuple[str, ...]] = {
    "sqlite": (
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION clearline_audit_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP; END $$",
        "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION clearline_audit_append_only()",
        "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION clearline_audit_append_only()",
    ),
}


def install_guards(conn: Connection) -> None:
    """Install the append-only triggers on ``audit_log`` for the connection's dialect."""
    for statement in GUARD_SQL.get(conn.dialect.name, ()):
        conn.execute(text(statement))


def entries(session: Session, after: int, limit: int) -> list[AuditEntry]:
    """Return up to ``limit`` audit rows with ``seq`` greater than ``after``, in order."""
    stmt = (
        sm_select(AuditEntry)
        .where(col(AuditEntry.seq) > after)
        .order_by(col(AuditEntry.seq))
        .limit(limit)
    )
    return list(session.exec(stmt))
