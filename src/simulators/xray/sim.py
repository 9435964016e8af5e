"""The X-ray machine simulator: renders a scan per item and publishes it like the real machine."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import Field

from contracts.config import ConfigModel
from contracts.topics import check_segment, xray_image_topic
from devices.errors import DeviceUnavailable
from devices.mqtt_link import MqttLink
from devices.xray_image import encode_png
from simulators.faults import FaultDice, FaultProfile
from simulators.xray.contents import ParcelContents, random_contents
from simulators.xray.generator import XrayGenerator, XrayScan

logger = logging.getLogger(__name__)


class XraySimSpec(ConfigModel):
    """What the simulated machine is and how it behaves (frozen)."""

    site: str = Field("site1", description="Site id of the topics.")
    device_id: str = Field("xray1", description="Machine id of the topics.")
    seed: int = Field(0, description="Seed of contents, poses, noise and faults.")
    threat_rate: float = Field(
        0.1, ge=0, le=1, description="Share of random parcels with a threat."
    )
    png_compression: int = Field(
        0, ge=0, le=9, description="zlib level of the PNG; 0 decodes fastest, 9 is smallest."
    )


@dataclass(frozen=True, slots=True, eq=False)
class Capture:
    """What happened to one item: its scan, the PNG and whether it went out."""

    item_id: int
    scan: XrayScan
    png: bytes
    published: bool


class XraySimulator:
    """Runtime of one simulated X-ray machine on an ``MqttLink`` it does not own.

    ``FaultProfile`` fields used: ``delay_ms``/``jitter_ms`` (before publishing),
    ``drop_rate`` (image never published), ``disconnect_after`` (cut the broker connection
    after that many published images; the broker then publishes the last will).
    """

    def __init__(
        self,
        spec: XraySimSpec,
        link: MqttLink,
        *,
        generator: XrayGenerator | None = None,
        fault: FaultProfile | None = None,
        out_dir: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Wire the simulator; ``sleep`` is injectable so tests can drive time."""
        check_segment(spec.site, "site")
        check_segment(spec.device_id, "device_id")
        self.spec = spec
        self.link = link
        self.generator = generator or XrayGenerator()
        self.fault = fault or FaultProfile()
        self.out_dir = out_dir
        self._sleep = sleep
        self._dice = FaultDice(self.fault, seed=spec.seed)
        self._published = 0
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)

    def scan_for(self, item_id: int, contents: ParcelContents | None = None) -> XrayScan:
        """Render the scan of ``item_id``: the same item always gets the same image."""
        seed = int(np.random.SeedSequence([self.spec.seed, item_id]).generate_state(1)[0])
        if contents is None:
            rng = np.random.default_rng([self.spec.seed, item_id, 1])
            contents = random_contents(rng, self.spec.threat_rate)
        return self.generator.render(contents, seed)

    def capture(self, item_id: int, contents: ParcelContents | None = None) -> Capture:
        """Scan ``item_id`` and publish its image (QoS 1), applying the fault profile.

        Raise DeviceUnavailable if the broker is unreachable or does not acknowledge.
        """
        scan = self.scan_for(item_id, contents)
        png = encode_png(scan.image, self.spec.png_compression)
        if self.out_dir is not None:
            self._write(self.out_dir, item_id, scan, png)
        if self._dice.hit(self.fault.drop_rate):
            logger.info("fault: image of item %s dropped", item_id)
            return Capture(item_id, scan, png, published=False)
        delay = self._dice.delay_s()
        if delay > 0:
            self._sleep(delay)
        topic = xray_image_topic(self.spec.site, self.spec.device_id, item_id)
        self.link.publish(topic, png, qos=1)
        self._published += 1
        every = self.fault.disconnect_after
        if every is not None and self._published % every == 0:
            logger.info("fault: dropping the broker connection after %s images", self._published)
            self.link.drop_connection()
        return Capture(item_id, scan, png, published=True)

    def run(
        self,
        rate_hz: float,
        stop: threading.Event,
        count: int | None = None,
        first_item_id: int = 1,
    ) -> int:
        """Scan items ``first_item_id, +1, ...`` at ``rate_hz`` items/s until ``stop`` or ``count``.

        Return the number of items scanned. A broker outage skips the item and is retried
        with the next one.
        """
        if rate_hz <= 0:
            raise ValueError(f"rate must be positive items/s, got {rate_hz}")
        period = 1.0 / rate_hz
        done = 0
        item_id = first_item_id
        next_at = time.monotonic()
        while not stop.is_set() and (count is None or done < count):
            try:
                self.capture(item_id)
            except DeviceUnavailable as err:
                logger.warning("image of item %s not published: %s", item_id, err)
            done += 1
            item_id += 1
            next_at += period
            stop.wait(max(0.0, next_at - time.monotonic()))
        return done

    @staticmethod
    def _write(out_dir: Path, item_id: int, scan: XrayScan, png: bytes) -> None:
        """Write ``{item_id}.png`` and ``{item_id}.json`` (ground truth) into ``out_dir``."""
        (out_dir / f"{item_id}.png").write_bytes(png)
        truth = {"item_id": item_id, **scan.truth_json()}
        (out_dir / f"{item_id}.json").write_text(json.dumps(truth, indent=1), "utf-8")
