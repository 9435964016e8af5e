"""Audit tampering on SQLite and PostgreSQL: every edit, deletion, reorder, cut tail and
recomputed chain is caught by verify; a cut tail only with an anchor, a recomputed chain
only because the attacker lacks the key."""

from __future__ import annotations

import json
import os
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from contracts.clock import ManualClock
from contracts.events import VerdictKind
from hub.cli.commands import audit_app
from hub.db import migrate
from hub.db.audit_models import AuditEntry
from hub.db.auth_models import Role
from hub.db.engine import make_engine
from hub.db.event_models import VerdictRow
from hub.services import audit, audit_check, verdicts
from hub.services import rules as rules_service
from hub.services.audit_key import bind_key, create_key
from hub.services.auth import Principal
from tests.hub import conftest as hub_fx
from tests.hub import conftest_api as api_fx
from tests.hub.conftest_api import T0, Api
from tests.security import attacker

sqlite_engine = hub_fx.sqlite_engine
pg_engine = hub_fx.pg_engine
engine = hub_fx.engine
api = api_fx.api
api_engine = api_fx.api_engine

INSPECTOR = Principal("user", uuid.uuid4(), "ins1", Role.INSPECTOR)


@dataclass
class Audited:
    """A database with rules, three verdicts and their audit rows, and its key."""

    engine: Engine
    key: bytes
    verdict_ids: list[uuid.UUID]


def _fill(engine: Engine) -> Audited:
    key = secrets.token_bytes(32)
    bind_key(engine, key)
    clock = ManualClock(T0)
    ids = []
    with Session(engine) as session:
        rules_service.seed(session, None, T0)
        for n, kind in enumerate((VerdictKind.SUSPECT, VerdictKind.HOLD, VerdictKind.CLEAR)):
            body = verdicts.VerdictCreate(
                parcel_code=f"YT{n:010d}",
                item_id=n,
                verdict=kind,
                category="weapon" if kind is VerdictKind.SUSPECT else "",
                why=f"image {n}",
            )
            recorded = verdicts.record_verdict(
                session, body, site="s1", principal=INSPECTOR, clock=clock, publisher=None
            )
            ids.append(recorded.verdict.verdict_id)
    return Audited(engine, key, ids)


@pytest.fixture
def audited(engine: Engine) -> Audited:
    """The hub database (each backend) holding rules, verdicts and their audit rows."""
    return _fill(engine)


def _run(engine: Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def _hash_of(engine: Engine, seq: int) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                select(AuditEntry.hash).where(AuditEntry.seq == seq)  # type: ignore[arg-type]
            ).scalar_one()
        )


def test_the_untouched_log_verifies_with_tables_and_anchor(audited: Audited) -> None:
    anchor = audit_check.make_anchor(audited.engine, audited.key, T0)
    report = audit.verify(audited.engine, anchor=anchor)
    assert report.ok and report.rows == 4 and report.anchor_seq == 4, report
    assert report.mismatches == ()


def test_an_edited_row_is_caught(audited: Audited) -> None:
    _run(audited.engine, "UPDATE audit_log SET why = 'nothing seen' WHERE seq = 3")
    report = audit.verify(audited.engine)
    assert not report.ok and report.first_bad_seq == 3 and "changed" in report.problem


def test_a_deleted_row_is_caught(audited: Audited) -> None:
    _run(audited.engine, "DELETE FROM audit_log WHERE seq = 2")
    report = audit.verify(audited.engine)
    assert not report.ok and report.first_bad_seq == 2 and "missing" in report.problem


def test_reordered_rows_are_caught(audited: Audited) -> None:
    _run(
        audited.engine,
        "UPDATE audit_log SET seq = 100 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 100",
    )
    report = audit.verify(audited.engine)
    assert not report.ok and report.first_bad_seq == 2


def test_a_cut_tail_with_a_rewritten_head_is_caught_only_by_the_anchor(audited: Audited) -> None:
    anchor = audit_check.make_anchor(audited.engine, audited.key, T0)
    last = audited.verdict_ids[-1]
    third = _hash_of(audited.engine, 3)
    _run(
        audited.engine,
        f"DELETE FROM verdict WHERE verdict_id = '{_stored_id(audited.engine, last)}'",
        "DELETE FROM audit_log WHERE seq = 4",
        f"UPDATE audit_head SET seq = 3, hash = '{third}' WHERE id = 1",
    )
    assert audit.verify(audited.engine).ok  # self-consistent: the limit without an anchor
    report = audit.verify(audited.engine, anchor=anchor)
    assert not report.ok and "truncated" in report.problem and report.first_bad_seq == 4


def test_a_chain_recomputed_without_the_key_is_caught(audited: Audited) -> None:
    anchor = audit_check.make_anchor(audited.engine, audited.key, T0)
    made_up = secrets.token_bytes(32)
    attacker.rewrite_verdict(audited.engine, audited.verdict_ids[0], "clear", made_up)
    # the attacker's chain is consistent under its own key: only ours tells it apart
    assert audit.verify(audited.engine, key=made_up).ok
    report = audit.verify(audited.engine)
    assert not report.ok and report.first_bad_seq == 1 and "keyed hash" in report.problem
    assert not audit.verify(audited.engine, anchor=anchor).ok


def test_a_chain_recomputed_with_plain_sha256_is_caught(audited: Audited) -> None:
    attacker.rewrite_verdict(audited.engine, audited.verdict_ids[0], "clear", None)
    report = audit.verify(audited.engine)
    assert not report.ok and report.first_bad_seq == 1


def _stored_id(engine: Engine, verdict_id: uuid.UUID) -> str:
    """The verdict id as the backend stores it (SQLite: 32 hex digits, PostgreSQL: uuid)."""
    return verdict_id.hex if engine.dialect.name == "sqlite" else str(verdict_id)


def test_verdict_and_rule_tables_are_checked_against_the_log(audited: Audited) -> None:
    eng = audited.engine
    first, second, _third = (_stored_id(eng, v) for v in audited.verdict_ids)
    _run(eng, f"UPDATE verdict SET verdict = 'clear' WHERE verdict_id = '{first}'")
    report = audit.verify(eng)
    assert not report.ok and len(report.mismatches) == 1
    assert "in verdict" in report.mismatches[0] and "'clear'" in report.mismatches[0]
    _run(
        eng,
        f"DELETE FROM verdict WHERE verdict_id = '{second}'",
        "UPDATE rule_version SET text = text || ' ' WHERE number = 1",
    )
    with Session(eng) as session:
        session.add(
            VerdictRow(site="s1", parcel_code="FORGED1", verdict="clear", inspector="ins1", at=T0)
        )
        session.commit()
    problems = audit.verify(eng).mismatches
    assert any("which is gone" in p for p in problems)
    assert any("has no audit row" in p for p in problems)
    assert any("no longer matches its digest" in p for p in problems)
    assert len(problems) == 4


def test_an_edited_or_foreign_anchor_is_refused(audited: Audited) -> None:
    anchor = audit_check.make_anchor(audited.engine, audited.key, T0)
    report = audit.verify(audited.engine, anchor={**anchor, "seq": 2})
    assert not report.ok and "not made with this audit key" in report.problem
    foreign = audit_check.make_anchor(audited.engine, secrets.token_bytes(32), T0)
    assert not audit.verify(audited.engine, anchor=foreign).ok


def test_the_cli_exports_an_anchor_and_verifies_against_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    eng = make_engine(url)
    try:
        migrate.upgrade(eng)
        key_file = tmp_path / "audit.key"
        bind_key(eng, create_key(key_file))
        assert os.stat(key_file).st_mode & 0o777 == 0o600
        _fill_with_key(eng)
        runner = CliRunner()
        anchor_file = tmp_path / "anchor.json"
        made = runner.invoke(
            audit_app, ["anchor", "--db", url, "--key", str(key_file), "--out", str(anchor_file)]
        )
        assert made.exit_code == 0, made.output
        assert json.loads(anchor_file.read_text())["seq"] == 4
        args = ["verify", "--db", url, "--key", str(key_file), "--anchor", str(anchor_file)]
        ok = runner.invoke(audit_app, args)
        assert ok.exit_code == 0 and "matches the anchor" in ok.stdout
        third = _hash_of(eng, 3)
        with eng.begin() as conn:  # the attacker drops the append-only triggers first
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
            conn.execute(text("DELETE FROM audit_log WHERE seq = 4"))
            conn.execute(text(f"UPDATE audit_head SET seq = 3, hash = '{third}'"))
            conn.execute(text("DELETE FROM verdict WHERE item_id = 2"))
        plain = runner.invoke(audit_app, ["verify", "--db", url, "--key", str(key_file)])
        assert plain.exit_code == 0  # without the anchor the cut is invisible
        cut = runner.invoke(audit_app, [*args, "--json"])
        assert cut.exit_code == 1 and "truncated" in json.loads(cut.stdout)["problem"]
    finally:
        eng.dispose()


def _fill_with_key(eng: Engine) -> None:
    """Rules and three verdicts through the services (the key is bound already)."""
    clock = ManualClock(T0)
    with Session(eng) as session:
        rules_service.seed(session, None, T0)
        for n in range(3):
            body = verdicts.VerdictCreate(
                parcel_code=f"YT{n:010d}", item_id=n, verdict=VerdictKind.HOLD, why="x"
            )
            verdicts.record_verdict(
                session, body, site="s1", principal=INSPECTOR, clock=clock, publisher=None
            )


def test_the_api_lists_table_mismatches(api: Api) -> None:
    sup = api.as_role(Role.SUPERVISOR)
    assert api.client.get("/api/v1/audit/verify", headers=sup).json()["ok"] is True
    _run(api.engine, "UPDATE rule_version SET author = 'someone-else' WHERE number = 1")
    out = api.client.get("/api/v1/audit/verify", headers=sup).json()
    assert out["ok"] is False and len(out["mismatches"]) == 1
    assert "rule version 1" in out["mismatches"][0] and "someone-else" in out["mismatches"][0]
