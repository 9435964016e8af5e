"""The serial simulators' commands: help, usage errors, and real runs as processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import typer
from typer.testing import CliRunner

from contracts.statuses import ReadStatus
from devices.adapters.scale import ScaleAdapter
from devices.adapters.tunnel_scanner import TunnelScannerAdapter
from devices.events import BarcodeRead
from devices.profiles import ScaleProfile, SerialSettings, TunnelScannerProfile
from simulators.cli import serial as cli_serial


@pytest.fixture
def app() -> typer.Typer:
    sim = typer.Typer()
    cli_serial.register(sim)
    return sim


@pytest.mark.parametrize("command", ["scanner", "tunnel", "scale"])
def test_each_command_has_help(app: typer.Typer, command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    for option in ("--serial [PATH|URL]", "--seed", "--fault", "--port"):
        assert option in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scale", "--fault", "bogus"], "unknown fault profile"),
        (["scale", "--unit", "stone"], "not kg, g or lb"),
        (["tunnel", "--serial", "--port", "0"], "either --serial or --port"),
        (["scanner", "--codes-file", "/nonexistent/codes.txt"], "cannot read codes"),
        (["scanner", "--bogus"], "unexpected argument"),
    ],
)
def test_bad_options_are_usage_errors(app: typer.Typer, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()).replace("│", "").replace("  ", " ")


def run_cli(*args: str) -> tuple[subprocess.Popen[str], str]:
    """Start a simulator command; return the process and the address it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.cli.serial", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on" in line, line
    return proc, line.split()[-1]


def stop_cli(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    return out


def test_cli_scale_on_a_pty_answers_then_stops_on_sigterm() -> None:
    proc, address = run_cli("scale", "--serial", "--weight-kg", "3.5", "--seed", "4")
    try:
        assert address.startswith("/dev/")
        profile = ScaleProfile(
            kind="scale", device_id="cli-scale", serial=SerialSettings(port=address)
        )
        with ScaleAdapter(profile) as scale:
            assert scale.measure().weight_kg == 3.5
    finally:
        out = stop_cli(proc)
    assert "scale simulator stopped" in out


def test_cli_tunnel_over_tcp_streams_frames() -> None:
    proc, address = run_cli("tunnel", "--port", "0", "--rate", "50", "--fault", "junk")
    try:
        assert address.startswith("socket://127.0.0.1:")
        profile = TunnelScannerProfile(
            kind="tunnel_scanner", device_id="cli-tunnel", serial=SerialSettings(port=address)
        )
        with TunnelScannerAdapter(profile) as scanner:
            reads: list[BarcodeRead] = []
            deadline = time.monotonic() + 5
            while len(reads) < 3 and time.monotonic() < deadline:
                reads += scanner.poll(0.2)
        assert len(reads) >= 3
        assert all(r.status is ReadStatus.OK for r in reads)
    finally:
        stop_cli(proc)
