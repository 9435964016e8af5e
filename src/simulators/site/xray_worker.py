"""The site's X-ray machine: renders each item's image on a worker thread and publishes it.

The line model only hands the item over (``submit`` never blocks), so rendering never
delays the PLC's timing; images go out in the order the items passed the machine, on
``clearline/{site}/xray/{device_id}/image/{item_id}`` (QoS 1), as soon as each is ready.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from devices.errors import DeviceUnavailable
from devices.mqtt_link import LinkSettings, MqttLink
from simulators.faults import FaultProfile
from simulators.line.config import XrayMachineConfig
from simulators.xray.contents import ParcelContents
from simulators.xray.generator import GeneratorConfig, XrayGenerator
from simulators.xray.sim import XraySimSpec, XraySimulator

log = logging.getLogger(__name__)

#: Items waiting for their image before new ones are turned away (counted as dropped).
DEFAULT_QUEUE = 64
#: Longest wait for the broker at start, seconds (the link keeps trying afterwards).
CONNECT_WAIT_S = 2.0

ImageDone = Callable[[int, bool], None]


def generator_config(machine: XrayMachineConfig, seed: int = 0) -> GeneratorConfig:
    """Return the detector geometry of ``machine``: its width, 3/4 as many lines, pitch in mm."""
    width = machine.width_px
    return GeneratorConfig(
        width_px=width,
        height_px=max(64, width * 3 // 4),
        pixel_mm=machine.scan_width_mm / width,
        machine_seed=seed,
    )


def wedge_images(
    machine: XrayMachineConfig, seed: int, steps_mm: dict[str, tuple[float, ...]]
) -> dict[str, tuple[npt.NDArray[np.uint16], npt.NDArray[np.uint16]]]:
    """The step-wedge images (low, high) of the machine ``XrayWorker(machine, seed=seed)`` runs."""
    generator = XrayGenerator(generator_config(machine, seed))
    out = {}
    for base, steps in steps_mm.items():
        image = generator.wedge(base, steps)
        out[base] = (image.low, image.high)
    return out


@dataclass(frozen=True, slots=True)
class _Job:
    item_id: int
    contents: ParcelContents


class XrayWorker:
    """One simulated X-ray machine: a broker link, a generator and one rendering thread."""

    def __init__(
        self,
        machine: XrayMachineConfig,
        *,
        site: str,
        broker_url: str,
        seed: int = 0,
        faults: FaultProfile | None = None,
        on_done: ImageDone | None = None,
        max_queue: int = DEFAULT_QUEUE,
    ) -> None:
        """Prepare the machine; ``on_done(item_id, published)`` is called on the worker thread."""
        self.machine = machine
        self.link = MqttLink(
            LinkSettings(url=broker_url, site=site, kind="xray", device_id=machine.device_id)
        )
        self.generator = XrayGenerator(generator_config(machine, seed))
        spec = XraySimSpec(
            site=site,
            device_id=machine.device_id,
            seed=seed,
            threat_rate=machine.threat_rate,
            png_compression=machine.png_compression,
        )
        self.sim = XraySimulator(spec, self.link, generator=self.generator, fault=faults)
        self.on_done = on_done
        self.published = 0
        self.failed = 0  # broker unreachable or no acknowledgement
        self.dropped = 0  # turned away because the queue was full
        self.busy_s = 0.0  # thread CPU time spent rendering, encoding and publishing
        self._queue: queue.Queue[_Job | None] = queue.Queue(max_queue)
        self._thread = threading.Thread(
            target=self._run, name=f"xray-{machine.device_id}", daemon=True
        )
        self._outage = False

    def start(self) -> XrayWorker:
        """Connect to the broker (waiting briefly) and start the rendering thread."""
        self.link.start()
        try:
            self.link.wait_connected(CONNECT_WAIT_S)
        except DeviceUnavailable as err:
            log.warning("x-ray %s: %s; images wait for the broker", self.machine.device_id, err)
        self._thread.start()
        return self

    def submit(self, item_id: int, contents: ParcelContents) -> bool:
        """Queue the image of ``item_id``; False (and counted as dropped) when the queue is full."""
        try:
            self._queue.put_nowait(_Job(item_id, contents))
        except queue.Full:
            self.dropped += 1
            log.warning("x-ray %s: queue full, item %s not imaged", self.machine.device_id, item_id)
            return False
        return True

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` seconds for every queued image; True when none is left."""
        q = self._queue
        deadline = time.monotonic() + timeout_s
        with q.all_tasks_done:
            while q.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                q.all_tasks_done.wait(left)
        return True

    def stop(self) -> None:
        """Stop after the image in progress (queued ones are abandoned) and close the link."""
        if self._thread.is_alive():
            while True:
                try:
                    self._queue.get_nowait()
                    self._queue.task_done()
                except queue.Empty:
                    break
            self._queue.put(None)
            self._thread.join(10.0)
        self.link.stop()

    def _run(self) -> None:
        """Thread body: image each queued item, in order, until the stop marker."""
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                self._image(job)
            finally:
                self._queue.task_done()

    def _image(self, job: _Job) -> None:
        """Render, encode and publish one image; a broker outage is logged once."""
        started = time.thread_time()
        published = False
        try:
            capture = self.sim.capture(job.item_id, job.contents)
            published = capture.published
            if published:
                self.published += 1
            if self._outage:
                self._outage = False
                log.info("x-ray %s: publishing again", self.machine.device_id)
        except DeviceUnavailable as err:
            self.failed += 1
            if not self._outage:
                self._outage = True
                log.warning("x-ray %s: images not published: %s", self.machine.device_id, err)
        except Exception:
            self.failed += 1
            log.exception("x-ray %s: image of item %s failed", self.machine.device_id, job.item_id)
        finally:
            self.busy_s += time.thread_time() - started
        if self.on_done is not None:
            self.on_done(job.item_id, published)
