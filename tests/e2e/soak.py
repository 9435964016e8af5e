"""A soak of a whole site: parcels at a steady rate for minutes, the active edge SIGKILLed often.

The hub (``clearline hub serve``) and the edge (``clearline edge run --standby``: a
supervisor, the active edge and a warm spare) are processes of their own, so each one's
memory is measured; the line runs on simulators in this process and the broker is Mosquitto
(or an embedded one). Every ``kill_every_s`` the active edge (the pid its store's lock file
names) is SIGKILLed; the spare takes over. ``run_soak`` returns the figures as JSON-ready data:
parcels, wrong releases, unconfirmed parcels, lost and doubled events, ``lost_confirms``
alarms, takeover times, and the processes' RSS over time. ``scripts/soak.py`` is its command.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import select

from clearline.demo.site import listening
from clearline.demo.site_run import compare
from clearline.processes import end_process
from hub.db.engine import make_engine
from hub.db.event_models import EVENT
from hub.settings import HubSettings
from simulators.broker import EmbeddedBroker, free_port
from tests.e2e.harness import (
    KEY_ENV,
    NON_RELEASE_CHUTES,
    ROOT,
    EdgeProcess,
    FaultSite,
    HubServer,
    unique_site,
    write_site_file,
)
from tests.waiting import wait_until

log = logging.getLogger(__name__)

_MAIN = "from clearline.cli import main; main()"
MOSQUITTO = "mqtt://127.0.0.1:1883"
#: Confirmations reported overwritten this soon after a kill are counted against the takeover.
TAKEOVER_WINDOW_S = 10.0
#: ... and this soon after the line simulator's time slipped, against the simulator's burst.
SLIP_WINDOW_S = 2.0


@dataclass(frozen=True, slots=True)
class SoakOptions:
    """What one soak runs."""

    workdir: Path
    seconds: float = 600.0
    rate: float = 50.0
    kill_every_s: float = 120.0
    xray_width_px: int = 512  # the fault suite's width (1.2 mm pixels: nothing auto-clears)
    sample_s: float = 5.0
    seed: int = 5
    broker_url: str | None = None  # None: Mosquitto if it answers, else an embedded broker
    plc_link: str | None = None  # the edge's ``plc_link`` (None: the config's default)
    #: Lanes that take every parcel sent to them (``fault_line``); False: the example line's,
    #: whose hold cage fills at once when every image waits for an inspector.
    roomy_lanes: bool = True


@dataclass(slots=True)
class Takeover:
    """One SIGKILL of the active edge and how the spare took over (seconds after the kill)."""

    killed_pid: int
    at_s: float  # seconds after the belt started
    killed_at: float  # epoch seconds
    new_pid: int | None = None
    lock_s: float | None = None
    plc_read_s: float | None = None


@dataclass(slots=True)
class Samples:
    """RSS (MB) of each process, and the line's progress, over time."""

    t_s: list[float] = field(default_factory=list)
    rss_mb: dict[str, list[float | None]] = field(default_factory=dict)
    inducted: list[int] = field(default_factory=list)
    slipped_s: list[float] = field(default_factory=list)
    load1: list[float] = field(default_factory=list)
    engine_backlog: list[int | None] = field(default_factory=list)


class HubProcess(HubServer):
    """The hub as ``clearline hub serve`` in a child process (same settings, port, database)."""

    def __init__(self, settings: HubSettings, port: int, log_path: Path) -> None:
        """Describe the process; nothing runs before ``start()``."""
        super().__init__(settings, port)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout_s: float = 60.0) -> HubProcess:
        """Start the hub process and wait until it listens."""
        s = self.settings
        env = dict(
            os.environ,
            CLEARLINE_DATABASE_URL=s.database_url,
            CLEARLINE_SITE_ID=s.site_id,
            CLEARLINE_MQTT_URL=s.mqtt_url or "",
            CLEARLINE_EVENT_SPOOL_PATH=s.event_spool_path or "",
            CLEARLINE_DEV="1",
            PYTHONUNBUFFERED="1",
        )
        args = ["-c", _MAIN, "hub", "serve", "--port", str(self.port), "--dev"]
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        wait_until(lambda: listening(self.port) or not self.running, timeout_s, "hub listening")
        if not self.running:
            raise RuntimeError(f"hub did not start; see {self.log_path}")
        return self

    def stop(self) -> None:
        """SIGTERM the hub and wait for it."""
        proc, self.proc = self.proc, None
        if proc is not None:
            end_process(proc, 30.0)


def _rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        return round(psutil.Process(pid).memory_info().rss / 1e6, 1)
    except psutil.Error:
        return None


def _broker_url(opts: SoakOptions) -> str | None:
    """Mosquitto when it answers (and none was named), else None (an embedded broker)."""
    if opts.broker_url is not None:
        return opts.broker_url
    return MOSQUITTO if listening(1883) else None


class Soak:
    """One soak run: the site, the supervised edge, the kills and the samples."""

    def __init__(self, opts: SoakOptions, broker_url: str) -> None:
        """Generate the scenario and prepare the hub; nothing runs yet."""
        self.opts = opts
        parcels = int(opts.seconds * opts.rate)
        opts.workdir.mkdir(parents=True, exist_ok=True)
        self.site = FaultSite(
            opts.workdir, broker_url, unique_site("soak"), opts.seed,
            parcels=parcels, rate=opts.rate, xray_width_px=opts.xray_width_px,
            roomy_lanes=opts.roomy_lanes,
        )  # fmt: skip
        self.site.hub = HubProcess(self.site.settings, self.site.hub.port, opts.workdir / "hub.log")
        self.health_port = free_port()
        self.edge = EdgeProcess(
            opts.workdir / "site.yaml",  # written once the line's ports are known
            self.site.api_key,
            self.health_port,
            opts.workdir / "edge.log",
        )
        self.takeovers: list[Takeover] = []
        self.samples = Samples()
        self._belt_at = 0.0

    # --- processes ---------------------------------------------------------------------------

    def start_edge(self) -> None:
        """Start ``clearline edge run --standby`` and wait until the active edge is ready."""
        self.edge.config = write_site_file(self.site, self.health_port, self.opts.plc_link)
        env = dict(os.environ, **{KEY_ENV: self.site.api_key, "PYTHONUNBUFFERED": "1"})
        args = ["-c", _MAIN, "edge", "run", "--config", str(self.edge.config), "--standby"]
        with self.edge.log_path.open("ab") as out:
            self.edge.proc = subprocess.Popen(
                [sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        # some scenario declarations are withdrawn, so the edge holds a few less than the
        # scenario names: ready once it holds nearly all of them and its count stays put
        self.edge.wait_ready(int(self.site.index_size * 0.9), 300)
        counts: list[int] = []

        def synced() -> bool:
            time.sleep(1.0)
            counts.append(int((self.edge.health() or {}).get("declarations", -1)))
            return len(counts) > 3 and len(set(counts[-4:])) == 1

        wait_until(synced, 120, "the edge's declarations stop changing")
        log.info("soak: edge ready with %d declarations", counts[-1])
        wait_until(lambda: self.site.sim.scanner_clients > 0, 30, "edge connected to the scanner")
        wait_until(lambda: len(self.workers()) == 2, 120, "a warm spare")

    def workers(self) -> list[int]:
        """Return the pids of the supervisor's workers (the active edge and the spare)."""
        proc = self.edge.proc
        if proc is None:
            return []
        try:
            return [c.pid for c in psutil.Process(proc.pid).children()]
        except psutil.Error:
            return []

    def active_pid(self) -> int | None:
        """Return the pid of the active edge: the one its lock file names."""
        try:
            text = (self.site.store_dir / "edge.lock").read_text(encoding="ascii").strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def kill_active(self) -> None:
        """SIGKILL the active edge; follow the spare's takeover in a thread."""
        pid = self.active_pid()
        if pid is None or pid not in self.workers():
            log.warning("soak: no active edge to kill (lock names %s)", pid)
            return
        killed_at = time.time()
        os.kill(pid, signal.SIGKILL)
        t = Takeover(pid, round(time.monotonic() - self._belt_at, 1), killed_at)
        self.takeovers.append(t)
        log.info("soak: killed the active edge (pid %d)", pid)
        threading.Thread(target=self._follow, args=(t, killed_at), daemon=True).start()

    def _follow(self, t: Takeover, killed_at: float) -> None:
        """Wait for the new active edge's report; note when it took the lock and read the PLC."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            report = self.edge.health()
            proc = (report or {}).get("process") or {}
            if proc.get("pid") not in (None, t.killed_pid) and proc.get("plc_first_read_at"):
                t.new_pid = int(proc["pid"])
                t.lock_s = round(float(proc["lock_at"]) - killed_at, 3)
                t.plc_read_s = round(float(proc["plc_first_read_at"]) - killed_at, 3)
                log.info("soak: pid %d took over: %s", t.new_pid, asdict(t))
                return
            time.sleep(0.2)
        log.warning("soak: no takeover seen within 60 s of killing pid %d", t.killed_pid)

    def sample(self) -> None:
        """Note every process's RSS, the line's progress and the load."""
        s, t = self.samples, round(time.monotonic() - self._belt_at, 1)
        active = self.active_pid()
        spares = [p for p in self.workers() if p != active]
        hub = self.site.hub
        rss = {
            "hub": _rss_mb(hub.proc.pid if isinstance(hub, HubProcess) and hub.proc else None),
            "edge_active": _rss_mb(active),
            "edge_spare": _rss_mb(spares[0] if spares else None),
            "edge_supervisor": _rss_mb(self.edge.proc.pid if self.edge.proc else None),
            "line_simulators": _rss_mb(os.getpid()),
        }
        s.t_s.append(t)
        for name, value in rss.items():
            s.rss_mb.setdefault(name, []).append(value)
        stats = self.site.sim.stats()
        s.inducted.append(int(stats["inducted"]))
        s.slipped_s.append(float(stats.get("slipped_s", 0.0)))
        s.load1.append(round(os.getloadavg()[0], 2))
        report = self.edge.health()
        s.engine_backlog.append(None if report is None else int(report["engine_backlog"]))

    # --- the run -----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Run the soak and return its figures."""
        opts, site = self.opts, self.site
        load_before = os.getloadavg()
        site.start()
        observer = site.observe()
        try:
            self.start_edge()
            self._belt_at = time.monotonic()
            site.run_belt()
            self._drive()
            results = site.finish(timeout_s=opts.seconds + 600)
            wait_until(lambda: self.edge.outbox_pending() == 0, 300, self.edge.log_tail)
            time.sleep(2.0)  # the last events cross the broker to the observer
            self.sample()
            return self._figures(results, observer.event_ids(), load_before)
        finally:
            observer.stop()
            self.edge.stop()
            site.stop()

    def _drive(self) -> None:
        """Until every parcel is inducted: kill on schedule and sample memory."""
        opts = self.opts
        next_kill = opts.kill_every_s
        next_sample = 0.0
        while int(self.site.sim.stats()["inducted"]) < self.site.parcels:
            now = time.monotonic() - self._belt_at
            if now >= next_sample:
                self.sample()
                next_sample += opts.sample_s
            if now >= next_kill and now < opts.seconds:
                self.kill_active()
                next_kill += opts.kill_every_s
            time.sleep(0.1)
            if now > opts.seconds * 4 + 120:
                raise RuntimeError(f"the line did not induct every parcel: {self.site.sim.stats()}")

    def _figures(
        self, results: list[Any], carried: set[str], load_before: tuple[float, float, float]
    ) -> dict[str, Any]:
        """Check the invariants against what the hub holds; return the figures."""
        site = self.site
        cmp = compare(results, site.scenario / "expected.jsonl")
        site.sim.write_results(self.opts.workdir / "results.jsonl")
        held = site.hub_events()
        ids = [e.event_id for e in held]
        confirmed = Counter(e.item_id for e in held if e.kind == "confirmed")
        decided = Counter(e.item_id for e in held if e.kind == "decided")
        answered = [r for r in results if r.answered]
        named = self._alarms()
        alarms = Counter(name for name, _, _ in named)
        released_other = [m for m in cmp.mismatches if m["chute"] not in NON_RELEASE_CHUTES]
        plc_read = [t.plc_read_s for t in self.takeovers if t.plc_read_s is not None]
        started = self._belt_epoch()
        return {
            "options": {
                k: str(v) if isinstance(v, Path) else v for k, v in asdict(self.opts).items()
            },
            "broker": site.broker_url,
            "parcels": {
                "inducted": len(results),
                "accounted": cmp.accounted,
                "answered": len(answered),
                "unanswered_to_reject": sum(1 for r in results if r.status == "no_answer"),
                # the rate the line inducted at, in its own time (stalls held back): what the
                # belt carried, against ``options.rate`` asked
                "induction_rate_per_s": _induction_rate(results),
                "by_outcome": cmp.by_outcome,
            },
            "wrong_releases": len(cmp.wrong_releases),
            "wrong_release_seqs": cmp.wrong_releases,
            # a duplicate copy released because its original was not (rejected unanswered):
            # that declaration's only release, so not a wrong one (see ``compare``)
            "released_copies_of_unreleased": [m["seq"] for m in released_other],
            "unconfirmed_parcels": sum(1 for r in answered if not confirmed[r.item_id]),
            "answered_without_decided_at_hub": sum(1 for r in answered if not decided[r.item_id]),
            "events": {
                "at_hub": len(ids),
                "duplicate_ids": len(ids) - len(set(ids)),
                "carried_by_broker": len(carried),
                "lost": len(carried - set(ids)),
            },
            "alarms": dict(alarms),
            "lost_confirms_alarms": alarms.get("lost_confirms", 0),
            "confirms_overwritten": self._overwritten(named),
            "contradicting_decisions": alarms.get("contradicting_decisions", 0),
            "takeovers": [asdict(t) for t in self.takeovers],
            "takeover_plc_read_s_max": max(plc_read) if plc_read else None,
            "simulator": site.sim.stats(),
            "simulator_slips": [
                {"at_s": round(at - started, 2), "held_back_ms": round(1000.0 * wall_s, 1)}
                for at, wall_s in site.sim.slips()
            ],
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "samples": asdict(self.samples),
        }

    def _alarms(self) -> list[tuple[str, float, str]]:
        """Return every alarm the hub holds: (name, epoch seconds, detail)."""
        engine = make_engine(self.site.db_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(select(EVENT.c.data, EVENT.c.at).where(EVENT.c.kind == "alarm"))
                out = []
                for data, at in rows:
                    d = dict(data)
                    when = at if at.tzinfo else at.replace(tzinfo=UTC)
                    out.append((str(d.get("alarm")), when.timestamp(), str(d.get("detail", ""))))
                return out
        finally:
            engine.dispose()

    def _belt_epoch(self) -> float:
        """When the belt started, in epoch seconds (the alarms' and the slips' clock)."""
        return time.time() - (time.monotonic() - self._belt_at)

    def _overwritten(self, alarms: list[tuple[str, float, str]]) -> dict[str, Any]:
        """Sum the confirmations the ring overwrote: within 10 s of a kill, within 2 s after
        the line simulator slipped (it then runs up to 100 ms of belt at once), and at other
        times; list each report's time (seconds after the belt started) and count."""
        kills = [t.killed_at for t in self.takeovers]
        slips = [at for at, _ in self.site.sim.slips()]
        started = self._belt_epoch()
        near = after_slip = other = 0
        reports = []
        for name, at, detail in sorted(alarms, key=lambda a: a[1]):
            if name != "lost_confirms":
                continue
            first = detail.split(maxsplit=1)[:1]
            n = int(first[0]) if first and first[0].isdigit() else 0
            if any(0 <= at - k <= TAKEOVER_WINDOW_S for k in kills):
                near += n
                why = "kill"
            elif any(0 <= at - s <= SLIP_WINDOW_S for s in slips):
                after_slip += n
                why = "simulator slip"
            else:
                other += n
                why = "other"
            reports.append({"at_s": round(at - started, 2), "count": n, "near": why})
        return {
            "within_10_s_of_a_kill": near,
            "within_2_s_after_a_simulator_slip": after_slip,
            "at_other_times": other,
            "reports": reports,
        }


def _induction_rate(results: list[Any]) -> float | None:
    """Parcels per simulated second between the first induction and the last."""
    times: list[float] = sorted(r.inducted_s for r in results)
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return round(float(len(times) - 1) / (times[-1] - times[0]), 2)


def run_soak(opts: SoakOptions) -> dict[str, Any]:
    """Run one soak on Mosquitto (or an embedded broker) and return its figures."""
    url = _broker_url(opts)
    if url is not None:
        return Soak(opts, url).run()
    with EmbeddedBroker(port=0) as broker:
        return Soak(opts, broker.url).run()


def write_figures(figures: dict[str, Any], path: Path) -> None:
    """Write the figures as indented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
