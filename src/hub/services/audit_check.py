"""Checks around the audit chain: anchors of its head, and the tables it vouches for.

An anchor is the head of the log (seq, hash, time) exported to a file kept away from the
database (``clearline audit anchor``). A log later shorter than the anchor, or whose row
at the anchor's seq has another hash, was truncated or rewritten, even if whoever did it
also rewrote ``audit_head``. The anchor carries an HMAC under the audit key, so a forged
anchor is refused too.

The cross-check reads the verdict, rule-version and manual-inspection tables: each row
must have its audit row, equal in every audited field, and each audited verdict and rule
change must still have its row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from hub.db.audit_models import AuditEntry
from hub.db.event_models import VERDICT
from hub.db.rules_models import RuleVersion
from hub.db.xray_models import INSPECTION_RESULT
from hub.services.audit import VerifyReport, read_head, verify_chain

_AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]
_RULES = RuleVersion.__table__  # type: ignore[attr-defined]
#: The ``kind`` of an anchor file.
ANCHOR_KIND = "clearline-audit-anchor"
#: Most table mismatches listed in one report.
MAX_MISMATCHES = 100


class AnchorError(ValueError):
    """An anchor file is not one this hub's key made."""


def _anchor_mac(key: bytes, seq: int, hash_: str, at: str) -> str:
    body = json.dumps({"seq": seq, "hash": hash_, "at": at}, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, f"{ANCHOR_KIND}\x1f{body}".encode(), hashlib.sha256).hexdigest()


def make_anchor(engine: Engine, key: bytes, now: datetime) -> dict[str, Any]:
    """Return the anchor of the current head: seq, hash, its row's time, and a MAC."""
    with engine.connect() as conn:
        head, _legacy = read_head(conn)
        seq, hash_ = head if head is not None else (0, "")
        at_value = conn.execute(select(_AUDIT.c.at).where(_AUDIT.c.seq == seq)).scalar()
    at = at_value.isoformat() if isinstance(at_value, datetime) else ""
    return {
        "kind": ANCHOR_KIND,
        "seq": seq,
        "hash": hash_,
        "at": at,
        "exported_at": now.astimezone(UTC).isoformat(),
        "mac": _anchor_mac(key, seq, hash_, at),
    }


def check_anchor(anchor: Mapping[str, Any], key: bytes) -> tuple[int, str]:
    """Return the anchor's (seq, hash); raise AnchorError unless this key made it."""
    try:
        seq, hash_, at = int(anchor["seq"]), str(anchor["hash"]), str(anchor.get("at", ""))
        mac = str(anchor["mac"])
    except (KeyError, TypeError, ValueError) as err:
        raise AnchorError("the anchor file lacks seq, hash or mac") from err
    if anchor.get("kind") != ANCHOR_KIND:
        raise AnchorError(f"the anchor file is not a {ANCHOR_KIND}")
    if not hmac.compare_digest(mac, _anchor_mac(key, seq, hash_, at)):
        raise AnchorError("the anchor file was not made with this audit key (or was edited)")
    return seq, hash_


def full_check(engine: Engine, key: bytes, anchor: Mapping[str, Any] | None = None) -> VerifyReport:
    """Check the keyed chain, then the anchor, then the audited tables against the log."""
    want = 0
    if anchor is not None:
        try:
            want, want_hash = check_anchor(anchor, key)
        except AnchorError as err:
            return VerifyReport(False, 0, 0, "", None, str(err))
    report, found = verify_chain(engine, key, want)
    if not report.ok:
        return report
    if anchor is not None and want:
        if report.last_seq < want or found is None:
            problem = (
                f"the log ends at row {report.last_seq} but the anchor names row {want}: "
                "rows were removed (truncated) since the anchor"
            )
            return replace(report, ok=False, first_bad_seq=report.last_seq + 1, problem=problem)
        if not hmac.compare_digest(found, want_hash):
            problem = f"row {want} is not the row anchored: the log was rewritten"
            return replace(report, ok=False, first_bad_seq=want, problem=problem, anchor_seq=want)
        report = replace(report, anchor_seq=want)
    with engine.connect() as conn:
        mismatches = table_mismatches(conn)
    if mismatches:
        problem = f"{len(mismatches)} table rows disagree with the audit log"
        return replace(report, ok=False, problem=problem, mismatches=tuple(mismatches))
    return report


def _audited(conn: Connection, action: str, id_field: str) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Audit rows of ``action`` by the id in their data: (row, data)."""
    a = _AUDIT.c
    out: dict[str, tuple[Any, dict[str, Any]]] = {}
    stmt = select(a.seq, a.actor, a.subject, a.data).where(a.action == action)
    for row in conn.execute(stmt):
        try:
            data = json.loads(row.data)
        except ValueError:
            data = {}
        if isinstance(data, dict) and id_field in data:
            out[str(data[id_field])] = (row, data)
    return out


def _compare(
    label: str, audited: tuple[Any, dict[str, Any]] | None, fields: dict[str, Any]
) -> str | None:
    """Name the first field of a table row that differs from its audit row."""
    if audited is None:
        return f"{label} has no audit row"
    row, data = audited
    for name, value in fields.items():
        stored = getattr(row, name) if name in ("actor", "subject") else data.get(name)
        if stored != value:
            return f"{label} differs from audit row {row.seq} in {name}: {value!r} != {stored!r}"
    return None


def table_mismatches(conn: Connection) -> list[str]:
    """Verdicts, rule versions and desk results without their audit row or unlike it."""
    out: list[str] = []
    verdicts = _audited(conn, "verdict", "verdict_id")
    v = VERDICT.c
    cols = (v.verdict_id, v.parcel_code, v.item_id, v.verdict, v.category, v.inspector)
    for vid, code, item_id, verdict, category, inspector in conn.execute(select(*cols)):
        fields = {"verdict": verdict, "category": category, "item_id": item_id}
        fields |= {"subject": code, "actor": inspector}
        problem = _compare(f"verdict {vid}", verdicts.pop(str(vid), None), fields)
        if problem:
            out.append(problem)
    out.extend(
        f"audit row {row.seq} names verdict {vid}, which is gone"
        for vid, (row, _d) in verdicts.items()
    )
    rules = _audited(conn, "rules.change", "number")
    r = _RULES.c
    for number, version, digest, author, text in conn.execute(
        select(r.number, r.version, r.digest, r.author, r.text)
    ):
        fields = {"version": version, "digest": digest, "actor": author}
        problem = _compare(f"rule version {number}", rules.pop(str(number), None), fields)
        if problem is None and hashlib.sha256(str(text).encode()).hexdigest() != digest:
            problem = f"rule version {number}: its text no longer matches its digest"
        if problem:
            out.append(problem)
    out.extend(
        f"audit row {row.seq} names rule version {n}, which is gone"
        for n, (row, _d) in rules.items()
    )
    results = _audited(conn, "inspection_result", "result_id")
    i = INSPECTION_RESULT.c
    for rid, code, result, outcome, inspector in conn.execute(
        select(i.result_id, i.parcel_code, i.result, i.outcome, i.inspector)
    ):
        fields = {"result": result, "outcome": outcome, "subject": code, "actor": inspector}
        problem = _compare(f"inspection result {rid}", results.pop(str(rid), None), fields)
        if problem:
            out.append(problem)
    return out[:MAX_MISMATCHES]
