"""Start the peer line in a child process and talk to it (the parent's side; no Modbus here).

The child (``python -m clearline.bench.peers.line``) serves the peers and answers JSON-line
commands on its standard input and output. This module imports nothing of pyModbusTCP, so
the benchmark's process and the edge never load the peers' Modbus implementation.
"""

from __future__ import annotations

import importlib.util
import json
import select
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Geometry:
    """Timing of the peer line: where the checkweigher and the decision point are, in time."""

    weigh_before_scan_s: float = 0.3
    scan_to_decision_s: float = 1.0
    reject_chute: int = 99


class PeerLineProcess:
    """The peer line in a child process (``python -m clearline.bench.peers.line``)."""

    def __init__(self, geometry: Geometry) -> None:
        """Start the child and wait for its ports (30 s)."""
        if importlib.util.find_spec("pyModbusTCP") is None:
            raise RuntimeError(
                "the peer line needs pyModbusTCP, a development dependency: pip install -e '.[dev]'"
            )
        self.geometry = geometry
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "clearline.bench.peers.line", json.dumps(asdict(geometry))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ports: dict[str, int] = self._ask(None, 30.0)

    def _ask(self, msg: Any, timeout_s: float) -> Any:
        """Send ``msg`` (None: nothing) and return the child's next answer."""
        proc = self._proc
        if proc.stdin is None or proc.stdout is None:
            raise RuntimeError("the peer line has no pipes")
        if msg is not None:
            proc.stdin.write(json.dumps(msg) + "\n")
            proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
        if not ready:
            self.close()
            raise RuntimeError(f"the peer line did not answer in {timeout_s:.0f} s")
        line = proc.stdout.readline()
        if not line:
            self.close()
            raise RuntimeError("the peer line ended")
        return json.loads(line)

    def scanner_clients(self) -> int:
        """Return how many clients the peer scanner has."""
        clients: int = self._ask(["clients"], 10.0)
        return clients

    def run(
        self, parcels: list[tuple[int, int, list[str], float]], rate_per_s: float
    ) -> dict[str, Any]:
        """Run ``(seq, item_id, codes, weight_kg)`` parcels at ``rate_per_s``; return results."""
        span = len(parcels) / rate_per_s + self.geometry.scan_to_decision_s
        result: dict[str, Any] = self._ask(["run", parcels, rate_per_s], span + 60.0)
        return result

    def close(self) -> None:
        """Stop the child (killing it after 5 s)."""
        proc = self._proc
        try:
            if proc.stdin is not None and not proc.stdin.closed:
                proc.stdin.write(json.dumps(["stop"]) + "\n")
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5.0)
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> PeerLineProcess:
        """Return the running line."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the child."""
        self.close()
