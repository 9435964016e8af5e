"""A whole site for fault tests: hub (uvicorn thread), broker, simulated line and edge.

The hub serves over HTTP on 127.0.0.1 with a SQLite file and its MQTT ingest; the scenario's
declarations are imported into it and reach the edge by the real delta sync. The edge runs in
this process (``RecordingEdge``, which also notes every event it produces) or as a
``clearline edge run`` subprocess that can be killed with SIGKILL.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import uvicorn
import yaml
from fastapi import FastAPI
from sqlmodel import Session, select

from clearline.demo.site_run import (
    Comparison,
    compare,
    edge_config,
    free_line,
    scenario_records,
)
from clearline.processes import end_process
from contracts.clock import SystemClock
from contracts.events import EdgeEvent
from contracts.topics import edge_event_filter
from devices.mqtt_link import LinkSettings, Message, MqttLink
from edge.config import EdgeConfig
from edge.line.runtime import EdgeRuntime
from edge.line.screening import screener
from hub.app import create_app, prepare_database
from hub.db.auth_models import Role
from hub.db.engine import make_engine
from hub.db.event_models import EventRow
from hub.importing.importer import import_file
from hub.services import users
from hub.settings import HubSettings
from inspection.index import DeclarationIndex
from inspection.model import Declaration
from inspection.rules import RuleSet, load_rules
from inspection.xray.calibration import STANDARD_STEPS_MM, calibrate
from simulators.broker import free_port
from simulators.line.config import LineConfig, load_site
from simulators.scenario.generate import generate
from simulators.site.results import ItemResult
from simulators.site.simulation import SiteSimulation
from simulators.site.xray_worker import wedge_images
from tests.waiting import wait_until

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
#: Parcels per run, induction rate (parcels/s) and X-ray image width (px) of every fault run.
#: At 512 elements over the 614.4 mm belt (1.2 mm pixels) the pre-screen clears nothing and
#: every image waits for review; a run whose parcels must be released uses ``CLEAR_WIDTH_PX``,
#: the 0.6 mm pixels the pre-screen clears at.
PARCELS = 32
RATE_PER_S = 8.0
XRAY_WIDTH_PX = 512
CLEAR_WIDTH_PX = 1024
#: Belt speed of the test line (m/s): faster than the example line so runs stay short.
BELT_SPEED_M_S = 4.0
#: Chutes that keep a parcel on site (inspection, hold, return, reject).
NON_RELEASE_CHUTES = frozenset({10, 20, 30, 99})
REJECT_CHUTE = 99
EDGE_ID = "edge-1"
KEY_ENV = "CLEARLINE_FAULT_TEST_EDGE_KEY"


def unique_site(prefix: str) -> str:
    """Return a site id no other run uses (topics and hub sessions stay apart)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def fault_line(
    rate: float = RATE_PER_S, xray_width_px: int = XRAY_WIDTH_PX, *, roomy_lanes: bool = False
) -> LineConfig:
    """Return the example line on free ports, at the test rate, belt speed and image width.

    Where the example's least gap between parcels (0.3 m) leaves the belt unable to carry
    ``rate`` (4 m/s at 20 parcels/s or more), the least gap becomes half the mean spacing
    (``free_line``), so the parcels arrive at the rate asked. ``roomy_lanes``: every lane
    takes every parcel sent to it (room for a whole run, emptied as fast as the line fills
    it), so no parcel goes round the loop again because a lane is full.
    """
    example = load_site(ROOT / "examples" / "site.yaml").line()
    line = example.model_copy(update={"belt_speed_m_s": BELT_SPEED_M_S})
    if roomy_lanes:
        drain = rate * 3600.0
        chutes = [
            c.model_copy(update={"capacity": 1_000_000, "drain_per_h": drain}) for c in line.chutes
        ]
        line = line.model_copy(update={"chutes": chutes})
    return free_line(line, rate, xray_width_px)


class HubServer:
    """The hub app under uvicorn in one thread; ``stop()`` and a new ``start()`` reuse the port."""

    def __init__(self, settings: HubSettings, port: int) -> None:
        """Describe the server; nothing listens before ``start()``."""
        self.settings = settings
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._app: FastAPI | None = None

    @property
    def url(self) -> str:
        """Return ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._thread is not None

    def start(self, timeout_s: float = 20.0) -> HubServer:
        """Build a fresh app on the same database and spool and serve it; wait until it listens."""
        app = create_app(self.settings)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, name=f"hub-{self.port}", daemon=True)
        self._server, self._thread, self._app = server, thread, app
        thread.start()
        try:
            wait_until(
                lambda: server.started or not thread.is_alive(),
                timeout_s,
                f"hub listening on port {self.port}",
            )
        except BaseException:
            self.stop()
            raise
        if not server.started:
            self.stop()
            raise RuntimeError(f"hub could not serve on port {self.port}")
        return self

    def mqtt_link(self) -> MqttLink:
        """Return the running hub's MQTT link (its ingest's)."""
        app = self._app
        assert app is not None and self.running, "hub is not running"
        link: MqttLink = app.state.hub_mqtt.link
        return link

    def stop(self) -> None:
        """Shut the server down (the app stops its MQTT ingest) and join its thread."""
        server, thread = self._server, self._thread
        self._server, self._thread, self._app = None, None, None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(20)


class Observer:
    """A broker subscriber noting the id of every edge event that crosses the broker."""

    def __init__(self, url: str, site: str) -> None:
        """Connect and subscribe; raises DeviceUnavailable if the broker does not answer."""
        self._ids: set[str] = set()
        self._lock = threading.Lock()
        self.link = MqttLink(LinkSettings(url=url, site=site, kind="test", device_id="observer"))
        self.link.start()
        self.link.wait_connected(10)
        self.link.subscribe(edge_event_filter(site), self._on)

    def _on(self, msg: Message) -> None:
        event_id = str(json.loads(msg.payload)["event_id"])
        with self._lock:
            self._ids.add(event_id)

    def event_ids(self) -> set[str]:
        """Return the ids seen so far."""
        with self._lock:
            return set(self._ids)

    def stop(self) -> None:
        """Disconnect."""
        self.link.stop()


class RecordingEdge(EdgeRuntime):
    """The edge runtime, noting each event it produces before the outbox stores it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Build the runtime with an empty record."""
        self.produced: list[EdgeEvent] = []
        self._record_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def _emit(self, event: EdgeEvent) -> None:
        with self._record_lock:
            self.produced.append(event)
        super()._emit(event)


@dataclass(frozen=True, slots=True)
class HubEvent:
    """One stored event as the hub holds it."""

    event_id: str
    kind: str
    item_id: int | None


class FaultSite:
    """Hub, simulated line and edge of one fault run (the broker is the caller's)."""

    def __init__(
        self,
        tmp: Path,
        broker_url: str,
        site_id: str,
        seed: int = 5,
        *,
        parcels: int = PARCELS,
        rate: float = RATE_PER_S,
        xray_width_px: int = XRAY_WIDTH_PX,
        roomy_lanes: bool = False,
    ) -> None:
        """Generate the scenario, prepare the hub database and describe every part
        (``roomy_lanes``: see :func:`fault_line`)."""
        self.tmp = tmp
        self.broker_url = broker_url
        self.site_id = site_id
        self.rules: RuleSet = load_rules()
        self.scenario = tmp / "scenario"
        self.parcels = parcels
        generate(parcels, seed, self.scenario, self.rules)
        self.db_url = f"sqlite:///{tmp / 'hub.db'}"
        self.settings = HubSettings(
            database_url=self.db_url,
            site_id=site_id,
            dev=True,
            mqtt_url=broker_url,
            event_spool_path=str(tmp / "hub-spool.db"),
        )
        self.api_key = self._prepare_hub()
        index = DeclarationIndex()
        index.add_all(d for d in scenario_records(self.scenario) if isinstance(d, Declaration))
        #: How many parcels the edge's index knows once the sync has caught up.
        self.index_size = len(index)
        self.hub = HubServer(self.settings, free_port())
        self.line = fault_line(rate, xray_width_px, roomy_lanes=roomy_lanes)
        self.sim = SiteSimulation(
            self.line, site=site_id, broker_url=broker_url, scenario=self.scenario, seed=seed
        )
        self.calibration = tmp / "xray-calibration.json"
        wedges = wedge_images(self.line.xray, seed, STANDARD_STEPS_MM)
        calibrate(self.line.xray.device_id, wedges).save(self.calibration)
        self.edge: RecordingEdge | None = None
        self.store_dir = tmp / "edge"

    def _prepare_hub(self) -> str:
        """Migrate the hub database, import the scenario, add the edge's API key; return it."""
        engine = make_engine(self.db_url)
        try:
            prepare_database(engine, self.settings, SystemClock())
            files = sorted((self.scenario / "declarations").iterdir())
            files += sorted((self.scenario / "receipts").iterdir())
            for path in files:
                report = import_file(engine, path)
                if report.error is not None or report.rejected:
                    raise RuntimeError(f"scenario file {path.name} did not import: {report}")
            with Session(engine) as session:
                _, secret = users.create_api_key(session, EDGE_ID, Role.EDGE, SystemClock().now())
        finally:
            engine.dispose()
        return secret

    # --- lifecycle ---------------------------------------------------------------------------

    def edge_config(self) -> EdgeConfig:
        """Return the edge configuration for this site's simulated line and hub."""
        cfg = edge_config(
            self.line,
            plc_port=self.sim.plc_port,
            checkweigher_port=self.sim.checkweigher_port,
            scanner_url=self.sim.scanner_url,
            broker_url=self.broker_url,
            store_dir=self.store_dir,
            hub_url=self.hub.url,
            edge_id=EDGE_ID,
            xray_calibration=self.calibration,
        )
        return cfg.model_copy(update={"hub_api_key_env": KEY_ENV})

    def start(self) -> None:
        """Start the hub and the line's devices (belt stopped)."""
        self.hub.start()
        self.sim.start(belt=False)

    def start_edge(self, **kwargs: Any) -> RecordingEdge:
        """Start the edge in this process and wait until it has synced and connected.

        ``kwargs`` go to the runtime (a ``clock``, a ``screen``); the screen defaults to the
        calibrated one of this line's X-ray.
        """
        os.environ[KEY_ENV] = self.api_key
        cfg = self.edge_config()
        assert cfg.xray is not None
        kwargs.setdefault("screen", screener(cfg.xray))
        edge = RecordingEdge(self.site_id, cfg, self.rules, **kwargs)
        self.edge = edge
        edge.start()
        wait_until(lambda: len(edge.index) >= self.index_size, 30, "edge synced")
        wait_until(lambda: edge.link.connected, 10, "edge connected to the broker")
        wait_until(lambda: self.sim.scanner_clients > 0, 10, "edge connected to the scanner")
        # a belt started before the first read of the PLC finds its first requests unanswered
        wait_until(lambda: edge.plc_link.first_read_at is not None, 10, "edge read the PLC")
        return edge

    def run_belt(self) -> None:
        """Start inducting the scenario's parcels."""
        self.sim.start_belt()

    def finish(self, timeout_s: float = 90.0) -> list[ItemResult]:
        """Wait until every parcel has a chute; return the results."""
        assert self.sim.wait_done(timeout_s), f"line did not finish: {self.sim.stats()}"
        wait_until(lambda: all(r.status is not None for r in self.sim.results()), 30, "chutes")
        return self.sim.results()

    def settle_in_process(self, timeout_s: float = 40.0) -> None:
        """Wait until the in-process edge's outbox is empty (the hub confirmed every event)."""
        edge = self.edge
        assert edge is not None
        wait_until(
            lambda: edge.outbox.pending() == 0,
            timeout_s,
            lambda: f"empty outbox (it holds {edge.outbox.pending()} events)",
        )

    def observe(self) -> Observer:
        """Start recording every edge event that crosses this site's broker."""
        return Observer(self.broker_url, self.site_id)

    def stop(self) -> None:
        """Stop the edge, the line and the hub (safe to repeat)."""
        edge, self.edge = self.edge, None
        if edge is not None:
            edge.stop()
        self.sim.stop()
        self.hub.stop()
        os.environ.pop(KEY_ENV, None)

    # --- what the hub holds -----------------------------------------------------------------

    def hub_events(self) -> list[HubEvent]:
        """Return every event in the hub's ``event`` table."""
        engine = make_engine(self.db_url)
        try:
            with Session(engine) as session:
                rows = session.exec(select(EventRow.event_id, EventRow.kind, EventRow.item_id))
                return [HubEvent(str(e), k, i) for e, k, i in rows]
        finally:
            engine.dispose()

    def hub_event_ids(self) -> set[str]:
        """Return the ids of the events the hub holds."""
        return {e.event_id for e in self.hub_events()}


def decided_per_item(events: list[HubEvent]) -> Counter[int]:
    """Count ``decided`` events per PLC item id."""
    return Counter(e.item_id for e in events if e.kind == "decided" and e.item_id is not None)


def check_parcels(site: FaultSite, results: list[ItemResult]) -> Comparison:
    """Assert invariants 1 and 3: no wrong release, every parcel in a chute; return the result."""
    cmp = compare(results, site.scenario / "expected.jsonl")
    assert cmp.parcels == PARCELS
    assert cmp.accounted == cmp.parcels, f"unaccounted parcels: {cmp.as_json()}"
    assert cmp.wrong_releases == [], f"wrong releases (seq): {cmp.wrong_releases}"
    for m in cmp.mismatches:
        assert m["chute"] in NON_RELEASE_CHUTES, m
    return cmp


def check_events_in_process(site: FaultSite) -> None:
    """Assert invariant 2 for an in-process edge: every produced event is at the hub, once."""
    edge = site.edge
    assert edge is not None
    snapshot = list(edge.produced)  # the edge may still report (device states, confirmations)
    produced = [str(e.event_id) for e in snapshot]
    assert len(produced) == len(set(produced))
    wait_until(
        lambda: set(produced) <= site.hub_event_ids(),
        20,
        lambda: f"{len(set(produced) - site.hub_event_ids())} events missing: all at the hub",
    )
    held = site.hub_events()
    ids = [e.event_id for e in held]
    assert len(ids) == len(set(ids))
    missing = set(produced) - set(ids)
    assert not missing, f"{len(missing)} of {len(produced)} events never reached the hub"
    made = Counter(e.item_id for e in snapshot if e.kind.value == "decided")
    assert decided_per_item(held) == made


# --- the edge as a separate process ------------------------------------------------------------


def write_site_file(site: FaultSite, health_port: int, plc_link: str | None = None) -> Path:
    """Write a site file whose ``edges:`` entry runs this site's edge; return its path.

    ``plc_link`` sets the edge's ``plc_link`` (None: the config's default).
    """
    update: dict[str, object] = {"health_port": health_port}
    if plc_link is not None:
        update["plc_link"] = plc_link
    cfg = site.edge_config().model_copy(update=update)
    doc = {"site": site.site_id, "edges": [cfg.model_dump(mode="json", by_alias=True)]}
    path = site.tmp / "site.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


_MAIN = "from clearline.cli import main; main()"


class EdgeProcess:
    """``clearline edge run --config FILE`` in a child process of this interpreter."""

    def __init__(self, config: Path, api_key: str, health_port: int, log_path: Path) -> None:
        """Describe the process; nothing runs before ``start()``."""
        self.config, self.api_key = config, api_key
        self.health_port, self.log_path = health_port, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> EdgeProcess:
        """Start the edge process (its output is appended to the log file)."""
        env = dict(os.environ, **{KEY_ENV: self.api_key, "PYTHONUNBUFFERED": "1"})
        with self.log_path.open("ab") as out:
            # ``python -m clearline.cli`` would only import the module (it has no main guard)
            args = ["-c", _MAIN, "edge", "run", "--config", str(self.config)]
            self.proc = subprocess.Popen(
                [sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    def health(self) -> dict[str, Any] | None:
        """Return the edge's health report, or None while it does not answer.

        A degraded edge (a device offline, e.g. a scanner silent when the belt stopped)
        answers 503 with the same report in its body: that report is returned too.
        """
        url = f"http://127.0.0.1:{self.health_port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=2.0) as resp:
                return _report(resp.read())
        except urllib.error.HTTPError as err:
            with err:
                return _report(err.read()) if err.code == 503 else None
        except (OSError, ValueError):
            return None

    def wait_ready(self, declarations: int, timeout_s: float) -> None:
        """Wait until the edge answers, has synced ``declarations`` and reached the broker."""

        def ready() -> bool:
            if self.proc is None or self.proc.poll() is not None:
                return True  # it exited: stop waiting
            report = self.health()
            return (
                report is not None
                and report["declarations"] >= declarations
                and bool(report["broker_connected"])
            )

        wait_until(ready, timeout_s, lambda: f"edge ready\n{self.log_tail()}")
        assert self.proc is not None and self.proc.poll() is None, self.log_tail()

    def outbox_pending(self) -> int | None:
        """Return the edge's outbox count (unsent or unconfirmed events), None if it is down."""
        report = self.health()
        return None if report is None else int(report["outbox_pending"])

    def kill(self) -> None:
        """SIGKILL the process, as a power cut would, and reap it.

        Its own processes (the PLC link's) must end with it: none may keep polling the PLC.
        """
        proc = self.proc
        if proc is not None and proc.poll() is None:
            children = psutil.Process(proc.pid).children(recursive=True)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            wait_until(
                lambda: all(_ended(c) for c in children),
                5.0,
                lambda: f"processes of the killed edge ended: {[c.pid for c in children]}",
            )

    def stop(self) -> None:
        """Ask the process to stop (SIGTERM), killing it if it does not within 15 s."""
        proc, self.proc = self.proc, None
        if proc is not None:
            end_process(proc, 15.0)

    def log_tail(self, lines: int = 40) -> str:
        """Return the end of the process's output (for failure messages)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _report(body: bytes) -> dict[str, Any] | None:
    """Return a health report read from a response body (None when it is not one)."""
    try:
        report = json.loads(body)
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def _ended(proc: psutil.Process) -> bool:
    """True when ``proc`` no longer runs (ended, or a zombie nobody reaped yet)."""
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
