"""Ending a child process: ask it to stop, and kill it if it does not in time."""

from __future__ import annotations

import subprocess


def end_process(proc: subprocess.Popen[bytes], grace_s: float, kill_wait_s: float = 5.0) -> None:
    """SIGTERM ``proc`` if it runs, wait ``grace_s`` seconds, then SIGKILL it and reap it."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(kill_wait_s)
