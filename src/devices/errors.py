"""The one exception type of the device layer."""

from __future__ import annotations


class DeviceError(Exception):
    """Base of every device-layer error."""


class DeviceUnavailable(DeviceError):  # noqa: N818 (name fixed by the design)
    """A device cannot be reached or does not answer; the caller must fail safe."""

    def __init__(self, device_id: str, detail: str) -> None:
        super().__init__(f"device {device_id}: {detail}")
        self.device_id = device_id
        self.detail = detail


class ProtocolError(DeviceError):
    """A device answered with bytes that break its protocol."""
