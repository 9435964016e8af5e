"""One sorting line in real time with every device on its real transport (hardware in the loop).

The line model (belt, encoder, sorter PLC) runs on one asyncio loop thread, paced by the
wall clock. On that loop: the PLC and the checkweigher serve Modbus TCP, and the tunnel
scanner serves its frames over TCP. The X-ray machine renders and publishes on its own
thread. Everything the devices send is triggered by the line model:

* at ``scanner_m`` the PLC posts its destination request and the scanner sends the item's
  frame (its printed labels, AIM-prefixed; none → NOREAD, two → MULTI);
* at ``checkweigher_m`` the checkweigher registers take the item's true weight;
* at ``xray_m`` the item's image (from its contents) is queued, then published on
  ``clearline/{site}/xray/{device_id}/image/{item_id}`` as soon as it is rendered.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from contracts.statuses import PlcState
from simulators.faults import FaultProfile
from simulators.line.config import LineConfig, SiteConfig
from simulators.line.model import LineModel
from simulators.line.runner import Endpoint, LineRunner
from simulators.line.tracking import Parcel
from simulators.modbus_sims.checkweigher import CheckweigherRuntime
from simulators.modbus_sims.server import LoopThread
from simulators.modbus_sims.spec import CheckweigherSpec
from simulators.site.feed import FeedError, ParcelFeed, SiteParcel, random_parcels
from simulators.site.results import ItemResult, ResultBook
from simulators.site.scanner import TunnelGate
from simulators.site.spec import SiteFaults, SiteSimError
from simulators.site.xray_worker import XrayWorker
from simulators.xray.contents import ParcelContents

log = logging.getLogger(__name__)
T = TypeVar("T")


class SiteSimulation:
    """One line on simulators, in real time; a context manager that leaves no thread behind.

    ``broker_url=None`` runs without the X-ray machine. ``scenario`` is a folder written by
    ``clearline scenario generate`` (its ``parcels.jsonl`` is inducted in order, then
    induction stops); without it generated parcels are inducted until ``stop()``.
    """

    def __init__(
        self,
        line: LineConfig,
        *,
        site: str,
        broker_url: str | None = "mqtt://127.0.0.1:1883",
        scenario: Path | None = None,
        seed: int = 0,
        faults: SiteFaults | None = None,
        speed: float = 1.0,
    ) -> None:
        """Describe the simulation; nothing listens before ``start()``."""
        self.line = line
        self.site = site
        self.broker_url = broker_url
        self.scenario = scenario
        self.seed = seed
        self.faults = faults or SiteFaults()
        self.speed = speed
        self.book = ResultBook()
        self._truths: dict[int, SiteParcel] = {}
        self._done = threading.Event()
        self._feed: ParcelFeed | None = None
        self._xray: XrayWorker | None = None
        self._loop: LoopThread | None = None
        self._model: LineModel | None = None
        self._runner: LineRunner | None = None
        self._gate: TunnelGate | None = None
        self._stop_event: asyncio.Event | None = None
        self._ticking: asyncio.Task[None] | None = None

    @classmethod
    def from_site(cls, site: SiteConfig, line: str | None = None, **options: Any) -> SiteSimulation:
        """Build the simulation of one line of a site file (the first line by default)."""
        options.setdefault("broker_url", site.broker_url)
        return cls(site.line(line), site=site.site, **options)

    # --- lifecycle ---------------------------------------------------------------------

    def start(self, belt: bool = True) -> SiteSimulation:
        """Open the parcel feed, start the X-ray machine, serve every device, start the belt.

        With ``belt=False`` every device serves but the PLC stays stopped until
        ``start_belt()``, so hosts can connect before the first parcel arrives.
        """
        if self._loop is not None:
            raise SiteSimError(f"site simulation of line {self.line.name} is already running")
        try:
            self._feed = self._open_feed()
        except FeedError as err:
            raise SiteSimError(str(err)) from None
        try:
            if self.broker_url is not None:
                self._xray = XrayWorker(
                    self.line.xray,
                    site=self.site,
                    broker_url=self.broker_url,
                    seed=self.seed,
                    faults=self.faults.xray,
                    on_done=self._imaged,
                ).start()
            self._loop = LoopThread(f"site-{self.line.name}").start()
            self._loop.call(self._start_async(belt))
        except Exception as err:
            self.stop()
            raise SiteSimError(f"line {self.line.name} could not start: {err}") from err
        if not self._feed.more:
            self._done.set()
        log.info(
            "line %s on simulators: plc %s, checkweigher %s, scanner %s, x-ray %s, parcels from %s",
            self.line.name,
            self.plc_port,
            self.checkweigher_port,
            self.scanner_url,
            self.broker_url or "off",
            self._feed.source,
        )
        return self

    def _open_feed(self) -> ParcelFeed:
        """Return the scenario's parcels, or an endless feed of generated ones."""
        if self.scenario is not None:
            return ParcelFeed.from_scenario(self.scenario)
        line = self.line
        weights = (line.parcel_weight_kg_min, line.parcel_weight_kg_max)
        return ParcelFeed(random_parcels(self.seed, weights, line.xray.threat_rate), "random")

    async def _start_async(self, belt: bool) -> None:
        """On the loop: build the model, listen on every endpoint, start the belt."""
        line = self.line
        cw = line.checkweigher
        # a real load cell never repeats itself to the last digit: 0.5 g of noise
        cw_spec = CheckweigherSpec(unit=cw.unit, word_order=cw.word_order, noise_kg=0.0005)
        model = LineModel(
            line,
            seed=self.seed,
            parcel_source=self._source,
            checkweigher=CheckweigherRuntime(cw_spec, self.faults.checkweigher, self.seed),
        )
        model.listeners.append(self._on_event)
        self._model = model
        self._runner = LineRunner(
            model,
            plc_at=Endpoint(line.plc.host, line.plc.port),
            checkweigher_at=Endpoint(line.checkweigher.host, line.checkweigher.port),
            faults=self.faults.modbus,
            seed=self.seed,
            speed=self.speed,
        )
        self._gate = TunnelGate(line.scanner, self.faults.scanner, self.seed + 13)
        await self._gate.start()
        feed = self._feed
        await self._runner.start(induct=feed is not None and feed.more, run=belt)
        self._stop_event = asyncio.Event()
        self._ticking = asyncio.create_task(self._runner.keep_time(self._stop_event))

    def stop(self) -> None:
        """Stop the belt and every device; in-flight images are abandoned. Safe to repeat."""
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.stop(self._stop_async)
        xray, self._xray = self._xray, None
        if xray is not None:
            xray.stop()

    async def _stop_async(self) -> None:
        """On the loop: stop keeping time, unplug the scanner, close the Modbus servers."""
        if self._stop_event is not None:
            self._stop_event.set()
        if self._ticking is not None:
            await asyncio.gather(self._ticking, return_exceptions=True)
        if self._gate is not None:
            await self._gate.stop()
        if self._runner is not None:
            await self._runner.stop()

    def __enter__(self) -> SiteSimulation:
        """Start the simulation (``with sim.start(belt=False):`` works too)."""
        return self if self._loop is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the simulation."""
        self.stop()

    # --- endpoints ---------------------------------------------------------------------

    @property
    def plc_port(self) -> int:
        """Return the PLC's Modbus TCP port."""
        server = self._runner.plc_server if self._runner is not None else None
        return server.port if server is not None else self.line.plc.port

    @property
    def checkweigher_port(self) -> int:
        """Return the checkweigher's Modbus TCP port."""
        server = self._runner.checkweigher_server if self._runner is not None else None
        return server.port if server is not None else self.line.checkweigher.port

    @property
    def scanner_port(self) -> int:
        """Return the tunnel scanner's TCP port."""
        return self._gate.port if self._gate is not None else self.line.scanner.port

    @property
    def scanner_url(self) -> str:
        """Return ``socket://host:port`` of the tunnel scanner (for ``serial_for_url``)."""
        return f"socket://{self.line.scanner.host}:{self.scanner_port}"

    # --- faults and controls -------------------------------------------------------------

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the loop thread (the only safe way to touch the model or devices)."""
        if self._loop is None:
            raise SiteSimError(f"site simulation of line {self.line.name} is not running")
        return self._loop.run_sync(fn)

    def unplug_scanner(self) -> None:
        """Unplug the tunnel scanner: its listener and connections close, frames are lost."""
        gate = self._need_gate()
        assert self._loop is not None
        self._loop.call(gate.stop())

    def plug_scanner(self) -> None:
        """Plug the tunnel scanner back in, on the same port; hosts reconnect to it."""
        gate = self._need_gate()
        assert self._loop is not None
        self._loop.call(gate.start())

    def set_scanner_faults(self, faults: FaultProfile) -> None:
        """Change the tunnel scanner's faults from its next frame on."""
        gate = self._need_gate()
        self.call(lambda: gate.set_faults(faults))

    def set_checkweigher_faults(self, faults: FaultProfile) -> None:
        """Change the checkweigher's faults (e.g. ``stuck_value``) from its next item on."""

        def change() -> None:
            runtime = self._need_model().checkweigher
            if runtime is None:
                raise SiteSimError(f"line {self.line.name} has no checkweigher")
            runtime.set_faults(faults)

        self.call(change)

    def set_rate(self, rate_per_s: float, min_gap_m: float | None = None) -> int:
        """Induct ``rate_per_s`` parcels/s (gap in m) from the next arrival; return items so far."""

        def change() -> int:
            self._need_model().set_induction(rate_per_s * 3600.0, min_gap_m)
            return len(self.book)

        return self.call(change)

    def start_belt(self) -> None:
        """Set a line started with ``belt=False`` running; induction starts at once."""
        feed = self._feed

        def go() -> None:
            model = self._need_model()
            if model.plc.state == PlcState.STOPPED:
                model.start(induct=feed is not None and feed.more)

        self.call(go)

    @property
    def scanner_clients(self) -> int:
        """Return the number of hosts connected to the tunnel scanner now."""
        gate = self._need_gate()
        return self.call(lambda: gate.clients)

    def line_time_s(self) -> float:
        """Return the line model's clock, seconds (simulated time when the speed is not 1)."""
        model = self._need_model()
        return self.call(lambda: model.now)

    def estop(self) -> None:
        """Press the e-stop: belt and induction stop, every tracked item is aborted."""
        self.call(lambda: self._need_model().estop())

    def reset(self) -> None:
        """Clear the e-stop: the belt runs again and induction resumes if parcels are left."""
        feed = self._feed
        self.call(lambda: self._need_model().reset(induct=feed is not None and feed.more))

    def _need_gate(self) -> TunnelGate:
        if self._gate is None or self._loop is None:
            raise SiteSimError(f"site simulation of line {self.line.name} is not running")
        return self._gate

    def _need_model(self) -> LineModel:
        if self._model is None:
            raise SiteSimError(f"site simulation of line {self.line.name} is not running")
        return self._model

    # --- results -------------------------------------------------------------------------

    def results(self) -> list[ItemResult]:
        """Return every inducted item's result so far, in induction order."""
        return self.book.all()

    def write_results(self, path: Path) -> int:
        """Write ``results.jsonl`` to ``path``; return the number of items written."""
        return self.book.write(path)

    def wait_done(self, timeout_s: float) -> bool:
        """Wait until every scenario parcel left the belt and its image went out (seconds).

        Return False on timeout. Never True for generated parcels (their feed is endless).
        """
        if not self._done.wait(timeout_s):
            return False
        xray = self._xray
        return xray is None or xray.wait_idle(timeout_s)

    def slips(self) -> list[tuple[float, float]]:
        """When simulated time slipped (epoch seconds) and the wall seconds held back each time."""
        return [] if self._runner is None else list(self._runner.slip_log)

    def stats(self) -> dict[str, Any]:
        """Return the run's counters (items, scanner frames, images, the PLC's counters)."""
        model, gate, xray = self._model, self._gate, self._xray
        items = self.book.all()
        out: dict[str, Any] = {
            "inducted": len(items),
            "finished": sum(1 for r in items if r.finished),
            "frames_sent": gate.frames_sent if gate is not None else 0,
            "frames_lost": gate.frames_lost if gate is not None else 0,
            "images_published": xray.published if xray is not None else 0,
            "images_failed": xray.failed if xray is not None else 0,
            "images_dropped": xray.dropped if xray is not None else 0,
        }
        if xray is not None and xray.published:
            out["xray_cpu_ms_per_image"] = round(1000.0 * xray.busy_s / xray.published, 1)
        if model is not None:
            s = model.stats
            out.update(
                requests=s.requests,
                answered_in_time=s.answered_in_time,
                no_answer=s.no_answer,
                replies_late=s.replies_late,
                recirculated=s.recirculated,
                aborted=s.aborted,
                lost_track=s.lost_track,
            )
        if self._runner is not None:  # simulated time held back while the host stalled
            out.update(clock_slips=self._runner.slips, slipped_s=round(self._runner.slipped_s, 3))
        if self._feed is not None and self._feed.error is not None:
            out["feed_error"] = str(self._feed.error)
        return out

    # --- what the line model tells us (loop thread) -----------------------------------------

    def _source(self, item_id: int) -> tuple[str, float]:
        """Give the PLC the next parcel: its first label as code, and its true weight."""
        feed = self._feed
        if feed is None:
            raise SiteSimError("no parcel feed")
        parcel = feed.take()
        self._truths[item_id] = parcel
        return (parcel.labels[0] if parcel.labels else ""), parcel.weight_kg

    def _on_event(self, kind: str, parcel: Parcel) -> None:
        """Drive the devices from the line model's events; a device error never stops the belt."""
        try:
            self._dispatch(kind, parcel)
        except Exception:
            log.exception(
                "line %s: handling %s of item %s failed", self.line.name, kind, parcel.item_id
            )

    def _dispatch(self, kind: str, parcel: Parcel) -> None:
        model, item_id = self._model, parcel.item_id
        if model is None:
            return
        now = model.now
        truth = self._truths.get(item_id)
        if truth is None:  # inducted by hand (LineModel.induct with code and weight)
            labels = (parcel.code,) if parcel.code else ()
            truth = SiteParcel(0, labels, parcel.weight_kg, ParcelContents())
            self._truths[item_id] = truth
        if kind == "inducted":
            self.book.inducted(item_id, truth.seq, truth.labels, truth.weight_kg, now)
            feed = self._feed
            if feed is not None and not feed.more:
                model.stop_induction()
        elif kind == "scanned":
            sent = self._gate is not None and self._gate.scan(item_id, truth.labels)
            if sent:
                self.book.update(item_id, scanned_s=round(now, 4), frame_sent=True)
            else:
                self.book.update(item_id, scanned_s=round(now, 4))
        elif kind == "weighed":
            self.book.update(item_id, weighed_s=round(now, 4))
        elif kind == "replied":
            latency_s = parcel.reply_latency_s
            if latency_s is not None:
                self.book.update(item_id, reply_ms=round(latency_s * 1000.0, 3))
        elif kind == "decided":
            self.book.update(item_id, reply_in_time=parcel.answer is not None)
        elif kind == "xray":
            if self._xray is not None:
                self._xray.submit(item_id, truth.contents)
            self.book.update(item_id, imaged_s=round(now, 4))
        elif kind == "finished":
            if parcel.disposition is not None:
                self.book.finished(parcel.disposition, now)
            self._truths.pop(item_id, None)
            feed = self._feed
            if not model.items and feed is not None and not feed.more:
                self._done.set()

    def _imaged(self, item_id: int, published: bool) -> None:
        """The X-ray thread finished an item's image."""
        if published:
            self.book.update(item_id, image_published=True)
