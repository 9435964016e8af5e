"""A log chained with plain SHA-256 before the hub had its key is sealed by the first
keyed row; rewriting the old rows, or claiming more of them, is still caught."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from hub.app import create_app
from hub.db import migrate
from hub.db.audit_models import GENESIS_HASH
from hub.db.engine import make_engine
from hub.services import audit
from tests.hub.conftest_api import T0, hub_settings


def _old_rows(engine: Engine, count: int) -> None:
    """Rows as the hub wrote them before the key: plain SHA-256 of the canonical JSON."""
    prev = GENESIS_HASH
    with engine.begin() as conn:
        for seq in range(1, count + 1):
            values = {
                "seq": seq,
                "at": T0,
                "actor": "sup1",
                "role": "supervisor",
                "action": "note",
                "subject": f"old/{seq}",
                "why": "before the key",
                "data": "{}",
                "prev_hash": prev,
            }
            digest = audit.row_hash(key=None, **values)
            conn.execute(
                text(
                    "INSERT INTO audit_log (seq, at, actor, role, action, subject, why, data, "
                    "prev_hash, hash) VALUES (:seq, :at, :actor, :role, :action, :subject, "
                    ":why, :data, :prev_hash, :hash)"
                ),
                {**values, "at": T0.strftime("%Y-%m-%d %H:%M:%S.%f"), "hash": digest},
            )
            prev = digest
        conn.execute(text("DELETE FROM audit_head"))
        conn.execute(
            text("INSERT INTO audit_head (id, seq, hash) VALUES (1, :s, :h)"),
            {"s": count, "h": prev},
        )


def _upgraded_hub(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine, "0004")
    _old_rows(engine, 3)
    app = create_app(
        hub_settings(database_url=url, audit_key_path=str(tmp_path / "audit.key")),
        engine=engine,
    )
    assert app.state.engine is engine
    return engine


def test_the_old_rows_are_sealed_and_the_whole_log_verifies(tmp_path: Path) -> None:
    engine = _upgraded_hub(tmp_path)
    try:
        report = audit.verify(engine)
        assert report.ok and report.rows == 5, report  # 3 old, the seal, the rules
        with engine.connect() as conn:
            seal = conn.execute(text("SELECT action, data FROM audit_log WHERE seq = 4")).one()
        assert seal.action == audit.SEAL_ACTION and json.loads(seal.data)["legacy_rows"] == 3
    finally:
        engine.dispose()


def test_old_rows_rewritten_and_rechained_break_at_the_seal(tmp_path: Path) -> None:
    engine = _upgraded_hub(tmp_path)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            prev = GENESIS_HASH
            for seq in (1, 2, 3):  # the attacker rechains the unkeyed part
                row = conn.execute(text("SELECT * FROM audit_log WHERE seq = :s"), {"s": seq}).one()
                why = "rewritten" if seq == 2 else row.why
                body = {
                    "seq": seq,
                    "at": T0.isoformat(timespec="microseconds"),
                    "actor": row.actor,
                    "role": row.role,
                    "action": row.action,
                    "subject": row.subject,
                    "why": why,
                    "data": row.data,
                    "prev_hash": prev,
                }
                canonical = json.dumps(
                    body, sort_keys=True, separators=(",", ":"), ensure_ascii=False
                )
                digest = hashlib.sha256(canonical.encode()).hexdigest()
                conn.execute(
                    text("UPDATE audit_log SET why = :w, prev_hash = :p, hash = :h WHERE seq = :s"),
                    {"w": why, "p": prev, "h": digest, "s": seq},
                )
                prev = digest
        report = audit.verify(engine)
        assert not report.ok and report.first_bad_seq == 4, report
    finally:
        engine.dispose()


def test_claiming_every_row_as_unkeyed_is_caught(tmp_path: Path) -> None:
    engine = _upgraded_hub(tmp_path)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_head SET legacy_seq = 5"))
        report = audit.verify(engine)
        assert not report.ok and report.first_bad_seq == 4  # the seal is keyed
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_head SET legacy_seq = 0"))
        assert not audit.verify(engine).ok  # the old rows do not verify under the key
    finally:
        engine.dispose()


def test_dropping_every_keyed_row_is_caught(tmp_path: Path) -> None:
    engine = _upgraded_hub(tmp_path)
    try:
        with engine.begin() as conn:
            old_head = conn.execute(text("SELECT hash FROM audit_log WHERE seq = 3")).scalar()
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
            conn.execute(text("DELETE FROM audit_log WHERE seq > 3"))
            conn.execute(text("DELETE FROM rule_version"))
            conn.execute(
                text("UPDATE audit_head SET seq = 3, hash = :h, legacy_seq = 3"), {"h": old_head}
            )
        report = audit.verify(engine)
        assert not report.ok and "never sealed" in report.problem
    finally:
        engine.dispose()
