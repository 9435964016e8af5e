"""Serial device profiles: YAML loading, validation, errors naming file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from devices.profiles import (
    AimHandling,
    HandScannerProfile,
    ProfileError,
    ScaleProfile,
    SerialSettings,
    TunnelScannerProfile,
    load_profiles,
    parse_profiles,
)

EXAMPLE = """\
devices:
  - kind: tunnel_scanner
    device_id: tunnel-1
    serial: {port: "socket://10.0.0.21:2001"}
  - kind: hand_scanner
    device_id: desk-1-scanner
    no_read_strings: [NOREAD, ERROR]
    aim: strip
    serial: {port: /dev/ttyUSB0, baudrate: 115200}
  - kind: scale
    device_id: desk-1-scale
    protocol: mt_sics
    unit: kg
    serial:
      port: /dev/ttyUSB1
      bytesize: 7
      parity: E
      stopbits: 1
      read_timeout_ms: 500
"""


def test_example_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "devices.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    tunnel, hand, scale = load_profiles(path)
    assert isinstance(tunnel, TunnelScannerProfile)
    assert tunnel.serial.port == "socket://10.0.0.21:2001"
    assert isinstance(hand, HandScannerProfile)
    assert hand.no_read_strings == ("NOREAD", "ERROR")
    assert hand.aim is AimHandling.STRIP
    assert isinstance(scale, ScaleProfile)
    kwargs = scale.serial.serial_kwargs()
    assert (kwargs["bytesize"], kwargs["parity"], kwargs["stopbits"]) == (7, "E", 1)
    assert kwargs["timeout"] == 0.5


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("      parity: E", "      parity: X"), "x.yaml:17: devices.2.serial.parity"),
        (
            ("      stopbits: 1", "      stopbits: 3"),
            "x.yaml:14: devices.2.serial: Value error, stop",
        ),
        (("    unit: kg", "    unit: kg\n    units: g"), "x.yaml:14: devices.2.units"),
        (("    device_id: tunnel-1", "    device_id: tunnel/1"), "x.yaml:3: devices.0.device_id"),
        (("  - kind: scale", "  - kind: printer"), "x.yaml:10: devices.2"),
        (
            ("device_id: desk-1-scanner", "device_id: tunnel-1"),
            "x.yaml:1: devices: Value error, devices[1].device_id 'tunnel-1' is used twice",
        ),
    ],
)
def test_errors_name_file_line_and_key(change: tuple[str, str], where: str) -> None:
    with pytest.raises(ProfileError) as err:
        parse_profiles(EXAMPLE.replace(*change), "x.yaml")
    assert where in str(err.value)


def test_not_yaml_and_missing_file_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not valid YAML"):
        parse_profiles("devices: [", "bad.yaml")
    with pytest.raises(ProfileError, match="cannot read"):
        load_profiles(tmp_path / "absent.yaml")


def test_settings_refuse_inverted_backoff_and_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="reconnect_max_ms"):
        SerialSettings(port="/dev/ttyS0", reconnect_min_ms=5000, reconnect_max_ms=100)
    with pytest.raises(ValidationError, match="Extra inputs"):
        SerialSettings.model_validate({"port": "/dev/ttyS0", "baud": 9600})


def test_every_field_has_a_title_and_description() -> None:
    for model in (SerialSettings, TunnelScannerProfile, HandScannerProfile, ScaleProfile):
        for name, field in model.model_fields.items():
            assert field.title, f"{model.__name__}.{name} has no title"
            assert field.description, f"{model.__name__}.{name} has no description"
