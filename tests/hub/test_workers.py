"""Several hub processes: jobs taken by one at a time, ``hub serve --workers N`` kept running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from hub.db.engine import make_engine
from hub.db.jobs import run_exclusive
from tests.conftest import require_service
from tests.hub.waits import until

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_database() -> Iterator[str]:
    """The URL of a fresh, uniquely named PostgreSQL database (dropped afterwards)."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"t_workers_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_job_runs_in_one_process_at_a_time(pg_engine: Engine) -> None:
    """While one holder runs a job, another caller skips it; afterwards it runs again."""
    name = f"job-{uuid.uuid4().hex}"
    other = make_engine(str(pg_engine.url.render_as_string(hide_password=False)))
    seen: list[tuple[bool, int | None]] = []
    try:
        ran, value = run_exclusive(
            pg_engine, name, lambda: seen.append(run_exclusive(other, name, lambda: 2)) or 1
        )
        assert (ran, value) == (True, 1)
        assert seen == [(False, None)]
        assert run_exclusive(other, name, lambda: 3) == (True, 3)
    finally:
        other.dispose()


def test_on_sqlite_a_job_simply_runs(sqlite_engine: Engine) -> None:
    """SQLite means one hub process: the job runs, nested or not."""
    assert run_exclusive(
        sqlite_engine, "j", lambda: run_exclusive(sqlite_engine, "j", lambda: 5)
    ) == (
        True,
        (True, 5),
    )


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), CLEARLINE_DATA_DIR=str(tmp_path))
    env.pop("CLEARLINE_MQTT_URL", None)
    return env


def test_workers_on_sqlite_are_refused(tmp_path: Path) -> None:
    """Several processes on one SQLite file are refused before anything starts."""
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    cmd = [sys.executable, "-m", "clearline", "hub", "serve", "--dev", "--workers", "2", "--db", db]
    done = subprocess.run(
        cmd, check=False, env=_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "need PostgreSQL" in done.stderr


def _free_pair() -> int:
    """A port P with P and P+1 both free right now."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = int(a.getsockname()[1])
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise AssertionError("no two consecutive free ports")


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as reply:
            return int(reply.status) == 200
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_two_workers_serve_and_one_killed_comes_back(tmp_path: Path, pg_database: str) -> None:
    """``--workers 2`` answers on two ports; a killed one comes back; TERM stops all."""
    port = _free_pair()
    cmd = [sys.executable, "-m", "clearline", "hub", "serve", "--dev", "--workers", "2"]
    cmd += ["--port", str(port), "--db", pg_database]
    parent = subprocess.Popen(cmd, env=_env(tmp_path))
    try:
        until(lambda: _healthy(port) and _healthy(port + 1), "both hub processes", 90)
        first = _children(parent.pid)
        assert len(first) == 2
        os.kill(first[0], signal.SIGKILL)
        until(lambda: len(set(_children(parent.pid)) - set(first)) == 1, "a new process", 30)
        until(lambda: _healthy(port) and _healthy(port + 1), "both hub processes again", 90)
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(30) == 0
        assert not _healthy(port) and not _healthy(port + 1)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
