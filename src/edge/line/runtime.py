"""One edge, wired: devices → engine → PLC, events → outbox → broker, verdicts and sync in.

Components start in dependency order and stop in reverse on one shared stop event.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from contracts.clock import Clock, SteadyClock, SystemClock
from contracts.events import Alarm, EdgeEvent, edge_event
from contracts.statuses import XrayState
from contracts.topics import edge_event_topic, sync_notice_topic, verdict_topic
from devices.adapters.base import PollThread
from devices.adapters.checkweigher import CheckweigherAdapter
from devices.adapters.tunnel_scanner import TunnelScannerAdapter
from devices.adapters.xray import XrayAdapter
from devices.events import DeviceStateChanged, ImageCaptured, SendToChute
from devices.mqtt_link import LinkSettings, Message, MqttLink
from edge.cache import DeclarationCache
from edge.config import EdgeConfig
from edge.confirm import HubConfirmer
from edge.health import HealthServer
from edge.line.availability import AvailabilityBoard
from edge.line.engine import LineEngine, XrayScreened
from edge.line.heartbeat import BeatFigures
from edge.line.loop import EngineLoop
from edge.line.plc_child import endpoint_of
from edge.line.plc_process import PlcProcessLink, WarmProcess
from edge.line.plc_wiring import wire_plc
from edge.line.standby import EdgeLock
from edge.outbox import Outbox
from edge.publisher import OutboxPublisher
from edge.state import SafetyState
from edge.sync import HubSync
from edge.trust import EdgeKeys, with_password
from edge.verdict_gate import VerdictGate
from inspection.model import Declaration
from inspection.rules import RuleSet

log = logging.getLogger(__name__)

Screen = Callable[[ImageCaptured, Declaration | None], XrayScreened]


#: The interpreter's thread switch interval while an edge runs, seconds (Python's default is
#: 5 ms). A Modbus round trip hands the GIL over several times; with the engine, the pollers
#: and the outbox busy, each hand-over waited up to 5 ms, and a heartbeat write took 100 ms
#: and more (measured: worst gap 395 ms at 5 ms, 102 ms at 1 ms, three busy threads beside).
SWITCH_INTERVAL_S = 0.001


def prepare_screen(cfg: EdgeConfig) -> Screen | None:
    """Return the X-ray pre-screen of ``cfg`` (None: images wait for an inspector)."""
    if cfg.xray is None or cfg.xray.prescreen_workers <= 0:
        return None
    from edge.line.screening import screener

    return screener(cfg.xray)


class EdgeRuntime:
    """Everything one edge runs, started and stopped in a clear order."""

    def __init__(
        self,
        site: str,
        cfg: EdgeConfig,
        rules: RuleSet,
        *,
        clock: Clock | None = None,
        screen: Screen | None = None,
        lock: EdgeLock | None = None,
        plc_process: WarmProcess | None = None,
    ) -> None:
        """Build the edge; ``plc_process`` is a PLC link process started ahead (a spare's)."""
        self.site, self.cfg, self.rules = site, cfg, rules
        #: held while this edge drives the line (``start()`` takes it if the caller did not)
        self.lock = lock if lock is not None else EdgeLock(cfg.store_dir)
        self.clock: Clock = clock or SystemClock()  # stamps events
        #: measures time on the line (deadlines, device times): a wall-clock jump never moves it
        self.steady: Clock = SteadyClock()
        self.stop_event = threading.Event()
        self._screen = screen if screen is not None else prepare_screen(cfg)
        self.cache = DeclarationCache(cfg.store_dir / "cache.db")
        self.outbox = Outbox(cfg.store_dir / "outbox.db")
        self.state = SafetyState(cfg.store_dir / "state.db")
        self.index = self.cache.reader()
        self._topic = edge_event_topic(site, cfg.edge_id)
        self.keys = EdgeKeys.load(cfg.trust) if cfg.trust is not None else None
        if self.keys is None:
            log.warning("edge %s: no keys (trust:); verdicts will be refused", cfg.edge_id)
        url = with_password(cfg.broker_url, cfg.trust.broker_password_file if cfg.trust else None)
        self.link = MqttLink(LinkSettings(url=url, site=site, kind="edge", device_id=cfg.edge_id))
        self.engine = LineEngine(
            site=site,
            edge_id=cfg.edge_id,
            index=self.index,
            rules=rules,
            plan=cfg.chutes,
            reply=self._reply,
            emit=self._emit,
            clock=self.clock,
            margin_ms=cfg.decision.margin_ms,
            recirculation_limit=cfg.decision.recirculation_limit,
            screen=self._submit_screen,
            expect_weight=cfg.checkweigher is not None,
            expect_xray=cfg.xray is not None,
            headroom_ms=self._headroom_ms,
            state=self.state,
            steady=self.steady,
            scanner_id=cfg.tunnel_scanner.device_id if cfg.tunnel_scanner is not None else None,
        )
        self.loop = EngineLoop(self.engine, self.stop_event)
        self.gate = VerdictGate(
            site=site,
            edge_id=cfg.edge_id,
            keys=self.keys,
            trust=cfg.trust,
            clock=self.clock,
            waiting=self._item_waiting,
            alarm=self._gate_alarm,
            decided=self._item_decided,
        )
        self.availability = AvailabilityBoard(self.link, site, self.stop_event)
        plc = wire_plc(
            cfg, self.state, self.steady, self._device_event, self.stop_event,
            alive=self._engine_alive, warm=plc_process,
        )  # fmt: skip
        self.plc_link = plc.link
        self.plc = plc.adapter  # None when the link runs in a process of its own
        self._beat = plc.beat_thread
        #: the heartbeat's figures (written here or in the PLC link's process)
        self.heartbeat: BeatFigures = plc.beat
        self.engine.journaling = True
        self.publisher = OutboxPublisher(
            self.outbox, self.link, self.stop_event, confirm=cfg.hub_url is not None
        )
        self._threads: list[threading.Thread] = []
        self._pollers: list[PollThread[Any]] = []
        self._pool: ThreadPoolExecutor | None = None
        self._xray: XrayAdapter | None = None
        self.checkweigher: CheckweigherAdapter | None = None
        self._switch_interval: float | None = None
        self._closers: list[Callable[[], None]] = []
        self.health: HealthServer | None = None
        self.sync: HubSync | None = None
        self.confirmer: HubConfirmer | None = None

    # --- sinks ----------------------------------------------------------------------------

    def _emit(self, event: EdgeEvent) -> None:
        body = self.keys.encode(event) if self.keys else event.model_dump_json().encode()
        self.outbox.put(str(event.event_id), self._topic, body)

    def _item_waiting(self, item_id: int) -> bool:
        """Whether the item is on this line and not decided yet (read from any thread)."""
        item = self.engine.tracker.get(item_id)
        return item is not None and item.outcome is None

    def _item_decided(self, item_id: int) -> bool:
        """Whether the item is on this line and already decided (read from any thread)."""
        item = self.engine.tracker.get(item_id)
        return item is not None and item.outcome is not None

    def _gate_alarm(self, name: str, detail: str) -> None:
        """Report a refused verdict to the hub (about no parcel: the parcel's record stays)."""
        payload = Alarm(alarm=name, detail=detail[:1000])
        self._emit(
            edge_event(payload, site=self.site, edge_id=self.cfg.edge_id, at=self.clock.now())
        )

    def _device_event(self, event: object) -> None:
        """Hand a device event to the engine; a state change also goes to the availability board."""
        if isinstance(event, DeviceStateChanged):
            self.availability.note(event)
        self.loop.submit(event)

    def _engine_alive(self) -> bool:
        """True while the engine loop turns (the heartbeat stops when it does not)."""
        return self.loop.alive()

    def _headroom_ms(self) -> float:
        """How early a fallback answer must leave to reach the PLC in time (measured)."""
        return self.plc_link.headroom_ms()

    def _reply(self, command: SendToChute) -> None:
        # written by the PLC link's thread; one that fails is logged there, and the PLC sends
        # an unanswered item to the reject chute by itself
        self.plc_link.reply(command)

    # --- lifecycle --------------------------------------------------------------------------

    def load_cache(self) -> int:
        """Open the index kept in the local cache; return how many parcel declarations it holds."""
        self.cache.upgrade()  # a cache an older edge left: indexed once
        n = len(self.index)
        log.info("edge %s: %s parcel declarations in the local cache", self.cfg.edge_id, f"{n:,}")
        # Freeze what start-up built (modules, rules, config) out of the cyclic collector,
        # whose full passes over a big heap would stall every thread (the PLC poll too) and
        # let PLC requests be overwritten before they are read. The index lives in SQLite.
        gc.collect()
        gc.freeze()
        return n

    def start(self) -> None:
        """Start every component (cache, engine, outbox, broker, devices, health).

        Takes the store's lock first (``EdgeBusyError`` if another edge holds it); the PLC link
        starts before the broker and the sync, so a takeover reaches the PLC at once.
        """
        self.lock.acquire(wait=False)
        t0 = time.monotonic()
        self.state.prune(self.clock.now())  # the store is this edge's alone from here
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL_S))
        self.loop.start()
        for confirm in self.engine.replay_inbox():  # read before a restart, not yet handled
            self.loop.submit(confirm)
        self._start_plc()  # PLC events queue for the engine while the cache opens
        t_plc = time.monotonic()
        self.load_cache()
        self.link.start()
        self.availability.start()
        self.link.subscribe(verdict_topic(self.site), self._on_verdict)
        self.publisher.start()
        self._start_devices()
        self._start_sync()
        self.health = HealthServer(self.report, port=self.cfg.health_port)
        self.health.start()
        log.info(
            "edge %s: running (health on port %d); PLC link %.0f ms, all %.0f ms after start",
            self.cfg.edge_id, self.health.port, 1000 * (t_plc - t0), 1000 * (time.monotonic() - t0),
        )  # fmt: skip

    def _start_sync(self) -> None:
        if self.cfg.hub_url is None:
            return
        key = os.environ.get(self.cfg.hub_api_key_env, "")
        if not key:
            log.warning(
                "edge %s: %s is not set; the hub will refuse sync",
                self.cfg.edge_id,
                self.cfg.hub_api_key_env,
            )
        self.sync = HubSync(
            self.cfg.hub_url, key, self.cache, self.loop.submit, self.stop_event,
            verdicts_from=self.state.verdicts_cursor,
        )  # fmt: skip
        self.link.subscribe(sync_notice_topic(self.site), lambda _msg: self._poke_sync())
        self.sync.start()
        self.confirmer = HubConfirmer(self.cfg.hub_url, key, self.outbox, self.stop_event)
        self.confirmer.start()

    def _poke_sync(self) -> None:
        if self.sync is not None:
            self.sync.poke()

    def _start_plc(self) -> None:
        if self._beat is not None:
            self._beat.start()
            self._threads.append(self._beat.thread)
            self._closers.append(self._beat.endpoint.close)
        if isinstance(self.plc_link, PlcProcessLink):  # it holds the store's lock too
            self.plc_link.start(self.lock.fileno())
        else:
            self.plc_link.start()
        if self.plc is not None:
            self._closers.append(self.plc.endpoint.close)

    def _start_devices(self) -> None:
        cfg = self.cfg
        if cfg.checkweigher is not None:
            cw = CheckweigherAdapter(
                endpoint_of(cfg.checkweigher),
                word_order=cfg.checkweigher.word_order,
                clock=self.steady,
                on_state=self._device_event,
                max_repeats=2,  # a 1 g scale division repeats a weight now and then
            )
            self.checkweigher = cw
            self._pollers.append(PollThread(cw, self.loop.submit, poll_s=0.02))
            self._closers.append(cw.endpoint.close)
        if cfg.tunnel_scanner is not None:
            scanner = TunnelScannerAdapter(
                cfg.tunnel_scanner, clock=self.steady, on_state=self._device_event
            )
            scanner.open()
            self._pollers.append(PollThread(scanner, self.loop.submit, poll_s=0.05))
            self._closers.append(scanner.close)
        for poller in self._pollers:
            poller.start()
        if cfg.xray is not None:
            self._pool = ThreadPoolExecutor(max(1, cfg.xray.prescreen_workers), "edge-xray")
            self._xray = XrayAdapter(
                self.link,
                self.site,
                cfg.xray.device_id,
                on_image=self.loop.submit,
                on_state=self._device_event,
                clock=self.steady,
            ).start()

    def _submit_screen(self, image: ImageCaptured, decl: Declaration | None) -> None:
        """Run the pre-screen off the engine thread; its result comes back as an event."""
        if self._pool is None or self._screen is None:
            self.loop.submit(
                XrayScreened(image.item_id, XrayState.PENDING, device_id=image.device_id)
            )
            return
        screen = self._screen

        def work() -> None:
            try:
                self.loop.submit(screen(image, decl))
            except Exception:
                log.exception(
                    "edge %s: pre-screen failed for item %s", self.cfg.edge_id, image.item_id
                )
                self.loop.submit(
                    XrayScreened(image.item_id, XrayState.PENDING, device_id=image.device_id)
                )

        self._pool.submit(work)

    def _on_verdict(self, msg: Message) -> None:
        verdict = self.gate.check(msg.payload)
        if verdict is not None:
            self.loop.submit(verdict)

    def report(self) -> dict[str, Any]:
        """Return the health report: devices, outbox, counters."""
        s = self.engine.stats
        offline = [d for d, up in self.engine.devices.items() if not up]
        down = self._threads_down()
        pending, unsent = self.outbox.counts()
        return {
            "status": "ok" if self.link.connected and not offline and not down else "degraded",
            "edge_id": self.cfg.edge_id,
            "broker_connected": self.link.connected,
            "devices": dict(self.engine.devices),
            "outbox_pending": pending,
            "outbox_unsent": unsent,
            "published": self.publisher.sent,
            "confirmed": self.confirmer.confirmed if self.confirmer else 0,
            "threads_down": down,
            "engine_backlog": self.loop.backlog(),
            "declarations": len(self.index),
            "verdicts": {
                "applied": self.gate.stats.applied,
                "refused": self.gate.stats.refused,
                "late": self.gate.stats.late,
                "ignored": self.gate.stats.ignored,
            },
            "heartbeat": {
                "beats": self.heartbeat.beats,
                "late": self.heartbeat.late,
                "max_gap_ms": round(self.heartbeat.max_gap_s * 1000.0, 1),
            },
            "weighings_missed": self.checkweigher.missed if self.checkweigher else 0,
            "reply_headroom_ms": round(self.plc_link.headroom_ms(), 1),
            "plc_poll_max_gap_ms": round(self.plc_link.max_poll_gap_s * 1000.0, 1),
            "process": self._process(),
            "stats": {
                "requests": s.requests,
                "answered": s.answered,
                "late": s.late,
                "failures": s.failures,
                "by_outcome": dict(s.by_outcome),
            },
        }

    def _threads_down(self) -> list[str]:
        """Name the threads that ended while the edge runs, and an engine stalled for 5 s."""
        if self.stop_event.is_set():
            return []
        named = [("publisher", self.publisher.alive()), ("engine", self.loop.alive(5.0))]
        if self.confirmer is not None:
            named.append(("confirmer", self.confirmer.alive()))
        if self.sync is not None:
            named.append(("sync", self.sync.alive()))
        return [name for name, up in named if not up]

    def _process(self) -> dict[str, Any]:
        """The active process: pid, when it took the lock and first read the PLC (epoch s)."""
        return {
            "pid": os.getpid(),
            "lock_at": self.lock.acquired_at,
            "plc_first_read_at": self.plc_link.first_read_at,
            "lost_confirms": self.plc_link.lost_confirms,
            "plc_link_pid": self.plc_link.pid,
        }

    def stop(self) -> None:
        """Stop every component in reverse order."""
        self.stop_event.set()
        if self.health is not None:
            self.health.stop()
        if self._xray is not None:
            self._xray.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        for poller in self._pollers:
            poller.stop()
        self.plc_link.join()  # its last confirmations journaled, its process ended
        for t in self._threads:
            t.join(5)
        if self.sync is not None:
            self.sync.join()
        self.loop.join()
        self.publisher.join()
        if self.confirmer is not None:
            self.confirmer.join()
        for close in self._closers:
            close()
        self.availability.close()
        self.link.stop()
        self.outbox.close()
        self.state.close()
        self.cache.close()
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
        self.lock.release()
