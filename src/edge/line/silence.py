"""Silent scanner watch: a tunnel scanner connected but sending nothing is reported offline."""

from __future__ import annotations

import logging
from datetime import datetime

from devices.events import DeviceStateChanged

log = logging.getLogger(__name__)


class ScannerWatch:
    """Counts items answered in a row without one frame from the scanner (pure, no clock).

    A scanner whose connection stays up but whose bytes stop (a hung reader, a cut data line
    behind a converter) is otherwise never noticed: after ``after`` such items it is reported
    offline once, and online again with its next frame.
    """

    def __init__(self, device_id: str | None, after: int = 5) -> None:
        """Watch ``device_id`` (None: watch nothing)."""
        self.device_id, self.after = device_id, max(1, after)
        self.unscanned = 0
        self.silent = False

    def heard(self, device_id: str, at: datetime) -> DeviceStateChanged | None:
        """A frame arrived; return the online state to report when the scanner was silent."""
        self.unscanned = 0
        if device_id != self.device_id or not self.silent:
            return None
        self.silent = False
        return DeviceStateChanged(device_id, "tunnel_scanner", True, at, "frames again")

    def answered(
        self, had_frame: bool, online: bool | None, at: datetime
    ) -> DeviceStateChanged | None:
        """An item was answered; return the offline state to report when silence set in."""
        if self.device_id is None or had_frame:
            return None
        self.unscanned += 1
        if self.unscanned != self.after or online is False:
            return None
        self.silent = True
        detail = f"silent: no frame for {self.unscanned} items in a row"
        log.warning("scanner %s %s", self.device_id, detail)
        return DeviceStateChanged(self.device_id, "tunnel_scanner", False, at, detail)
