"""The append-only, HMAC-chained audit log: append under a lock, verify the whole chain.

Each row's ``hash`` is the HMAC-SHA256, keyed with the audit key (a file outside the
database, :mod:`hub.services.audit_key`), of the canonical JSON (sorted keys, no spaces,
UTF-8) of ``seq, at, actor, role, action, subject, why, data, prev_hash``; ``prev_hash``
is the previous row's ``hash`` (64 zeros for the first). Without the key nobody can
recompute a row, so an edited, inserted or reordered row is caught even when the whole
chain after it is rewritten. ``audit_head`` names the newest row; an anchor exported from
it (:mod:`hub.services.audit_check`) catches a tail deleted together with the head.
Appends update the head row first, which serialises them (a row lock on PostgreSQL, the
write lock on SQLite), so the chain never forks.

A log written before the key existed keeps its first ``legacy_seq`` rows chained with
plain SHA-256; the first keyed row seals them (:data:`SEAL_ACTION`, naming their last hash).
"""

from __future__ import annotations

import hashlib
import hmac
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
from hub.services.audit_key import key_for
from inspection.masking import scrub

log = logging.getLogger(__name__)

_AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]
_HEAD = AuditHead.__table__  # type: ignore[attr-defined]
#: The action of the row that seals a log written before the key (rows 1..legacy_seq).
SEAL_ACTION = "audit.keyed"


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
    key: bytes | None,
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
    """Return the HMAC-SHA256 (hex) of one row's canonical JSON under ``key``.

    ``data`` is its stored text. ``key`` None gives the plain SHA-256 of rows written
    before the key existed.
    """
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
    if key is None:
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def entry_hash(row: Any, key: bytes | None) -> str:
    """Return the hash a stored row (anything with the audit columns) should carry."""
    return row_hash(
        key=key,
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
    ``data`` must not hold personal numbers. ``at`` is stored in UTC. Raises
    :class:`hub.services.audit_key.AuditKeyError` when no key is bound to the database.
    """
    conn = session.connection()
    key = key_for(conn)
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
    entry.hash = entry_hash(entry, key)
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
    mismatches: tuple[str, ...] = ()
    anchor_seq: int | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        return asdict(self)


def check_rows(
    rows: Iterable[Any],
    head: tuple[int, str] | None,
    key: bytes,
    legacy_seq: int = 0,
    want_seq: int = 0,
) -> tuple[VerifyReport, str | None]:
    """Check rows in ``seq`` order against their keyed hashes, links and the head pointer.

    Rows up to ``legacy_seq`` are checked with plain SHA-256 and must be followed by the
    seal row. Returns the report and the stored hash of row ``want_seq`` (None if absent).
    """
    expected_seq = 1
    prev = GENESIS_HASH
    count = 0
    wanted: str | None = None
    for row in rows:
        count += 1
        seq = int(row.seq)
        if seq != expected_seq:
            if seq > expected_seq:
                problem = f"rows {expected_seq}..{seq - 1} are missing (deleted)"
                return VerifyReport(False, count, seq, row.hash, expected_seq, problem), wanted
            problem = f"row {seq} is out of order"
            return VerifyReport(False, count, seq, row.hash, seq, problem), wanted
        if seq == want_seq:
            wanted = str(row.hash)
        recomputed = entry_hash(row, None if seq <= legacy_seq else key)
        if not hmac.compare_digest(recomputed, str(row.hash)):
            problem = f"row {seq} was changed: its content no longer matches its keyed hash"
            return VerifyReport(False, count, seq, row.hash, seq, problem), wanted
        if row.prev_hash != prev:
            problem = f"row {seq} does not follow row {seq - 1} (deleted, replaced or reordered)"
            return VerifyReport(False, count, seq, row.hash, seq, problem), wanted
        if legacy_seq and seq == legacy_seq + 1 and not _seals(row, prev):
            problem = f"row {seq} should seal the {legacy_seq} rows written before the key"
            return VerifyReport(False, count, seq, row.hash, seq, problem), wanted
        prev = row.hash
        expected_seq += 1
    last_seq = expected_seq - 1
    if legacy_seq and last_seq <= legacy_seq:
        problem = f"the {legacy_seq} rows written before the key were never sealed with it"
        return VerifyReport(False, count, last_seq, prev, last_seq + 1, problem), wanted
    if head is not None and (head[0] != last_seq or head[1] != prev):
        if head[0] > last_seq:
            problem = f"rows {last_seq + 1}..{head[0]} at the end are missing (deleted)"
            return VerifyReport(False, count, last_seq, prev, last_seq + 1, problem), wanted
        problem = f"the head names row {head[0]} but the log ends at row {last_seq}"
        bad = min(head[0], last_seq) + 1
        return VerifyReport(False, count, last_seq, prev, bad, problem), wanted
    return VerifyReport(True, count, last_seq, prev), wanted


def _seals(row: Any, legacy_head: str) -> bool:
    """Whether ``row`` is the seal naming ``legacy_head`` as the last unkeyed row's hash."""
    if row.action != SEAL_ACTION:
        return False
    try:
        data = json.loads(row.data)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("legacy_head") == legacy_head


def read_head(conn: Connection) -> tuple[tuple[int, str] | None, int]:
    """Return the head (seq, hash), or None when missing, and the legacy row count."""
    head_row = conn.execute(
        select(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.legacy_seq).where(_HEAD.c.id == 1)
    ).first()
    if head_row is None:
        return None, 0
    return (int(head_row.seq), str(head_row.hash)), int(head_row.legacy_seq or 0)


def verify_chain(engine: Engine, key: bytes, want_seq: int = 0) -> tuple[VerifyReport, str | None]:
    """Read the whole audit log in ``seq`` order (streamed) and check the keyed chain."""
    with engine.connect() as conn:
        head, legacy_seq = read_head(conn)
        cols = [_AUDIT.c[n] for n in ("seq", "at", "actor", "role", "action", "subject")]
        cols += [_AUDIT.c[n] for n in ("why", "data", "prev_hash", "hash")]
        result = conn.execution_options(yield_per=1000).execute(
            select(*cols).order_by(_AUDIT.c.seq)
        )
        report, wanted = check_rows(result, head, key, legacy_seq, want_seq)
        result.close()
    return report, wanted


def verify(
    engine: Engine, *, key: bytes | None = None, anchor: Mapping[str, Any] | None = None
) -> VerifyReport:
    """Check the keyed chain, the last ``anchor`` if given, and the verdict and rule
    tables against the log; ``key`` defaults to the one bound to ``engine``."""
    from hub.services import audit_check

    report = audit_check.full_check(engine, key if key is not None else key_for(engine), anchor)
    if report.ok:
        log.info("audit log intact: %s rows, last %s", report.rows, report.last_seq)
    else:
        log.warning("audit log check failed at row %s: %s", report.first_bad_seq, report.problem)
    return report


def seal_legacy(session: Session, at: datetime) -> bool:
    """Seal rows written before the key with a keyed row naming their last hash, once.

    Returns whether a seal was written (a log with unsealed legacy rows only).
    """
    conn = session.connection()
    head, legacy_seq = read_head(conn)
    if head is None or not legacy_seq or head[0] != legacy_seq:
        return False
    append(
        session,
        at=at,
        actor="system",
        role="system",
        action=SEAL_ACTION,
        subject="audit",
        why="the log is keyed from here on",
        data={"legacy_rows": legacy_seq, "legacy_head": head[1]},
    )
    session.commit()
    return True


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
