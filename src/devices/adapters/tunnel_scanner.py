"""Tunnel scanner adapter: STX/ETX frames from a serial or TCP port become ``BarcodeRead``."""

from __future__ import annotations

import logging
from typing import Any

from contracts.codes import strip_aim
from devices.adapters.base import SerialAdapter
from devices.codecs import tunnel
from devices.codecs.base import Garbled
from devices.codecs.tunnel import TunnelFrame
from devices.events import BarcodeRead
from devices.profiles import AimHandling, TunnelScannerProfile

log = logging.getLogger(__name__)


class TunnelScannerAdapter(SerialAdapter):
    """Reads a tunnel scanner's gate results; one ``BarcodeRead`` per item that passed."""

    kind = "tunnel_scanner"

    def __init__(self, profile: TunnelScannerProfile, **options: Any) -> None:
        """See ``SerialAdapter``; ``profile.aim`` decides whether AIM prefixes are kept."""
        super().__init__(profile, **options)
        self.profile = profile
        self.garbled = 0

    def poll(self, timeout_s: float) -> list[BarcodeRead]:
        """Return the reads that arrive within ``timeout_s`` seconds; DeviceUnavailable if down."""
        out: list[BarcodeRead] = []
        frames: list[TunnelFrame | Garbled] = self.bus.read_frames(tunnel.decode, timeout_s)
        if frames:
            self.bus.report_alive()
        for frame in frames:
            if isinstance(frame, Garbled):
                self.garbled += 1
                log.warning(
                    "device %s: garbled tunnel frame skipped (%s): %r",
                    self.device_id,
                    frame.reason,
                    frame.raw[:80],
                )
                continue
            codes = frame.codes
            if self.profile.aim is AimHandling.STRIP:
                codes = tuple(strip_aim(c) for c in codes)
            out.append(
                BarcodeRead(self.device_id, frame.item_id, frame.status, codes, self.clock.now())
            )
        return out
