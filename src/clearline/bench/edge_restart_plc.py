"""Edge restart as the sorter sees it: from ``clearline edge run`` to its first answer to a PLC.

``edge_restart_s`` times a fresh process to its first ``decide_parcel`` on the store. This
times the whole edge: a fresh ``clearline edge run`` process on the same store (its site file
written here), its PLC link process, the device links, the broker, against the independent
peer line (``clearline.bench.peers``, another Modbus implementation). Parcels of the store
are sent down the peer line one after another from the moment the edge process is spawned;
the figure is the time from the spawn to the first reply the peer PLC read in time, less the
time that parcel spent on the belt between induction and its request (the line's, not the
edge's). The reply's outcome must be the one ``decide_parcel`` gave the same parcel.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from clearline.bench.line_rig import bench_broker
from clearline.bench.peers.process import Geometry, PeerLineProcess
from clearline.bench.peers.rig import (
    peer_edge_config,
    rules_text_without_xray,
    rules_without_xray,
)
from clearline.demo.site_run import OUTCOME_OF_CHUTE
from clearline.processes import end_process
from contracts.reasons import Outcome
from edge.config import EdgeSite

log = logging.getLogger(__name__)

#: The peer line's timing: a short belt, so that a parcel sent too early costs little.
GEOMETRY = Geometry(weigh_before_scan_s=0.1, scan_to_decision_s=0.3)
#: Give up when the edge has not answered a parcel this long after its spawn, s.
GIVE_UP_S = 120.0


def _site_file(workdir: Path, store_dir: Path, ports: dict[str, int], broker_url: str) -> Path:
    """Write a site file with one edge on ``store_dir`` linked to the peer line's ports."""
    cfg = peer_edge_config("restart-edge", "restart-line", broker_url, store_dir, ports)
    site = EdgeSite(site="restart-site", edges=[cfg])
    path = workdir / "restart-site.yaml"
    path.write_text(
        yaml.safe_dump(
            site.model_dump(mode="json", by_alias=True, exclude_none=True), allow_unicode=True
        ),
        "utf-8",
    )
    return path


def _rules_file(workdir: Path) -> Path:
    """Write the packaged rules with no X-ray image required (the peer line has no X-ray)."""
    path = workdir / "restart-rules.yaml"
    path.write_text(rules_text_without_xray(), "utf-8")
    return path


def restart_to_plc(
    workdir: Path, store_dir: Path, parcels: list[tuple[str, float]]
) -> dict[str, Any]:
    """Spawn ``clearline edge run`` on ``store_dir`` and time its first in-time PLC answer.

    ``parcels`` are ``(code, weight_kg)`` of the store, sent one at a time until one is
    answered in time; the result names that parcel, its outcome and the seconds."""
    broker_url, _name, broker = bench_broker()
    edge_log = workdir / "restart-edge.log"
    try:
        with PeerLineProcess(GEOMETRY) as peers:
            site = _site_file(workdir, store_dir, peers.ports, broker_url)
            rules = _rules_file(workdir)
            cmd = [sys.executable, "-m", "clearline", "edge", "run", "--config", str(site),
                   "--rules", str(rules)]  # fmt: skip
            with edge_log.open("wb") as out:
                t0 = time.monotonic()
                proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
                try:
                    return _first_answer(peers, proc, t0, parcels, edge_log)
                finally:
                    end_process(proc, 30.0, kill_wait_s=10.0)
    finally:
        if broker is not None:
            broker.stop()


def _first_answer(
    peers: PeerLineProcess,
    proc: subprocess.Popen[bytes],
    t0: float,
    parcels: list[tuple[str, float]],
    edge_log: Path,
) -> dict[str, Any]:
    """Send parcels down the peer line until one is answered in time; time it from ``t0``."""
    belt_s = GEOMETRY.weigh_before_scan_s + GEOMETRY.scan_to_decision_s
    linked_s: float | None = None
    sent = 0
    while time.monotonic() - t0 < GIVE_UP_S:
        if proc.poll() is not None:
            tail = edge_log.read_text("utf-8", "replace")[-2000:]
            raise RuntimeError(f"the restarted edge exited ({proc.returncode}):\n{tail}")
        if linked_s is None and peers.scanner_clients() > 0:
            linked_s = time.monotonic() - t0
        if linked_s is None:
            time.sleep(0.02)
            continue
        code, kg = parcels[sent % len(parcels)]
        sent += 1
        started = time.monotonic()
        result = peers.run([(sent, sent, [code], kg)], 10.0)["parcels"][0]
        if result["in_time"] and result["reply_ms"] is not None:
            # the reply came reply_ms after the request, which came belt_s after the send
            answered_s = started - t0 + belt_s + result["reply_ms"] / 1000.0
            outcome = OUTCOME_OF_CHUTE.get(result["chute"], Outcome.REJECT).value
            return {
                "restart_to_plc_s": answered_s,
                "scanner_linked_s": linked_s,
                "parcels_sent": sent,
                "code": code,
                "outcome": outcome,
                "reply_ms": result["reply_ms"],
            }
    raise RuntimeError(f"the restarted edge answered no parcel in {GIVE_UP_S:.0f} s")


def expected_outcome(store: Path, code: str, weight_kg: float) -> str:
    """The outcome ``decide_parcel`` gives the parcel on ``store`` under the same rules."""
    from contracts.clock import SystemClock
    from contracts.facts import ParcelFacts
    from edge.cache import DeclarationCache
    from inspection.pipeline import decide_parcel

    cache = DeclarationCache(store)
    try:
        facts = ParcelFacts(weight_kg=weight_kg, weight_stable=True)
        done = decide_parcel(cache.reader(), (code,), facts, rules_without_xray(), SystemClock())
        return done.decision.outcome.value
    finally:
        cache.close()
