"""Suite-wide fixtures: service gating, a check that no test leaves threads behind, and the
``slow`` mark on every end-to-end test (``make test`` runs those alone, the rest two at a time).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

#: Where the whole-site tests live: timed against a simulated line, they run one at a time.
E2E = os.path.join("tests", "e2e") + os.sep


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every end-to-end test ``slow``: ``make test`` runs them after the rest, alone."""
    for item in items:
        if E2E in str(item.path):
            item.add_marker(pytest.mark.slow)


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or fail, when CLEARLINE_REQUIRE_SERVICES=1) unless host:port accepts TCP."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return
    except OSError as err:
        msg = f"{name} is not reachable on {host}:{port} ({err})"
        if os.environ.get("CLEARLINE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{msg}; CLEARLINE_REQUIRE_SERVICES=1 requires it")
        pytest.skip(f"{msg}; start it or run where it is available")


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    """Fail a test that leaves a thread running (after a two-second grace)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    if left:
        pytest.fail(f"test left threads running: {[t.name for t in left]}")


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """Undo what a command run in-process did to the root logger (level and handlers)."""
    import logging

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)


@pytest.fixture()
def memory_dir() -> Iterator[Path | None]:
    """A fresh directory on a memory-backed file system (None where there is none or it
    has less than 1 GiB free).

    For whole-site tests whose subject is not the disk: the edge's safety store fsyncs every
    answer before the PLC hears it, and on a busy shared disk an fsync has taken 215 ms
    (docs/invariants.md), which alone leaves parcels late or unanswered.
    """
    shm = Path("/dev/shm")
    # a container's /dev/shm may hold only 64 MB; the flood test's demo site wrote 46 MB
    if not (shm.is_dir() and os.access(shm, os.W_OK)) or shutil.disk_usage(shm).free < 2**30:
        yield None
        return
    path = Path(tempfile.mkdtemp(prefix="clearline-test-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
