"""`clearline demo --headless`: the whole site (hub, broker, line process, edge, inspector)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearline.cli import app


@pytest.mark.slow
def test_headless_demo_matches_expected(tmp_path: Path) -> None:
    """Every parcel accounted for, none wrongly released, every outcome as expected."""
    result = CliRunner().invoke(
        app,
        [
            "--log-level",
            "WARNING",
            "demo",
            "--headless",
            "--json",
            "--parcels",
            "50",
            "--rate",
            "5",
            "--workdir",
            str(tmp_path / "demo"),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["parcels"] == summary["accounted"] == 50
    assert summary["unaccounted"] == 0 and summary["wrong_releases"] == 0
    assert summary["mismatches"] == 0, summary["mismatch_examples"]
    assert summary["decisions_at_hub"] == summary["decisions_made"] == 50
    assert set(summary["by_outcome"]) == {"RELEASE", "INSPECT", "HOLD", "RETURN", "REJECT"}
    assert summary["decision_compute"]["p99_ms"] < 50  # the edge's own work
    # scan → reply holds the conveyor's travel and the wait for the X-ray besides the compute
    assert summary["decision_latency"]["p50_ms"] > summary["decision_compute"]["p50_ms"]
