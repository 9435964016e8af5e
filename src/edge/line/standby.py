"""Warm standby: one edge drives the line, a spare waits on its lock, a supervisor keeps both.

The PLC's confirm ring holds 16 entries (DESIGN §6): 0.32 s of parcels at 50/s, far less
than a new Python process needs to start (imports, cache, sync: 3–8 s). So
``clearline edge run --standby`` starts a supervisor that keeps two worker processes of the
same edge. Each worker does its imports, reads the site file and the rules, and then waits
for an exclusive ``flock`` on ``store_dir/edge.lock``; the one holding it is the active
edge, the only one that opens the PLC, the devices, the broker session and the health port.
When the active edge dies (even by SIGKILL) the kernel releases its lock and the spare,
already blocked in ``flock``, takes over at once; the supervisor then starts a new spare.

The lock is also taken by an edge run without ``--standby`` (without waiting), so two
processes can never drive one line's PLC from one store.
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

#: The lock file of an edge's store directory (holds the active edge's pid).
LOCK_NAME = "edge.lock"
#: How many worker processes the supervisor keeps: the active edge and one warm spare.
WORKERS = 2
#: Least time between two worker starts, seconds (a worker that cannot start never spins).
RESTART_GAP_S = 1.0
#: Wait after a worker ended before starting its replacement, seconds: the new spare's
#: imports would otherwise take the CPU from the takeover (measured on 2 busy cores).
RESPAWN_DELAY_S = 3.0
_PR_SET_PDEATHSIG = 1


class EdgeBusyError(RuntimeError):
    """Another process is the active edge of this store directory."""


class EdgeLock:
    """An exclusive ``flock`` on ``store_dir/edge.lock``, freed by the kernel when we die."""

    def __init__(self, store_dir: Path) -> None:
        """Describe the lock; nothing is opened before ``acquire()``."""
        self.path = Path(store_dir) / LOCK_NAME
        self._fd: int | None = None
        #: ``time.time()`` when the lock was taken (the start of a takeover).
        self.acquired_at: float | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def acquire(self, *, wait: bool) -> None:
        """Take the lock (waiting for it if ``wait``); raise ``EdgeBusyError`` if it is held."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            holder = self.holder()
            raise EdgeBusyError(f"{self.path}: held by the active edge (pid {holder})") from None
        except BaseException:
            os.close(fd)
            raise
        self.acquired_at = time.time()
        self._fd = fd
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)

    def fileno(self) -> int | None:
        """The locked file's descriptor while held (a process given a copy holds the lock too)."""
        return self._fd

    def holder(self) -> int | None:
        """Return the pid the lock file names (the active edge, or the last one), or None."""
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return int(text) if text.isdigit() else None

    def release(self) -> None:
        """Release the lock (the file stays; it only names the last holder)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def die_with_parent() -> None:
    """Ask the kernel to SIGTERM this process when its parent dies (Linux; elsewhere nothing).

    A spare whose supervisor is gone must not take over a line later, unsupervised.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Supervisor:
    """Keeps ``WORKERS`` processes of one edge running: the active one and a warm spare."""

    def __init__(self, command: Sequence[str], stop: threading.Event) -> None:
        """``command`` starts one worker (``clearline edge run … --spare``)."""
        self.command = list(command)
        self.stop_event = stop
        self.workers: list[subprocess.Popen[bytes]] = []
        self.started = 0
        self._last_start = 0.0
        self._last_end = -RESPAWN_DELAY_S

    def _spawn(self) -> None:
        """Start one worker (it waits for the lock before it touches the line)."""
        proc = subprocess.Popen(self.command, preexec_fn=die_with_parent)  # noqa: PLW1509
        self.workers.append(proc)
        self.started += 1
        self._last_start = time.monotonic()
        log.info("edge supervisor: worker %d started (pid %d)", self.started, proc.pid)

    def step(self) -> None:
        """Reap finished workers and start new ones until ``WORKERS`` run."""
        for proc in [p for p in self.workers if p.poll() is not None]:
            self.workers.remove(proc)
            log.warning("edge supervisor: worker pid %d ended (code %s)", proc.pid, proc.returncode)
            self._last_end = time.monotonic()
        now = time.monotonic()
        if (
            len(self.workers) < WORKERS
            and now - self._last_start >= RESTART_GAP_S
            and (not self.workers or now - self._last_end >= RESPAWN_DELAY_S)
        ):
            self._spawn()

    def run(self, poll_s: float = 0.05) -> None:
        """Supervise until the stop event is set, then stop every worker."""
        try:
            while not self.stop_event.is_set():
                self.step()
                self.stop_event.wait(poll_s)
        finally:
            self.shutdown()

    def shutdown(self, timeout_s: float = 15.0) -> None:
        """SIGTERM every worker and wait (SIGKILL those that do not end in time)."""
        for proc in self.workers:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout_s
        for proc in self.workers:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.workers.clear()


def worker_command(config: Path, edge_id: str | None, rules: Path | None) -> list[str]:
    """Return the command that starts one worker (a spare until it holds the lock)."""
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
    args = ["--log-level", str(level), "edge", "run", "--config", str(config), "--spare"]
    if edge_id is not None:
        args += ["--edge", edge_id]
    if rules is not None:
        args += ["--rules", str(rules)]
    return [sys.executable, "-c", "from clearline.cli import main; main()", *args]
