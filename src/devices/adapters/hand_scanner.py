"""Hand or fixed scanner adapter: CR LF lines become ``BarcodeRead`` (item_id 0, manual desk)."""

from __future__ import annotations

import logging
from typing import Any

from contracts.codes import strip_aim
from contracts.statuses import ReadStatus
from devices.adapters.base import SerialAdapter
from devices.codecs.base import Garbled
from devices.codecs.handscan import TRIGGER_OFF, TRIGGER_ON, HandScanCodec, ScanLine
from devices.events import BarcodeRead
from devices.profiles import AimHandling, HandScannerProfile

log = logging.getLogger(__name__)


class HandScannerAdapter(SerialAdapter):
    """Reads a desk scanner; its no-read strings come back as ``ReadStatus.NOREAD``."""

    kind = "hand_scanner"

    def __init__(self, profile: HandScannerProfile, **options: Any) -> None:
        """See ``SerialAdapter``; the codec uses ``profile.no_read_strings``."""
        super().__init__(profile, **options)
        self.profile = profile
        self.codec = HandScanCodec(profile.no_read_strings)
        self.garbled = 0

    def poll(self, timeout_s: float) -> list[BarcodeRead]:
        """Return the reads that arrive within ``timeout_s`` seconds; DeviceUnavailable if down."""
        out: list[BarcodeRead] = []
        lines: list[ScanLine | Garbled] = self.bus.read_frames(self.codec.decode, timeout_s)
        if lines:
            self.bus.report_alive()
        for line in lines:
            if isinstance(line, Garbled):
                self.garbled += 1
                log.warning(
                    "device %s: garbled scanner line skipped (%s)", self.device_id, line.reason
                )
                continue
            codes: tuple[str, ...] = ()
            if line.status is ReadStatus.OK:
                code = line.code
                codes = (strip_aim(code) if self.profile.aim is AimHandling.STRIP else code,)
            out.append(BarcodeRead(self.device_id, 0, line.status, codes, self.clock.now()))
        return out

    def trigger(self, on: bool = True) -> None:
        """Send the serial trigger (``SYN T CR`` to start a read, ``SYN U CR`` to stop)."""
        self.bus.write(TRIGGER_ON if on else TRIGGER_OFF)
