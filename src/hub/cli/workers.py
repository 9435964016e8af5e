"""``clearline hub serve --workers N``: N hub processes on consecutive ports, kept running."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType

logger = logging.getLogger(__name__)

#: The share group the hub processes use when none is configured (CLEARLINE_MQTT_SHARE_GROUP).
DEFAULT_GROUP = "hubs"
#: Pause before a process that died is started again, s.
RESTART_S = 1.0


class WorkersError(ValueError):
    """The hub cannot run as several processes with these settings."""


def check_workers(workers: int, database_url: str) -> None:
    """Refuse several hub processes on anything but PostgreSQL."""
    if workers < 1:
        raise WorkersError("--workers must be at least 1")
    if workers > 1 and not database_url.startswith("postgresql"):
        raise WorkersError(
            "several hub processes need PostgreSQL (CLEARLINE_DATABASE_URL=postgresql+psycopg://"
            "...); on SQLite the hub runs as one process"
        )


def worker_command(host: str, port: int, db: str | None, dev: bool) -> list[str]:
    """The command line of one hub process."""
    cmd = [sys.executable, "-m", "clearline", "hub", "serve", "--host", host, "--port", str(port)]
    if db:
        cmd += ["--db", db]
    if dev:
        cmd.append("--dev")
    return cmd


def worker_env(mqtt: bool) -> dict[str, str]:
    """The environment of the hub processes: shared ingest on when a broker is set."""
    env = dict(os.environ)
    if mqtt and not env.get("CLEARLINE_MQTT_SHARE_GROUP"):
        env["CLEARLINE_MQTT_SHARE_GROUP"] = DEFAULT_GROUP
    return env


def supervise(commands: list[list[str]], env: dict[str, str]) -> int:
    """Start every command, start again any that dies, stop all on SIGTERM/SIGINT; return 0."""
    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        del signum, frame
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    procs = [subprocess.Popen(cmd, env=env) for cmd in commands]
    logger.info("hub processes started: %s", [p.pid for p in procs])
    died_at: dict[int, float] = {}
    while not stopping:
        time.sleep(0.2)
        for i, proc in enumerate(procs):
            if proc.poll() is None:
                continue
            first = died_at.setdefault(i, time.monotonic())
            if time.monotonic() - first >= RESTART_S:
                logger.warning(
                    "hub process %s exited (%s); starting it again", proc.pid, proc.returncode
                )
                procs[i] = subprocess.Popen(commands[i], env=env)
                del died_at[i]
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return 0
