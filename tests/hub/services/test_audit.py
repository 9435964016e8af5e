"""The HMAC-chained audit log: appends never fork; edits, deletions and reorders are caught."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session
from typer.testing import CliRunner

from hub.cli.commands import audit_app
from hub.db import migrate
from hub.db.audit_models import GENESIS_HASH
from hub.db.engine import make_engine
from hub.services import audit
from hub.services.audit_key import bind_key, create_key
from tests.hub.conftest_api import T0

runner = CliRunner()


@pytest.fixture
def db_file(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A migrated SQLite file database holding five audit rows."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    bind_key(engine, create_key(tmp_path / "audit.key"))
    for i in range(5):
        with Session(engine) as session:
            audit.append(
                session,
                at=T0,
                actor=f"user{i}",
                role="supervisor",
                action="rules.change",
                subject=f"rules/{i + 1}",
                why=f"change {i}, buyer 110101199003071234",
                data={"n": i, "note": "中文"},
            )
            session.commit()
    yield url, engine
    engine.dispose()


def _key_args(url: str) -> list[str]:
    """The --key option naming the key file beside the fixture's database."""
    return ["--key", str(Path(url.removeprefix("sqlite:///")).with_name("audit.key"))]


def _verify_cli(url: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(audit_app, ["verify", "--db", url, *_key_args(url), "--json"])
    return result.exit_code, json.loads(result.stdout)


def _tamper(engine: Engine, *statements: str) -> None:
    """Run statements with the append-only triggers out of the way (as an attacker would)."""
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        for statement in statements:
            conn.execute(text(statement))


def test_intact_chain_verifies(db_file: tuple[str, Engine]) -> None:
    url, _engine = db_file
    code, report = _verify_cli(url)
    assert code == 0 and report["ok"] is True and report["rows"] == 5 and report["last_seq"] == 5
    human = runner.invoke(audit_app, ["verify", "--db", url, *_key_args(url)])
    assert human.exit_code == 0 and "intact" in human.stdout


def test_why_is_masked_and_rows_are_chained(db_file: tuple[str, Engine]) -> None:
    _url, engine = db_file
    with Session(engine) as session:
        rows = audit.entries(session, 0, 10)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert "110101199003071234" not in rows[0].why


def test_the_database_refuses_update_and_delete(db_file: tuple[str, Engine]) -> None:
    _url, engine = db_file
    for statement in ("UPDATE audit_log SET actor = 'x' WHERE seq = 2", "DELETE FROM audit_log"):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))


def test_an_edited_row_is_caught(db_file: tuple[str, Engine]) -> None:
    url, engine = db_file
    _tamper(engine, "UPDATE audit_log SET why = 'nothing to see' WHERE seq = 3")
    code, report = _verify_cli(url)
    assert code == 1 and report["first_bad_seq"] == 3 and "changed" in str(report["problem"])
    human = runner.invoke(audit_app, ["verify", "--db", url, *_key_args(url)])
    assert human.exit_code == 1 and "seq 3" in human.stdout


def test_a_deleted_row_is_caught(db_file: tuple[str, Engine]) -> None:
    url, engine = db_file
    _tamper(engine, "DELETE FROM audit_log WHERE seq = 2")
    code, report = _verify_cli(url)
    assert code == 1 and report["first_bad_seq"] == 2 and "missing" in str(report["problem"])


def test_a_deleted_and_renumbered_row_is_caught(db_file: tuple[str, Engine]) -> None:
    url, engine = db_file
    _tamper(
        engine,
        "DELETE FROM audit_log WHERE seq = 2",
        "UPDATE audit_log SET seq = seq - 1 WHERE seq > 2",
    )
    code, report = _verify_cli(url)
    assert code == 1 and report["first_bad_seq"] == 2


def test_a_deleted_last_row_is_caught(db_file: tuple[str, Engine]) -> None:
    url, engine = db_file
    _tamper(engine, "DELETE FROM audit_log WHERE seq = 5")
    code, report = _verify_cli(url)
    assert code == 1 and report["first_bad_seq"] == 5


def test_reordered_rows_are_caught(db_file: tuple[str, Engine]) -> None:
    url, engine = db_file
    _tamper(
        engine,
        "UPDATE audit_log SET seq = 100 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 100",
    )
    code, report = _verify_cli(url)
    assert code == 1 and report["first_bad_seq"] == 2


def test_swapped_contents_are_caught(db_file: tuple[str, Engine]) -> None:
    url, engine = db_file
    _tamper(
        engine,
        "UPDATE audit_log SET actor = (SELECT actor FROM audit_log WHERE seq = 4) WHERE seq = 1",
    )
    code, report = _verify_cli(url)
    assert code == 1 and report["first_bad_seq"] == 1


def test_concurrent_appends_never_fork(db_file: tuple[str, Engine]) -> None:
    _url, engine = db_file
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(8):
                with Session(engine) as session:
                    audit.append(
                        session,
                        at=T0,
                        actor=f"t{n}",
                        role="inspector",
                        action="verdict",
                        subject=f"parcel/{n}-{i}",
                    )
                    session.commit()
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = audit.verify(engine)
    assert report.ok and report.rows == 5 + 32


def test_verify_cli_names_a_missing_database(tmp_path: Path) -> None:
    create_key(tmp_path / "audit.key")
    url = f"sqlite:///{tmp_path / 'none.db'}"
    result = runner.invoke(audit_app, ["verify", "--db", url, *_key_args(url)])
    assert result.exit_code == 2 and "cannot read the audit log" in result.output
