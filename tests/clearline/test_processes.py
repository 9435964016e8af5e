"""Ending a child process: politely first, by force after the grace period."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from clearline.processes import end_process

STUBBORN = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def _spawn(code: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    return proc


def test_a_process_that_ends_on_sigterm_is_not_killed() -> None:
    proc = _spawn("import time\nprint('ready', flush=True)\ntime.sleep(60)\n")
    end_process(proc, 10.0)
    assert proc.returncode == -signal.SIGTERM


def test_a_process_ignoring_sigterm_is_killed_after_the_grace() -> None:
    proc = _spawn(STUBBORN)
    t0 = time.monotonic()
    end_process(proc, 0.5)
    assert proc.returncode == -signal.SIGKILL
    assert 0.5 <= time.monotonic() - t0 < 10


def test_a_process_already_ended_is_only_reaped() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(10)
    end_process(proc, 0.1)
    assert proc.returncode == 0
