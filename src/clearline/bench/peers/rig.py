"""The real edge driving the peer line: a scenario, the peers in a child process, the edge here.

The line has no X-ray machine: the scenario has no X-ray cases (their expected outcome
rests on an image review the line cannot make) and the rules do not require an image.
Every parcel carries its codes and its weight, and every outcome is compared with the
scenario's expected one: a parcel counts as expected only when its chute's outcome is the
expected outcome and the PLC diverted it on the edge's reply (a technical reject for a
missing fact is a failure).

Development only: the peers need pyModbusTCP, a development dependency.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

from clearline.bench.peers.process import Geometry, PeerLineProcess
from clearline.demo.site_run import OUTCOME_OF_CHUTE, PLAN, preload
from contracts.reasons import REASON_INDEX, Outcome, Reason
from devices.profiles import TunnelScannerProfile
from edge.config import DecisionSettings, EdgeConfig, ModbusDevice
from edge.line.runtime import EdgeRuntime
from inspection.rules import RuleSet, parse_rules
from simulators.scenario.cases import Mix
from simulators.scenario.generate import generate
from simulators.scenario.model import Case

log = logging.getLogger(__name__)

#: The X-ray cases, left out of a scenario for a line without an X-ray machine.
XRAY_CASES = (Case.XRAY_BLADE, Case.XRAY_GUN, Case.XRAY_DENSE_BLOCK, Case.XRAY_BATTERY)


@dataclass(frozen=True, slots=True)
class Phase:
    """The parcels of one phase at one rate and what became of them."""

    rate_per_s: float
    seconds: float
    results: list[dict[str, Any]]
    expected: list[str]
    peer: dict[str, Any]
    cpu_s: float

    @property
    def parcels(self) -> int:
        """Return the number of parcels."""
        return len(self.results)

    @property
    def latencies_ms(self) -> list[float]:
        """Return every reply latency that reached the PLC before the decision point, ms."""
        return [r["reply_ms"] for r in self.results if r["in_time"] and r["reply_ms"] is not None]

    @property
    def late(self) -> int:
        """Return the parcels whose reply was missing or came after the decision point."""
        return sum(1 for r in self.results if not r["in_time"])

    @property
    def missing_weight(self) -> int:
        """Return the parcels the edge answered with a reject for a missing weight."""
        return sum(1 for r in self.results if r["in_time"] and r["reason"] == _NO_WEIGHT)

    def outcome(self, result: dict[str, Any]) -> str:
        """Return the outcome of the parcel's chute (REJECT for the reject chute)."""
        chute = result["chute"]
        return OUTCOME_OF_CHUTE.get(chute, Outcome.REJECT).value

    @property
    def as_expected(self) -> int:
        """Return the parcels given their expected outcome, on the edge's reply."""
        return sum(
            1
            for r, want in zip(self.results, self.expected, strict=True)
            if r["in_time"] and self.outcome(r) == want
        )

    def mismatches(self) -> list[dict[str, Any]]:
        """Return the parcels not given their expected outcome."""
        return [
            {**r, "got": self.outcome(r), "expected": want}
            for r, want in zip(self.results, self.expected, strict=True)
            if not (r["in_time"] and self.outcome(r) == want)
        ]


_NO_WEIGHT = REASON_INDEX[Reason.NO_WEIGHT]


def rules_text_without_xray() -> str:
    """Return the packaged rules' YAML with no X-ray image required."""
    text = resources.files("inspection").joinpath("data/rules.yaml").read_text("utf-8")
    marker = "xray:\n  required: true\n"
    if marker not in text:
        raise RuntimeError("the packaged rules no longer say 'xray: required: true'")
    return text.replace(marker, "xray:\n  required: false\n")


def rules_without_xray() -> RuleSet:
    """Return the packaged rules for a line without an X-ray machine (no image required)."""
    return parse_rules(rules_text_without_xray(), "rules (no X-ray)")


def peer_edge_config(
    edge_id: str, line: str, broker_url: str, store_dir: Path, ports: dict[str, int]
) -> EdgeConfig:
    """An edge on ``store_dir`` linked to the peer line's PLC, checkweigher and scanner."""
    return EdgeConfig(
        edge_id=edge_id,
        line=line,
        broker_url=broker_url,
        store_dir=store_dir,
        plc=ModbusDevice(device_id="plc1", port=ports["plc"]),
        checkweigher=ModbusDevice(device_id="cw1", port=ports["checkweigher"]),
        tunnel_scanner=TunnelScannerProfile.model_validate(
            {
                "kind": "tunnel_scanner",
                "device_id": "tunnel1",
                "serial": {"port": f"socket://127.0.0.1:{ports['scanner']}"},
            }
        ),
        chutes=PLAN,
        decision=DecisionSettings(),
    )


class PeerRig:
    """Scenario, peer line and edge, started together; a context manager."""

    def __init__(
        self,
        workdir: Path,
        *,
        parcels: int,
        geometry: Geometry,
        broker_url: str,
        site: str = "peer-line",
        seed: int = 7,
    ) -> None:
        """Describe the rig; nothing runs before ``start()``."""
        self.workdir, self.parcels, self.geometry = workdir, parcels, geometry
        self.broker_url, self.site, self.seed = broker_url, site, seed
        self.rows: list[tuple[int, int, list[str], float]] = []
        self.expected: dict[int, str] = {}
        self.declarations = 0
        self._next = 0
        self._peers: PeerLineProcess | None = None
        self._edge: EdgeRuntime | None = None

    @property
    def edge(self) -> EdgeRuntime:
        """Return the running edge."""
        if self._edge is None:
            raise RuntimeError("the peer rig is not running")
        return self._edge

    @property
    def peers(self) -> PeerLineProcess:
        """Return the running peer line."""
        if self._peers is None:
            raise RuntimeError("the peer rig is not running")
        return self._peers

    def start(self) -> PeerRig:
        """Generate the scenario, start the peers and the edge, wait until they are linked."""
        rules = rules_without_xray()
        scenario = self.workdir / "peer-scenario"
        mix = Mix(shares=dict.fromkeys(XRAY_CASES, 0.0))
        generate(self.parcels, self.seed, scenario, rules, mix=mix)
        for line in (scenario / "parcels.jsonl").read_text(encoding="utf-8").splitlines():
            p = json.loads(line)
            self.rows.append((p["seq"], p["seq"], list(p["labels"]), float(p["weight_kg"])))
        for line in (scenario / "expected.jsonl").read_text(encoding="utf-8").splitlines():
            e = json.loads(line)
            self.expected[int(e["seq"])] = e["outcome"]
        self._peers = PeerLineProcess(self.geometry)
        ports = self._peers.ports
        cfg = peer_edge_config(
            "peer-edge", "peer-line", self.broker_url, self.workdir / "peer-edge", ports
        )
        edge = EdgeRuntime(self.site, cfg, rules)
        self._edge = edge
        self.declarations = preload(edge.cache, scenario)
        edge.start()
        end = time.monotonic() + 15.0
        while time.monotonic() < end:
            if self._peers.scanner_clients() > 0 and edge.engine.devices.get("plc1"):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("the edge did not connect to the peer PLC and scanner in 15 s")
        return self

    def left(self) -> int:
        """Return the scenario parcels not yet run."""
        return len(self.rows) - self._next

    def run(self, count: int, rate_per_s: float) -> Phase:
        """Run the next ``count`` scenario parcels at ``rate_per_s``; return the phase."""
        rows = self.rows[self._next : self._next + count]
        self._next += len(rows)
        t0, c0 = time.perf_counter(), time.process_time()
        peer = self.peers.run(rows, rate_per_s)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        results = peer.pop("parcels")
        expected = [self.expected[r["seq"]] for r in results]
        return Phase(rate_per_s, seconds, results, expected, peer, cpu)

    def stop(self) -> None:
        """Stop the edge and the peers; safe to repeat."""
        edge, self._edge = self._edge, None
        if edge is not None:
            edge.stop()
        peers, self._peers = self._peers, None
        if peers is not None:
            peers.close()

    def __enter__(self) -> PeerRig:
        """Return the rig (call ``start`` first)."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop everything."""
        self.stop()
