"""The whole site on simulators in one process: broker, hub, line, edge and an inspector.

Parcels come from a generated scenario; the hub holds its declarations and receipts; the edge
syncs them from the hub, decides each parcel and answers the simulated PLC; every event goes
through the broker to the hub. At the end the run is compared with ``expected.jsonl``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlmodel import Session

from clearline.demo.accounts import Account, create_accounts
from clearline.demo.hub_thread import HubThread
from clearline.demo.inspector_bot import InspectorBot, load_threats
from clearline.demo.site_run import (
    compare,
    edge_config,
    free_line,
    latency_summary,
    pass_times,
    wait_until,
)
from clearline.demo.trust import INSPECTOR_USER, SIM_USER, DemoTrust, api_key_env, enrol_demo
from clearline.processes import end_process
from edge.line.runtime import EdgeRuntime
from edge.sync import parse_page
from hub.db.auth_models import Role
from hub.db.engine import make_engine
from hub.db.event_models import EventRow
from hub.importing.importer import import_file
from hub.services.users import create_api_key
from hub.settings import HubSettings
from inspection.rules import RuleSet
from inspection.xray.calibration import STANDARD_STEPS_MM, calibrate
from simulators.broker import EmbeddedBroker, free_port
from simulators.line.config import LineConfig, load_site
from simulators.scenario.generate import generate
from simulators.site.results import ItemResult
from simulators.site.xray_worker import wedge_images

log = logging.getLogger(__name__)
API_KEY_ENV = "CLEARLINE_EDGE_API_KEY"
_ENV_KEYS = ("CLEARLINE_DATA_DIR", "CLEARLINE_XRAY_PIXEL_MM")


@dataclass
class LineProcess:
    """One simulated line running as its own process (``clearline sim line``)."""

    line: LineConfig
    proc: subprocess.Popen[bytes]
    results: Path
    log: Path

    def stop(self) -> None:
        """Ask the simulator to stop (it writes its results) and wait for it."""
        end_process(self.proc, 30.0, kill_wait_s=10.0)


@dataclass
class SiteRun:
    """Handles on every running part, for the summary and for stopping."""

    workdir: Path
    scenario: Path
    broker: EmbeddedBroker
    hub: HubThread
    lines: list[LineProcess] = field(default_factory=list)
    edges: list[EdgeRuntime] = field(default_factory=list)
    bot: InspectorBot | None = None
    accounts: list[Account] = field(default_factory=list)
    saved_env: dict[str, str | None] = field(default_factory=dict)
    trust: DemoTrust | None = None

    def stop(self) -> None:
        """Stop everything, newest first, and give the environment back."""
        if self.bot is not None:
            self.bot.stop()
        for line in self.lines:
            line.stop()
        for edge in self.edges:
            edge.stop()
        self.hub.stop()
        self.broker.stop()
        for key, value in self.saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _keys(db_url: str) -> tuple[str, str]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            now = datetime.now(UTC)
            _, edge_key = create_api_key(s, "demo-edge", Role.EDGE, now)
            _, inspector_key = create_api_key(s, "demo-inspector", Role.INSPECTOR, now)
        return edge_key, inspector_key
    finally:
        engine.dispose()


def _import(db_url: str, scenario: Path) -> int:
    engine = make_engine(db_url)
    try:
        files = sorted((scenario / "declarations").iterdir()) + sorted(
            (scenario / "receipts").iterdir()
        )
        return sum(import_file(engine, f).accepted for f in files)
    finally:
        engine.dispose()


def _spawn_line(
    config: Path,
    line: LineConfig,
    site: str,
    broker_url: str,
    workdir: Path,
    scenario: Path | None,
    seed: int,
) -> LineProcess:
    """Start ``clearline sim line`` for one line on the ports already chosen in ``line``."""
    results, log_path = workdir / f"{line.name}-results.jsonl", workdir / f"{line.name}.log"
    cmd = [
        sys.executable,
        "-m",
        "clearline",
        "--log-level",
        "WARNING",
        "sim",
        "line",
        "--config",
        str(config),
        "--port",
        str(line.plc.port),
        "--checkweigher-port",
        str(line.checkweigher.port),
        "--scanner-port",
        str(line.scanner.port),
        "--mqtt-url",
        broker_url,
        "--site",
        site,
        "--xray-width",
        str(line.xray.width_px),
        "--rate",
        str(line.induction.rate_per_h / 3600.0),
        "--seed",
        str(seed),
        "--results",
        str(results),
        "--wait-for-edge",
        "120",
    ]
    if scenario is not None:
        cmd += ["--scenario", str(scenario)]
    with log_path.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    return LineProcess(line, proc, results, log_path)


def _calibrate_xray(line: LineConfig, seed: int, folder: Path) -> Path:
    """Image the step wedges on the line's simulated X-ray machine and calibrate it."""
    wedges = wedge_images(line.xray, seed, STANDARD_STEPS_MM)
    cal = calibrate(line.xray.device_id, wedges)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{line.name}-{line.xray.device_id}.json"
    cal.save(path)
    log.info("x-ray %s of %s calibrated: %s", line.xray.device_id, line.name, path)
    return path


def listening(port: int, timeout_s: float = 0.2) -> bool:
    """True when something accepts TCP connections on ``127.0.0.1:port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _with_ports(line: LineConfig, name: str) -> LineConfig:
    return line.model_copy(
        update={
            "name": name,
            "plc": line.plc.model_copy(update={"port": free_port()}),
            "checkweigher": line.checkweigher.model_copy(update={"port": free_port()}),
            "scanner": line.scanner.model_copy(update={"port": free_port()}),
        }
    )


def start_site(
    config: Path,
    rules: RuleSet,
    workdir: Path,
    *,
    parcels: int,
    seed: int,
    rate_per_s: float,
    xray_width_px: int = 512,
    lines: int = 1,
    hub_port: int = 0,
) -> SiteRun:
    """Start broker, hub, ``lines`` simulated lines with their edges, and the inspector."""
    site = load_site(config)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    scenario = workdir / "scenario"
    generate(parcels, seed, scenario, rules)
    db_url = f"sqlite:///{workdir / 'hub.db'}"
    edge_ids = [f"edge-{n + 1}" for n in range(lines)]
    trust = enrol_demo(db_url, site.site, edge_ids, workdir)
    broker = EmbeddedBroker(port=0, users=trust.passwords)
    broker.start()
    key_envs = [api_key_env(e) for e in edge_ids]
    saved = {k: os.environ.get(k) for k in (*_ENV_KEYS, API_KEY_ENV, *key_envs)}
    os.environ["CLEARLINE_DATA_DIR"] = str(workdir / "hub-data")
    os.environ["CLEARLINE_XRAY_PIXEL_MM"] = str(site.line().xray.scan_width_mm / xray_width_px)
    hub = HubThread(
        HubSettings(
            database_url=db_url,
            site_id=site.site,
            dev=True,
            audit_key_path=str(workdir / "audit.key"),
            mqtt_url=trust.hub_url(broker),
            event_spool_path=str(workdir / "event-spool.db"),
            signing_key_path=str(trust.hub_key_path),
            require_enrolled_edges=True,
        ),
        port=hub_port,
    )
    run = SiteRun(workdir, scenario, broker, hub, saved_env=saved, trust=trust)
    try:
        hub.start()
        edge_key, inspector_key = _keys(db_url)
        os.environ[API_KEY_ENV] = edge_key
        for edge_id, key in trust.api_keys.items():
            os.environ[api_key_env(edge_id)] = key
        stored = _import(db_url, scenario)
        log.info("hub holds %s declarations and receipts of the scenario", f"{stored:,}")
        run.accounts = create_accounts(db_url)
        run.bot = InspectorBot(
            broker_url=trust.url(broker, INSPECTOR_USER),
            site=site.site,
            hub_url=hub.url,
            api_key=inspector_key,
            threats=load_threats(scenario),
        ).start()
        for n in range(lines):
            line = free_line(site.line(), rate_per_s=rate_per_s, xray_width_px=xray_width_px)
            line = _with_ports(line, f"line-{n + 1}")
            calibration = _calibrate_xray(line, seed + n, workdir / "xray-calibration")
            cfg = edge_config(
                line,
                plc_port=line.plc.port,
                checkweigher_port=line.checkweigher.port,
                scanner_url=f"socket://127.0.0.1:{line.scanner.port}",
                broker_url=broker.url,
                store_dir=workdir / f"edge-{n + 1}",
                hub_url=hub.url,
                edge_id=edge_ids[n],
                xray_calibration=calibration,
            )
            cfg = trust.edge(cfg, broker)
            proc = _spawn_line(
                config,
                line,
                site.site,
                trust.url(broker, SIM_USER),
                workdir,
                scenario if n == 0 else None,
                seed + n,
            )
            run.lines.append(proc)
            if not wait_until(lambda p=line.plc.port: listening(p), 30):
                raise RuntimeError(f"line simulator did not start; see {proc.log}")
            edge = EdgeRuntime(site.site, cfg, rules)
            run.edges.append(edge)
            _prefill(edge, hub.url, edge_key)
            edge.start()
            if edge.sync is None or not edge.sync.caught_up.wait(120):
                raise RuntimeError(f"edge {cfg.edge_id} did not sync from the hub")
    except Exception:
        run.stop()
        raise
    return run


def _prefill(edge: EdgeRuntime, hub_url: str, key: str) -> None:
    """Sync the edge's local copy before it starts, as a site's edge has it from before.

    The simulated belt starts as soon as the edge connects to the scanner; without this
    the first parcels would be decided while the first sync is still running (and held as
    not declared).
    """
    cursor = edge.cache.meta("cursor") or ""
    with httpx.Client(base_url=hub_url.rstrip("/"), headers={"X-API-Key": key}) as client:
        while True:
            resp = client.get("/api/v1/sync/declarations", params={"cursor": cursor})
            body = resp.raise_for_status().json()
            declarations, statuses = parse_page(body)
            edge.cache.store(declarations, statuses, body["next_cursor"])
            cursor = body["next_cursor"]
            if not body.get("more"):
                return


_ITEM_FIELDS = {f.name for f in fields(ItemResult)}


def _item(data: dict[str, Any]) -> ItemResult:
    """Rebuild one line of a simulator's ``results.jsonl``."""
    kw = {k: v for k, v in data.items() if k in _ITEM_FIELDS}
    kw["labels"] = tuple(kw.get("labels", ()))
    return ItemResult(**kw)


def finish(run: SiteRun, timeout_s: float) -> dict[str, Any]:
    """Wait for the scenario to leave the line and every event to reach the hub; summarise."""
    first = run.lines[0]
    try:
        first.proc.wait(timeout_s)
        done = True
    except subprocess.TimeoutExpired:
        done = False
    for other in run.lines[1:]:
        other.stop()
    first.stop()
    if not first.results.exists():
        tail = first.log.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise RuntimeError(f"line simulator ended without results; its log ends:\n{tail}")
    results = [_item(json.loads(x)) for x in first.results.read_text().splitlines()]
    wait_until(lambda: all(e.outbox.pending() == 0 for e in run.edges), 60)
    produced = sum(e.engine.stats.answered for e in run.edges)
    engine = make_engine(f"sqlite:///{run.workdir / 'hub.db'}")
    events = EventRow.__table__.c  # type: ignore[attr-defined]
    decided = select(events.data, events.item_id).where(events.kind == "decided")
    try:

        def decided_at_hub() -> int:
            with engine.connect() as conn:
                q = select(func.count()).select_from(decided.subquery())
                return int(conn.execute(q).scalar_one())

        wait_until(lambda: decided_at_hub() >= produced, 60)
        with engine.connect() as conn:
            rows = conn.execute(decided).all()
            total_events = int(conn.execute(select(func.count(events.event_id))).scalar_one())
            reply_ms, wait_ms = pass_times(conn)
    finally:
        engine.dispose()
    by_reason: dict[str, int] = {}
    compute = []
    reasons_of: dict[int, list[str]] = {}
    for data, item_id in rows:
        if item_id is not None:
            reasons_of[int(item_id)] = list(data.get("reasons") or [])
        ms = data.get("latency_ms")
        if isinstance(ms, int | float) and not isinstance(ms, bool):  # a desk gives none
            compute.append(float(ms))
        for reason in data.get("reasons") or []:
            by_reason[reason] = by_reason.get(reason, 0) + 1
    cmp = compare(
        results, run.scenario / "expected.jsonl", reasons_of if len(run.lines) == 1 else None
    )
    return {
        **cmp.as_json(),
        "finished_in_time": done,
        "by_reason": dict(sorted(by_reason.items())),
        "decision_latency": latency_summary(reply_ms),
        "xray_wait": latency_summary(wait_ms),
        "decision_compute": latency_summary(compute),
        "events_at_hub": total_events,
        "decisions_at_hub": len(rows),
        "decisions_made": produced,
        "inspector_verdicts": run.bot.verdicts if run.bot else 0,
        "late_reviews": run.bot.late if run.bot else 0,
        "mismatch_examples": [m for m in cmp.mismatches if not m["timing"]][:10]
        or cmp.mismatches[:10],
        "lines": len(run.lines),
    }
