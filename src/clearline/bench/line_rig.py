"""A whole simulated line and the real edge in one process, and the broker the benchmarks use.

The line benchmarks now drive the edge with the independent peers (``clearline.bench.peers``);
this rig, on our own simulators, stays for studies of the simulated site and its geometry
(``bench_line``), and ``ChildBroker``/``reachable`` serve the peer benchmarks too.

The PLC and the checkweigher serve Modbus TCP, the tunnel scanner serves its frames over
TCP, and a real ``EdgeRuntime`` answers the PLC from a preloaded declaration cache. The
X-ray machine is off: images are reviewed asynchronously and are not in the scan → reply
path. Edge events go through the edge's outbox to Mosquitto when it is reachable on
127.0.0.1:1883, else to the embedded broker run in a child process (a broker is its own
process on a real site; in this process it would compete with the edge for the GIL).
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from clearline.demo.site_run import edge_config, preload, wait_until
from edge.line.runtime import EdgeRuntime
from inspection.rules import load_rules
from simulators.broker import MOSQUITTO_HOST, MOSQUITTO_PORT, free_port
from simulators.line.config import ChuteConfig, InductionConfig, LineConfig
from simulators.scenario.generate import generate
from simulators.site.results import ItemResult
from simulators.site.simulation import SiteSimulation

log = logging.getLogger(__name__)

#: Site id of the benchmark line (a topic level on the broker).
SITE = "bench-line"
#: Belt speed of the benchmark line, m/s (the fastest the line model accepts).
BELT_SPEED_M_S = 5.0
#: Smallest gap between two parcels at 40,000 parcels/h, metres (a real belt's gap).
LINE_GAP_M = 0.3
#: Smallest gap in the rate steps, metres: what lets the belt carry 200 parcels/s.
STEP_GAP_M = 0.02
#: The outcome chutes of ``clearline.demo.site_run.PLAN``, with lanes that never fill.
_CHUTES = ((1, 14.0), (10, 24.0), (20, 28.0), (30, 32.0), (99, 40.0))


class RigError(RuntimeError):
    """The benchmark line could not be set up or did not become ready."""


def bench_line(rate_per_s: float, min_gap_m: float = LINE_GAP_M) -> LineConfig:
    """Return the benchmark line at ``rate_per_s`` parcels/s (every server on a free port).

    Like ``examples/site.yaml`` (scanner 3 m, decision point 12 m) but the checkweigher
    stands before the scan tunnel (1.5 m, as in a weigh-and-scan station), so the weight is
    known when the PLC asks and the reply is due at the scan; and the belt runs at 5 m/s so
    it can carry 40,000 parcels/h at a 0.3 m gap (the rate steps shrink the gap to 0.02 m).
    Scan to decision point takes 1.8 s. Lanes never fill: no parcel recirculates.
    """
    chutes = [
        ChuteConfig(number=n, position_m=pos, capacity=1_000_000, drain_per_h=1_000_000)
        for n, pos in _CHUTES
    ]
    return LineConfig.model_validate(
        {
            "name": "bench-line",
            "belt_speed_m_s": BELT_SPEED_M_S,
            "scanner_m": 3.0,
            "checkweigher_m": 1.5,
            "xray_m": 6.0,
            "decision_point_m": 12.0,
            "loop_length_m": 60.0,
            "chutes": chutes,
            "reject_chute": 99,
            "induction": InductionConfig(
                rate_per_h=rate_per_s * 3600.0, mode="poisson", min_gap_m=min_gap_m
            ),
            "plc": {"port": 0},
            "checkweigher": {"port": 0},
            "scanner": {"port": 0},
        }
    )


def geometry(line: LineConfig) -> dict[str, float]:
    """Return the benchmark line's geometry for the results (metres, m/s, seconds)."""
    return {
        "belt_speed_m_s": line.belt_speed_m_s,
        "checkweigher_m": line.checkweigher_m,
        "scanner_m": line.scanner_m,
        "decision_point_m": line.decision_point_m,
        "scan_to_decision_s": round(
            (line.decision_point_m - line.scanner_m) / line.belt_speed_m_s, 3
        ),
    }


def reachable(host: str, port: int) -> bool:
    """Return True when ``host:port`` accepts a TCP connection."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


_BROKER_CHILD = (
    "import sys\n"
    "from simulators.broker import EmbeddedBroker\n"
    "broker = EmbeddedBroker(port={port}).start()\n"
    "sys.stdin.read()\n"
    "broker.stop()\n"
)


class ChildBroker:
    """The embedded broker in a child process; it ends when its stdin closes."""

    def __init__(self) -> None:
        """Start the child on a free port and wait until it accepts connections (10 s)."""
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _BROKER_CHILD.format(port=self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_until(lambda: reachable("127.0.0.1", self.port), 10.0, step_s=0.05):
            self.stop()
            raise RigError("the embedded broker did not start in a child process")

    def stop(self) -> None:
        """End the child (closing its stdin), killing it after 5 s."""
        proc = self._proc
        if proc.stdin is not None and not proc.stdin.closed:
            proc.stdin.close()
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5.0)


def bench_broker() -> tuple[str, str, ChildBroker | None]:
    """The broker a benchmark uses: Mosquitto when it answers, else the embedded one in a
    child process; returns its URL, its name and the child to stop (None for Mosquitto)."""
    if reachable(MOSQUITTO_HOST, MOSQUITTO_PORT):
        return f"mqtt://{MOSQUITTO_HOST}:{MOSQUITTO_PORT}", "Mosquitto", None
    child = ChildBroker()
    return child.url, "embedded amqtt in a child process", child


class LineRig:
    """Scenario, simulated line and edge, started together; a context manager.

    ``parcels`` is the scenario size (induction stops when it runs out); ``rate_per_s``
    the starting induction rate.
    """

    def __init__(self, workdir: Path, *, parcels: int, rate_per_s: float, seed: int = 5) -> None:
        """Describe the rig; nothing runs before ``start()``."""
        self.workdir = workdir
        self.parcels = parcels
        self.line = bench_line(rate_per_s)
        self.seed = seed
        self.broker_name = ""
        self.declarations = 0
        self._broker: ChildBroker | None = None
        self._sim: SiteSimulation | None = None
        self._edge: EdgeRuntime | None = None

    @property
    def sim(self) -> SiteSimulation:
        """Return the running simulation."""
        if self._sim is None:
            raise RigError("the benchmark line is not running")
        return self._sim

    @property
    def edge(self) -> EdgeRuntime:
        """Return the running edge."""
        if self._edge is None:
            raise RigError("the benchmark line is not running")
        return self._edge

    def start(self, progress: Callable[[str], None]) -> LineRig:
        """Generate the scenario, serve the devices, start the edge, then start the belt."""
        rules = load_rules()
        scenario = self.workdir / "line-scenario"
        progress(f"line: generating a scenario of {self.parcels:,} parcels")
        generate(self.parcels, self.seed, scenario, rules)
        if reachable(MOSQUITTO_HOST, MOSQUITTO_PORT):
            broker_url = f"mqtt://{MOSQUITTO_HOST}:{MOSQUITTO_PORT}"
            self.broker_name = f"mqtt broker at {MOSQUITTO_HOST}:{MOSQUITTO_PORT} (Mosquitto)"
        else:
            self._broker = ChildBroker()
            broker_url = self._broker.url
            self.broker_name = "embedded amqtt in a child process"
        sim = SiteSimulation(
            self.line, site=SITE, broker_url=None, scenario=scenario, seed=self.seed
        )
        self._sim = sim
        sim.start(belt=False)
        cfg = edge_config(
            self.line,
            plc_port=sim.plc_port,
            checkweigher_port=sim.checkweigher_port,
            scanner_url=sim.scanner_url,
            broker_url=broker_url,
            store_dir=self.workdir / "line-edge",
            edge_id="bench-edge",
        ).model_copy(update={"xray": None})
        edge = EdgeRuntime(SITE, cfg, rules)
        self._edge = edge
        self.declarations = preload(edge.cache, scenario)
        edge.start()
        ready = wait_until(
            lambda: sim.scanner_clients > 0 and bool(edge.engine.devices.get(cfg.plc.device_id)),
            15.0,
        )
        if not ready:
            raise RigError("the edge did not connect to the simulated PLC and scanner in 15 s")
        sim.start_belt()
        progress(f"line: running at {self.line.induction.rate_per_h / 3600.0:.1f} parcels/s")
        return self

    def stop(self) -> None:
        """Stop the edge, the simulation and the embedded broker; safe to repeat."""
        edge, self._edge = self._edge, None
        if edge is not None:
            edge.stop()
        sim, self._sim = self._sim, None
        if sim is not None:
            sim.stop()
        broker, self._broker = self._broker, None
        if broker is not None:
            broker.stop()

    def __enter__(self) -> LineRig:
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

    # --- measuring ------------------------------------------------------------------------

    def inducted(self) -> int:
        """Return the number of parcels inducted so far."""
        return len(self.sim.book)

    def set_rate(self, rate_per_s: float, min_gap_m: float) -> int:
        """Induct ``rate_per_s`` parcels/s at ``min_gap_m``; return the parcels inducted before."""
        return self.sim.set_rate(rate_per_s, min_gap_m)

    def wait_for_weight(self, wait: bool) -> None:
        """Make the edge hold a request for the item's weight (True) or answer at once."""
        self.edge.engine.expect_weight = wait and self.edge.cfg.checkweigher is not None

    def items(self, first: int, end: int) -> list[ItemResult]:
        """Return the results of the parcels inducted ``first``..``end - 1`` (induction order)."""
        return self.sim.results()[first:end]

    def wait_resolved(self, first: int, end: int, timeout_s: float) -> bool:
        """Wait until parcels ``first``..``end - 1`` passed their decision point (seconds)."""

        def resolved() -> bool:
            items = self.items(first, end)
            return len(items) == end - first and all(r.reply_in_time is not None for r in items)

        return wait_until(resolved, timeout_s, step_s=0.1)
