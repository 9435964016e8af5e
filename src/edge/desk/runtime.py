"""One manual desk at work: weighing, the device loop, and the wiring to outbox, broker and hub.

Components start in dependency order and stop in reverse on one shared stop event, like a
line edge's. The desk keeps its own declaration cache, outbox and sequence number under
``store_dir`` (default ``var/desk/DESK_ID``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from contracts.clock import Clock, SystemClock
from contracts.events import Alarm, EdgeEvent, edge_event
from contracts.statuses import ReadStatus
from contracts.topics import edge_event_topic, sync_notice_topic, verdict_topic
from devices.adapters.hand_scanner import HandScannerAdapter
from devices.adapters.scale import ScaleAdapter
from devices.errors import DeviceUnavailable
from devices.events import BarcodeRead, WeightMeasured
from devices.mqtt_link import DeviceError, LinkSettings, Message, MqttLink
from edge.cache import DeclarationCache
from edge.config import DeskConfig, DeskWeighing
from edge.confirm import HubConfirmer
from edge.desk.session import DeskResult, DeskSession, Weighing, check_xray_setting
from edge.outbox import Outbox
from edge.publisher import OutboxPublisher
from edge.sqlite import open_store
from edge.sync import HubSync
from edge.trust import EdgeKeys, with_password
from edge.verdict_gate import VerdictGate
from inspection.identity import normalise
from inspection.masking import scrub
from inspection.rules import RuleSet

log = logging.getLogger(__name__)

ResultSink = Callable[[DeskResult], None]
StatusSink = Callable[[str], None]


# --- weighing ---------------------------------------------------------------------------


def _measure_immediately(scale: ScaleAdapter, item_id: int) -> WeightMeasured:
    """Weigh once with MT-SICS ``SI`` (the current weight, moving or not)."""
    profile = scale.profile
    scale.profile = profile.model_copy(update={"weigh_command": "SI"})
    try:
        return scale.measure(item_id)
    finally:
        scale.profile = profile


def weigh(
    scale: ScaleAdapter,
    settings: DeskWeighing,
    item_id: int,
    clock: Clock,
    stop: threading.Event | None = None,
) -> Weighing:
    """Wait up to ``settle_timeout_ms`` for a stable load, then ask ``SI`` once; never raises.

    The profile's command (``S``: stable only) is repeated until a stable weight of at least
    ``min_load_kg`` arrives. At the timeout an MT-SICS scale is asked ``SI``: a moving weight
    gives ``stable=False`` (UNSTABLE_WEIGHT); an empty, overloaded or silent scale gives
    ``weight_kg=None`` (NO_WEIGHT), a silent one with ``device_fault``.
    """
    pause = stop if stop is not None else threading.Event()
    deadline = time.monotonic() + settings.settle_timeout_ms / 1000.0
    try:
        while True:
            last = scale.measure(item_id)
            if _loaded(last, settings):
                return _weighing(last, "stable")
            left = deadline - time.monotonic()
            if left <= 0 or pause.wait(min(left, settings.retry_pause_ms / 1000.0)):
                break
        mt_sics_s = scale.profile.protocol == "mt_sics" and scale.profile.weigh_command == "S"
        if mt_sics_s:
            last = _measure_immediately(scale, item_id)
            if _loaded(last, settings):
                return _weighing(last, "stable")
    except DeviceError as err:
        log.warning("desk scale %s: no weight: %s", scale.device_id, err)
        detail = err.detail if isinstance(err, DeviceUnavailable) else str(err)
        return Weighing(
            scale.device_id,
            None,
            False,
            f"scale not answering: {detail}",
            clock.now(),
            frozenset({"no_answer"}),
            device_fault=True,
        )
    return _unsettled(last, settings)


def _loaded(m: WeightMeasured, settings: DeskWeighing) -> bool:
    """Return True for a stable weight of at least the smallest load."""
    return m.weight_kg is not None and m.stable and m.weight_kg >= settings.min_load_kg


def _weighing(m: WeightMeasured, detail: str) -> Weighing:
    """Return a measurement as a weighing."""
    return Weighing(m.device_id, m.weight_kg, m.stable, detail, m.at, m.flags)


def _unsettled(m: WeightMeasured, settings: DeskWeighing) -> Weighing:
    """Return the weighing of a load that never gave a usable stable weight."""
    waited = f"{settings.settle_timeout_ms / 1000.0:.1f} s"
    if m.weight_kg is None:
        what = ", ".join(sorted(m.flags)) or "no weight"
        return Weighing(m.device_id, None, False, f"{what} after {waited}", m.at, m.flags)
    if m.stable:  # stable but below the smallest load
        detail = f"nothing on the scale ({m.weight_kg:.3f} kg) after {waited}"
        return Weighing(m.device_id, None, False, detail, m.at, m.flags | {"empty"})
    return _weighing(m, f"still moving after {waited}")


# --- the device loop --------------------------------------------------------------------


class DeskStation:
    """The desk's device loop: every scan is weighed, decided and handed to the display."""

    def __init__(
        self,
        session: DeskSession,
        scanner: HandScannerAdapter,
        scale: ScaleAdapter,
        *,
        on_result: ResultSink | None = None,
        on_status: StatusSink | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """Use already-built adapters (the station opens nothing itself)."""
        self.session, self.scanner, self.scale = session, scanner, scale
        self._on_result, self._on_status = on_result, on_status
        self.stop = stop if stop is not None else threading.Event()
        self.handled = 0
        self._offline = False

    def _status(self, text: str) -> None:
        if self._on_status is not None:
            self._on_status(text)

    def step(self, timeout_s: float) -> list[DeskResult]:
        """Wait up to ``timeout_s`` seconds for scans and handle each; return the results."""
        self.session.drain()
        try:
            reads = self.scanner.poll(timeout_s)
        except DeviceUnavailable as err:
            self._offline = True
            self._status(f"SCANNER OFFLINE: {scrub(err.detail)}")
            self.stop.wait(timeout_s)
            return []
        results = [self.handle(read) for read in reads]
        if results or self._offline:
            self._offline = False
            self._status("READY: scan the next parcel")
        return results

    def handle(self, read: BarcodeRead) -> DeskResult:
        """Weigh, decide and report one scan (a no-read is weighed too: it is a parcel)."""
        seq = self.session.next_seq()
        ok = read.status is ReadStatus.OK and read.codes
        shown = normalise(read.codes[0]) if ok else "(no code read)"
        self._status(f"WEIGHING #{seq} {shown}: put the parcel on the scale")
        weighing = weigh(self.scale, self.session.cfg.weighing, seq, self.session.clock, self.stop)
        self.session.drain()
        result = self.session.record(read, weighing, seq)
        self.handled += 1
        if self._on_result is not None:
            self._on_result(result)
        return result

    def run(self) -> None:
        """Handle scans until the stop event is set."""
        self._status("READY: scan a parcel")
        while not self.stop.is_set():
            self.step(0.2)


# --- wiring ---------------------------------------------------------------------------


class DeskSequence:
    """The desk's parcel counter in SQLite: 1, 2, 3, ... never reused after a restart."""

    def __init__(self, path: str | Path) -> None:
        """Open (or create) the counter database at ``path``."""
        self._db = open_store(path, synchronous="FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS seq (name TEXT PRIMARY KEY, value INTEGER)")
        self._lock = threading.Lock()

    def next(self) -> int:
        """Return the next number, stored before it is returned."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO seq VALUES ('parcel', 1) "
                "ON CONFLICT(name) DO UPDATE SET value = value + 1"
            )
            row = self._db.execute("SELECT value FROM seq WHERE name = 'parcel'").fetchone()
            self._db.execute("COMMIT")
        return int(row[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


class DeskRuntime:
    """Everything one desk runs, started and stopped in a clear order."""

    def __init__(
        self,
        site: str,
        cfg: DeskConfig,
        rules: RuleSet,
        *,
        clock: Clock | None = None,
        on_result: ResultSink | None = None,
        on_status: StatusSink | None = None,
    ) -> None:
        """Check the setup (DeskError; DeviceError: bad broker URL), then open the stores."""
        check_xray_setting(cfg, rules)
        self.keys = EdgeKeys.load(cfg.trust) if cfg.trust is not None else None
        url = with_password(cfg.broker_url, cfg.trust.broker_password_file if cfg.trust else None)
        self.link = MqttLink(  # refuses a malformed broker URL before anything is opened
            LinkSettings(url=url, site=site, kind="desk", device_id=cfg.desk_id)
        )
        self.site, self.cfg = site, cfg
        self.clock: Clock = clock or SystemClock()
        self.stop_event = threading.Event()
        store = cfg.store_path
        self.cache = DeclarationCache(store / "cache.db")
        self.outbox = Outbox(store / "outbox.db")
        self.sequence = DeskSequence(store / "desk.db")
        self.index = self.cache.reader()
        self._topic = edge_event_topic(site, cfg.desk_id)
        self.gate = VerdictGate(
            site=site,
            edge_id=cfg.desk_id,
            keys=self.keys,
            trust=cfg.trust,
            clock=self.clock,
            waiting=None,
            alarm=self._gate_alarm,
        )
        self.session = DeskSession(
            site=site,
            cfg=cfg,
            index=self.index,
            rules=rules,
            clock=self.clock,
            emit=self._emit,
            next_seq=self.sequence.next,
        )
        self.scanner = HandScannerAdapter(
            cfg.hand_scanner, clock=self.clock, on_state=self.session.device_changed
        )
        self.scale = ScaleAdapter(cfg.scale, clock=self.clock, on_state=self.session.device_changed)
        self.station = DeskStation(
            self.session,
            self.scanner,
            self.scale,
            on_result=on_result,
            on_status=on_status,
            stop=self.stop_event,
        )
        self.publisher = OutboxPublisher(  # with a hub, events stay until it confirms them
            self.outbox, self.link, self.stop_event, confirm=cfg.hub_url is not None
        )
        self.sync: HubSync | None = None
        self.confirmer: HubConfirmer | None = None
        self._thread = threading.Thread(
            target=self.station.run, name=f"desk-{cfg.desk_id}", daemon=True
        )
        self._started = False

    def _emit(self, event: EdgeEvent) -> None:
        body = self.keys.encode(event) if self.keys else event.model_dump_json().encode()
        self.outbox.put(str(event.event_id), self._topic, body)

    def _gate_alarm(self, name: str, detail: str) -> None:
        """Report a refused verdict to the hub."""
        payload = Alarm(alarm=name, detail=detail[:1000])
        self._emit(
            edge_event(payload, site=self.site, edge_id=self.cfg.desk_id, at=self.clock.now())
        )

    def load_cache(self) -> int:
        """Open the index kept in the local cache; return how many parcel declarations it holds."""
        self.cache.upgrade()  # a cache an older edge left: indexed once
        n = len(self.index)
        log.info("desk %s: %s parcel declarations in the local cache", self.cfg.desk_id, f"{n:,}")
        return n

    def start(self) -> None:
        """Start the cache, broker link, outbox sender, hub sync, devices and desk loop."""
        self._started = True
        self.load_cache()
        self.link.start()
        self.link.subscribe(verdict_topic(self.site), self._on_verdict)
        self.publisher.start()
        if self.cfg.hub_url is not None:
            key = os.environ.get(self.cfg.hub_api_key_env, "")
            if not key:
                log.warning(
                    "desk %s: %s is not set; the hub will refuse sync",
                    self.cfg.desk_id,
                    self.cfg.hub_api_key_env,
                )
            self.sync = HubSync(
                self.cfg.hub_url, key, self.cache, self.session.submit, self.stop_event
            )
            self.link.subscribe(sync_notice_topic(self.site), lambda _msg: self._poke_sync())
            self.sync.start()
            self.confirmer = HubConfirmer(self.cfg.hub_url, key, self.outbox, self.stop_event)
            self.confirmer.start()
        self.scanner.open()
        self.scale.open()
        self._thread.start()
        log.info("desk %s: running", self.cfg.desk_id)

    def _poke_sync(self) -> None:
        if self.sync is not None:
            self.sync.poke()

    def _on_verdict(self, msg: Message) -> None:
        verdict = self.gate.check(msg.payload)
        if verdict is not None:
            self.session.submit(verdict)

    def stop(self) -> None:
        """Stop every component in reverse order and close the stores."""
        self.stop_event.set()
        if self._started:
            self._thread.join(10.0)
            if self.sync is not None:
                self.sync.join()
            if self.confirmer is not None:
                self.confirmer.join()
            self.publisher.join()
            self.scanner.close()
            self.scale.close()
            self.link.stop()
        self.sequence.close()
        self.outbox.close()
        self.cache.close()
