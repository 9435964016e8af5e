"""Serial device profiles: pydantic models, one per device kind, chosen by ``kind``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from contracts.config import ConfigModel
from contracts.yamlconf import describe, read_yaml
from devices.errors import DeviceError

_DEVICE_ID = r"^[A-Za-z0-9_.-]{1,64}$"


class ProfileError(DeviceError):
    """A device profile file or value is invalid; the message names the file, line and key."""


class AimHandling(StrEnum):
    """What to do with a code's AIM symbology prefix (``]C1``)."""

    KEEP = "keep"
    STRIP = "strip"


class SerialSettings(ConfigModel):
    """How to open and pace one serial port (a device path, pty or pyserial URL)."""

    port: str = Field(
        min_length=1,
        title="Port",
        description="Device path (/dev/ttyUSB0), pty path, or pyserial URL "
        "(socket://host:port, rfc2217://host:port).",
    )
    baudrate: int = Field(9600, gt=0, le=4_000_000, title="Baud rate", description="Bits/s.")
    bytesize: Literal[5, 6, 7, 8] = Field(
        8, title="Data bits", description="Data bits per character (7 for 7E1 links)."
    )
    parity: Literal["N", "E", "O", "M", "S"] = Field(
        "N", title="Parity", description="N none, E even, O odd, M mark, S space."
    )
    stopbits: float = Field(1, title="Stop bits", description="1, 1.5 or 2.")
    xonxoff: bool = Field(False, title="XON/XOFF", description="Software flow control.")
    rtscts: bool = Field(False, title="RTS/CTS", description="Hardware flow control.")
    read_timeout_ms: int = Field(
        1000, ge=1, le=60_000, title="Read timeout", description="Longest wait for a reply, ms."
    )
    write_timeout_ms: int = Field(
        1000, ge=1, le=60_000, title="Write timeout", description="Longest wait to send, ms."
    )
    inter_frame_gap_ms: float = Field(
        5.0, ge=0, le=1000, title="Inter-frame gap", description="Quiet time between frames, ms."
    )
    reconnect_min_ms: int = Field(
        500, ge=1, title="First reconnect delay", description="Wait before the first retry, ms."
    )
    reconnect_max_ms: int = Field(
        3_000, ge=1, title="Longest reconnect delay", description="Back-off ceiling, ms."
    )

    @model_validator(mode="after")
    def _backoff_order(self) -> SerialSettings:
        """Refuse a back-off ceiling below its start, and stop bits other than 1, 1.5, 2."""
        if self.stopbits not in {1, 1.5, 2}:
            raise ValueError(f"stopbits must be 1, 1.5 or 2, not {self.stopbits}")
        if self.reconnect_max_ms < self.reconnect_min_ms:
            raise ValueError("reconnect_max_ms must be at least reconnect_min_ms")
        return self

    def serial_kwargs(self) -> dict[str, Any]:
        """Return the keyword arguments for ``serial.serial_for_url`` (timeouts in seconds)."""
        return {
            "baudrate": self.baudrate,
            "bytesize": self.bytesize,
            "parity": self.parity,
            "stopbits": self.stopbits,
            "xonxoff": self.xonxoff,
            "rtscts": self.rtscts,
            "timeout": self.read_timeout_ms / 1000.0,
            "write_timeout": self.write_timeout_ms / 1000.0,
        }


class _Device(ConfigModel):
    """Fields every serial device profile has."""

    device_id: str = Field(
        pattern=_DEVICE_ID,
        title="Device id",
        description="Unique id on the site; letters, digits, '_', '.', '-' (used in topics).",
    )
    serial: SerialSettings = Field(title="Serial port", description="Port and line settings.")


class TunnelScannerProfile(_Device):
    """A tunnel scanner on the sorter sending ``STX item_id;status;codes ETX`` frames."""

    kind: Literal["tunnel_scanner"] = Field(title="Kind", description="Device kind.")
    aim: AimHandling = Field(
        AimHandling.KEEP, title="AIM prefix", description="Keep or strip ']Xn' on each code."
    )
    item_id_width: int = Field(
        6, ge=1, le=10, title="Item id width", description="Digits the scanner pads item ids to."
    )


class HandScannerProfile(_Device):
    """A hand or fixed scanner at a manual desk: one code per CR LF line."""

    kind: Literal["hand_scanner"] = Field(title="Kind", description="Device kind.")
    no_read_strings: tuple[str, ...] = Field(
        ("NOREAD",),
        title="No-read strings",
        description="Lines the scanner sends when it read nothing (NOREAD, ERROR, NR, ...).",
    )
    aim: AimHandling = Field(
        AimHandling.KEEP, title="AIM prefix", description="Keep or strip ']Xn' on each code."
    )


class ScaleProfile(_Device):
    """A static scale speaking MT-SICS, or streaming Toledo continuous output."""

    kind: Literal["scale"] = Field(title="Kind", description="Device kind.")
    protocol: Literal["mt_sics", "toledo_continuous"] = Field(
        "mt_sics", title="Protocol", description="MT-SICS request/reply or Toledo continuous."
    )
    unit: Literal["kg", "g", "lb"] = Field(
        "kg", title="Unit", description="Unit the scale sends; a reply in another unit is refused."
    )
    weigh_command: Literal["S", "SI"] = Field(
        "S", title="Weigh command", description="S waits for a stable weight, SI answers at once."
    )
    reply_timeout_ms: int = Field(
        3000, ge=1, le=60_000, title="Reply timeout", description="Longest wait for a reply, ms."
    )
    retries: int = Field(
        2, ge=0, le=10, title="Retries", description="Extra attempts after a lost or bad reply."
    )
    toledo_checksum: bool = Field(
        True, title="Toledo checksum", description="Continuous frames end with a checksum byte."
    )


SerialDeviceProfile = Annotated[
    TunnelScannerProfile | HandScannerProfile | ScaleProfile, Field(discriminator="kind")
]


class SerialDevicesFile(ConfigModel):
    """A YAML file listing the serial devices of one line."""

    devices: tuple[SerialDeviceProfile, ...] = Field(
        title="Devices", description="Every serial device of the line."
    )

    @field_validator("devices")
    @classmethod
    def _unique_ids(
        cls, devices: tuple[SerialDeviceProfile, ...]
    ) -> tuple[SerialDeviceProfile, ...]:
        """Refuse two devices with one id."""
        seen: dict[str, int] = {}
        for index, device in enumerate(devices):
            if device.device_id in seen:
                raise ValueError(
                    f"devices[{index}].device_id {device.device_id!r} is used twice "
                    f"(first at devices[{seen[device.device_id]}])"
                )
            seen[device.device_id] = index
        return devices


_FILE = TypeAdapter(SerialDevicesFile)


def parse_profiles(text: str, source: str = "<string>") -> tuple[SerialDeviceProfile, ...]:
    """Parse a YAML device file; ProfileError names the source, the line and the key."""
    data, root = read_yaml(text, source, ProfileError)
    try:
        return _FILE.validate_python(data).devices
    except ValidationError as err:
        # the discriminated union adds the kind's tag to the location: not a key of the file
        lines = describe(err, root, source, skip=("tunnel_scanner", "hand_scanner", "scale"))
        raise ProfileError("invalid device profile:\n" + "\n".join(lines)) from err


def load_profiles(path: Path) -> tuple[SerialDeviceProfile, ...]:
    """Read and parse a YAML device file (see ``parse_profiles``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ProfileError(f"{path}: cannot read: {err}") from err
    return parse_profiles(text, str(path))
