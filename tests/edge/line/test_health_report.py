"""The edge's health report names a thread that ended: an edge that stopped sending is degraded."""

from __future__ import annotations

from pathlib import Path

from edge.config import load_edge_site
from edge.line.runtime import EdgeRuntime
from inspection.rules import load_rules
from tests.edge.line.test_standby import _site_file


def test_a_publisher_not_running_is_reported(tmp_path: Path) -> None:
    """Before its threads run the report names them and says degraded; a running one drops out."""
    site_file, _ = _site_file(tmp_path)
    site = load_edge_site(site_file)
    runtime = EdgeRuntime(site.site, site.edge(None), load_rules(None))
    try:
        report = runtime.report()
        assert report["status"] == "degraded"
        assert "publisher" in report["threads_down"]
        assert report["outbox_unsent"] == report["outbox_pending"] == 0
        assert report["published"] == report["confirmed"] == 0
        runtime.publisher.start()
        assert "publisher" not in runtime.report()["threads_down"]
        runtime.stop_event.set()  # a stopping edge reports no thread as down
        runtime.publisher.join()
        assert runtime.report()["threads_down"] == []
    finally:
        runtime.stop_event.set()
        runtime.state.close()
        runtime.outbox.close()
        runtime.cache.close()
