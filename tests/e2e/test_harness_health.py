"""The harness reads an edge's health report whether the edge is healthy or degraded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge.health import HealthServer
from tests.e2e.harness import EdgeProcess


def _edge_beside(report: dict[str, Any], tmp_path: Path) -> tuple[HealthServer, EdgeProcess]:
    """A health server serving ``report`` and an (unstarted) edge process pointed at it."""
    server = HealthServer(lambda: report)
    server.start()
    edge = EdgeProcess(tmp_path / "site.yaml", "key", server.port, tmp_path / "edge.log")
    return server, edge


@pytest.mark.parametrize("status", ["ok", "degraded"])
def test_outbox_count_read_in_either_state(tmp_path: Path, status: str) -> None:
    """A degraded edge answers 503 with its report: the outbox count is still read from it."""
    server, edge = _edge_beside({"status": status, "outbox_pending": 0}, tmp_path)
    try:
        assert edge.outbox_pending() == 0
        report = edge.health()
        assert report is not None and report["status"] == status
    finally:
        server.stop()


def test_no_report_when_nothing_answers(tmp_path: Path) -> None:
    """With no server on the port the harness says so (None), and never a count."""
    server, edge = _edge_beside({"status": "ok", "outbox_pending": 3}, tmp_path)
    server.stop()
    assert edge.health() is None
    assert edge.outbox_pending() is None
