"""One edge, wired: devices → engine → PLC, events → outbox → broker, verdicts and sync in.

Components start in dependency order and stop in reverse on one shared stop event.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from contracts.clock import Clock, SystemClock
from contracts.events import EdgeEvent
from contracts.messages import Verdict
from contracts.statuses import XrayState
from contracts.topics import edge_event_topic, sync_notice_topic, verdict_topic
from devices.adapters.base import PollThread
from devices.adapters.checkweigher import CheckweigherAdapter
from devices.adapters.plc import PlcAdapter
from devices.adapters.tunnel_scanner import TunnelScannerAdapter
from devices.adapters.xray import XrayAdapter
from devices.events import ImageCaptured, SendToChute
from devices.modbus_client import ModbusEndpoint
from devices.mqtt_link import LinkSettings, Message, MqttLink
from edge.cache import DeclarationCache
from edge.config import EdgeConfig, ModbusDevice
from edge.confirm import HubConfirmer
from edge.health import HealthServer
from edge.line.engine import LineEngine, XrayScreened
from edge.line.loop import EngineLoop
from edge.line.plc_link import PlcLink
from edge.outbox import Outbox
from edge.publisher import OutboxPublisher
from edge.sync import HubSync
from inspection.model import Declaration
from inspection.rules import RuleSet

log = logging.getLogger(__name__)

Screen = Callable[[ImageCaptured, Declaration | None], XrayScreened]


def _endpoint(dev: ModbusDevice) -> ModbusEndpoint:
    # Modbus TCP frames are delimited by their MBAP header: no quiet time between frames
    return ModbusEndpoint(
        dev.host, dev.port, device_id=dev.device_id, unit=dev.unit,
        timeout_s=dev.timeout_ms / 1000, frame_gap_s=0.0,
    )


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
    ) -> None:
        self.site, self.cfg, self.rules = site, cfg, rules
        self.clock: Clock = clock or SystemClock()
        self.stop_event = threading.Event()
        if screen is None and cfg.xray is not None and cfg.xray.prescreen_workers > 0:
            from edge.line.screening import screener

            screen = screener(cfg.xray.pixel_mm)
        self._screen = screen
        self.cache = DeclarationCache(cfg.store_dir / "cache.db")
        self.outbox = Outbox(cfg.store_dir / "outbox.db")
        self.index = self.cache.reader()
        self._topic = edge_event_topic(site, cfg.edge_id)
        self.link = MqttLink(
            LinkSettings(url=cfg.broker_url, site=site, kind="edge", device_id=cfg.edge_id)
        )
        self.plc = PlcAdapter(_endpoint(cfg.plc), word_order=cfg.plc.word_order, clock=self.clock)
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
        )
        self.loop = EngineLoop(self.engine, self.stop_event)
        self.plc_link = PlcLink(self.plc, self.loop.submit, self.stop_event)
        self.publisher = OutboxPublisher(
            self.outbox, self.link, self.stop_event, confirm=cfg.hub_url is not None
        )
        self._threads: list[threading.Thread] = []
        self._pollers: list[PollThread[Any]] = []
        self._pool: ThreadPoolExecutor | None = None
        self._xray: XrayAdapter | None = None
        self._closers: list[Callable[[], None]] = []
        self.health: HealthServer | None = None
        self.sync: HubSync | None = None
        self.confirmer: HubConfirmer | None = None

    # --- sinks ----------------------------------------------------------------------------

    def _emit(self, event: EdgeEvent) -> None:
        self.outbox.put(str(event.event_id), self._topic, event.model_dump_json().encode())

    def _reply(self, command: SendToChute) -> None:
        # written by the PLC link's thread; one that fails is logged there, and the PLC sends
        # an unanswered item to the reject chute by itself
        self.plc_link.reply(command)

    # --- lifecycle --------------------------------------------------------------------------

    def load_cache(self) -> int:
        """Open the index kept in the local cache; return how many parcel declarations it holds."""
        self.cache.upgrade()  # a cache an older edge left: indexed once
        n = len(self.index)
        log.info("edge %s: %d parcel declarations in the local cache", self.cfg.edge_id, n)
        # Freeze what start-up built (modules, rules, config) out of the cyclic collector,
        # whose full passes over a big heap would stall every thread (the PLC poll too) and
        # let PLC requests be overwritten before they are read. The index lives in SQLite.
        gc.collect()
        gc.freeze()
        return n

    def start(self) -> None:
        """Start every component (cache, engine, outbox, broker, devices, health)."""
        self.load_cache()
        self.loop.start()
        self.link.start()
        self.link.subscribe(verdict_topic(self.site), self._on_verdict)
        self.publisher.start()
        self._start_plc()
        self._start_devices()
        self._start_sync()
        self.health = HealthServer(self.report, port=self.cfg.health_port)
        self.health.start()
        log.info("edge %s: running (health on port %d)", self.cfg.edge_id, self.health.port)

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
        self.sync = HubSync(self.cfg.hub_url, key, self.cache, self.loop.submit, self.stop_event)
        self.link.subscribe(sync_notice_topic(self.site), lambda _msg: self._poke_sync())
        self.sync.start()
        self.confirmer = HubConfirmer(self.cfg.hub_url, key, self.outbox, self.stop_event)
        self.confirmer.start()

    def _poke_sync(self) -> None:
        if self.sync is not None:
            self.sync.poke()

    def _start_plc(self) -> None:
        self.plc_link.start()
        self._threads.append(self.plc_link.thread)
        self._closers.append(self.plc.endpoint.close)

    def _start_devices(self) -> None:
        cfg = self.cfg
        if cfg.checkweigher is not None:
            cw = CheckweigherAdapter(
                _endpoint(cfg.checkweigher),
                word_order=cfg.checkweigher.word_order,
                clock=self.clock,
                on_state=self.loop.submit,
            )
            self._pollers.append(PollThread(cw, self.loop.submit, poll_s=0.02))
            self._closers.append(cw.endpoint.close)
        if cfg.tunnel_scanner is not None:
            scanner = TunnelScannerAdapter(
                cfg.tunnel_scanner, clock=self.clock, on_state=self.loop.submit
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
                on_state=self.loop.submit,
                clock=self.clock,
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
        try:
            self.loop.submit(Verdict.model_validate_json(msg.payload))
        except ValueError as err:
            log.warning("edge %s: bad verdict on %s: %s", self.cfg.edge_id, msg.topic, err)

    def report(self) -> dict[str, Any]:
        """Return the health report: devices, outbox, counters."""
        s = self.engine.stats
        offline = [d for d, up in self.engine.devices.items() if not up]
        return {
            "status": "ok" if self.link.connected and not offline else "degraded",
            "edge_id": self.cfg.edge_id,
            "broker_connected": self.link.connected,
            "devices": dict(self.engine.devices),
            "outbox_pending": self.outbox.pending(),
            "engine_backlog": self.loop.backlog(),
            "declarations": len(self.index),
            "stats": {
                "requests": s.requests,
                "answered": s.answered,
                "late": s.late,
                "failures": s.failures,
                "by_outcome": dict(s.by_outcome),
            },
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
        self.link.stop()
        self.outbox.close()
        self.cache.close()
