"""``/healthz`` and ``/metrics`` of one edge, on a small HTTP server of its own."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Report = Callable[[], dict[str, Any]]


def _metrics_text(report: dict[str, Any]) -> str:
    lines = []
    stats = report.get("stats", {})
    for name in ("requests", "answered", "late", "failures"):
        lines.append(f"# TYPE clearline_edge_{name}_total counter")
        lines.append(f"clearline_edge_{name}_total {stats.get(name, 0)}")
    for outcome, n in (stats.get("by_outcome") or {}).items():
        lines.append(f'clearline_edge_decisions_total{{outcome="{outcome}"}} {n}')
    lines.append("# TYPE clearline_edge_outbox_pending gauge")
    lines.append(f"clearline_edge_outbox_pending {report.get('outbox_pending', 0)}")
    for device, online in (report.get("devices") or {}).items():
        lines.append(f'clearline_edge_device_online{{device="{device}"}} {int(bool(online))}')
    lines.append(f"clearline_edge_declarations {report.get('declarations', 0)}")
    return "\n".join(lines) + "\n"


class HealthServer:
    """Serves the edge's health report as JSON and as Prometheus text."""

    def __init__(self, report: Report, host: str = "127.0.0.1", port: int = 0) -> None:
        def handler_factory(*args: Any) -> BaseHTTPRequestHandler:
            return _Handler(report, *args)

        self._server = ThreadingHTTPServer((host, port), handler_factory)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="edge-health", daemon=True
        )

    def start(self) -> None:
        """Start serving."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    def __init__(self, report: Report, *args: Any) -> None:
        self._report = report
        super().__init__(*args)

    def do_GET(self) -> None:
        report = self._report()
        if self.path == "/healthz":
            body = json.dumps(report).encode()
            code = 200 if report.get("status") == "ok" else 503
            self._send(code, body, "application/json")
        elif self.path == "/metrics":
            self._send(200, _metrics_text(report).encode(), "text/plain; version=0.0.4")
        else:
            self._send(404, b"not found\n", "text/plain")

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: health probes would flood the log."""
