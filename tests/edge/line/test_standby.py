"""The edge's lock: one active edge per store; a SIGKILLed holder frees it at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edge.line.standby import EdgeBusyError, EdgeLock, Supervisor

HOLD = """
import sys, time
from pathlib import Path
from edge.line.standby import EdgeLock
lock = EdgeLock(Path(sys.argv[1]))
lock.acquire(wait=False)
print("held", flush=True)
time.sleep(60)
"""


def _holder(store: Path) -> subprocess.Popen[str]:
    """Start a process that holds the store's lock; return once it does."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(store)],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_active_edge_cannot_start(tmp_path: Path) -> None:
    """While one holds the lock another is refused, naming the holder's pid."""
    first, second = EdgeLock(tmp_path), EdgeLock(tmp_path)
    first.acquire(wait=False)
    try:
        with pytest.raises(EdgeBusyError, match=f"pid {os.getpid()}"):
            second.acquire(wait=False)
        assert not second.held
    finally:
        first.release()
    second.acquire(wait=False)
    assert second.holder() == os.getpid()
    second.release()


def test_a_killed_holder_frees_the_lock_at_once(tmp_path: Path) -> None:
    """A spare blocked on the lock gets it within milliseconds of the holder's SIGKILL."""
    proc = _holder(tmp_path)
    spare = EdgeLock(tmp_path)
    with pytest.raises(EdgeBusyError, match=f"pid {proc.pid}"):
        spare.acquire(wait=False)
    got = threading.Event()

    def wait() -> None:
        spare.acquire(wait=True)
        got.set()

    threading.Thread(target=wait, daemon=True).start()
    time.sleep(0.2)
    assert not got.is_set()
    killed = time.time()
    proc.send_signal(signal.SIGKILL)
    assert got.wait(5)
    proc.wait(5)
    assert spare.acquired_at is not None and spare.acquired_at - killed < 0.1
    assert spare.holder() == os.getpid()
    spare.release()


def test_supervisor_keeps_two_workers(tmp_path: Path) -> None:
    """A worker that ends is replaced; on stop every worker is ended."""
    stop = threading.Event()
    sup = Supervisor([sys.executable, "-c", "import time; time.sleep(60)"], stop)
    sup.step()
    time.sleep(1.05)
    sup.step()
    assert len(sup.workers) == 2
    sup.workers[0].kill()
    sup.workers[0].wait(5)
    sup.step()
    assert len(sup.workers) == 1  # the replacement waits: the takeover has the CPU first
    deadline = time.monotonic() + 10
    while len(sup.workers) < 2 and time.monotonic() < deadline:
        sup.step()
        time.sleep(0.05)
    assert len(sup.workers) == 2 and sup.started == 3
    procs = list(sup.workers)
    sup.shutdown()
    assert all(p.poll() is not None for p in procs)


def _site_file(tmp_path: Path) -> tuple[Path, Path]:
    """Write the example site with its edge's store under ``tmp_path``; return (file, store)."""
    import yaml

    root = Path(__file__).resolve().parents[3]
    doc = yaml.safe_load((root / "examples" / "site.yaml").read_text(encoding="utf-8"))
    store = tmp_path / "store"
    doc["edges"][0]["store_dir"] = str(store)
    doc["edges"][0]["xray"]["prescreen_workers"] = 0
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return site, store


def test_edge_run_refuses_a_store_another_edge_holds(tmp_path: Path) -> None:
    """``clearline edge run`` on a store whose lock is held exits 2 and names the holder."""
    from typer.testing import CliRunner

    from clearline.cli import app

    site, store = _site_file(tmp_path)
    held = EdgeLock(store)
    held.acquire(wait=False)
    try:
        result = CliRunner().invoke(app, ["edge", "run", "--config", str(site)])
    finally:
        held.release()
    assert result.exit_code == 2, result.output
    assert f"held by the active edge (pid {os.getpid()})" in result.output


def test_a_runtime_does_not_start_on_a_held_store(tmp_path: Path) -> None:
    """``EdgeRuntime.start()`` takes the lock before anything else: a second one is refused."""
    from edge.config import load_edge_site
    from edge.line.runtime import EdgeRuntime
    from inspection.rules import load_rules

    site_file, store = _site_file(tmp_path)
    site = load_edge_site(site_file)
    held = EdgeLock(store)
    held.acquire(wait=False)
    runtime = EdgeRuntime(site.site, site.edge(None), load_rules(None))
    try:
        with pytest.raises(EdgeBusyError):
            runtime.start()
        assert not runtime.lock.held and not runtime.plc_link.thread.is_alive()
    finally:
        held.release()
        runtime.state.close()
        runtime.outbox.close()
        runtime.cache.close()


def test_a_waiting_spare_leaves_on_sigterm(tmp_path: Path) -> None:
    """A spare blocked on the lock exits at once (code 0) when its supervisor stops it."""
    site, store = _site_file(tmp_path)
    held = EdgeLock(store)
    held.acquire(wait=False)
    log_path = tmp_path / "spare.log"
    main = "from clearline.cli import main; main()"
    args = [sys.executable, "-c", main, "edge", "run", "--config", str(site), "--spare"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), PYTHONUNBUFFERED="1")
    try:
        with log_path.open("wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while "warm spare" not in log_path.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        proc.terminate()
        assert proc.wait(5) == 0
        assert "now the active edge" not in log_path.read_text()
    finally:
        held.release()
