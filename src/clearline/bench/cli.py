"""``clearline bench``: run the performance suite and print JSON results."""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from pathlib import Path

import typer

from clearline.bench.core import BenchContext, Benchmark, BenchResult

log = logging.getLogger(__name__)


def registry() -> dict[str, Benchmark]:
    """Return every benchmark by name, in the order they run."""
    from clearline.bench import (
        decision,
        edge_restart,
        edge_sync,
        event_ingest,
        hub_scale,
        import_rate,
        line_latency,
        line_model,
        plc_link,
        xray,
        xray_heldout,
    )

    return {
        "import": import_rate.run,
        "decision": decision.run,
        "edge_sync": edge_sync.run,
        "edge_restart": edge_restart.run,
        "line_model": line_model.run,
        "line_latency": line_latency.run,
        "plc_link": plc_link.run,
        "event_ingest": event_ingest.run,
        "hub_scale": hub_scale.run,
        "xray": xray.run,
        "xray_heldout": xray_heldout.run,
    }


#: Result names that ``--only`` also accepts, and the benchmark that measures them.
RESULT_OF: dict[str, str] = {
    "line_scan_to_reply_p99": "line_latency",
    "line_max_sustained_rate": "line_latency",
}


def bench_command(
    only: list[str] = typer.Option([], "--only", help="Run only these benchmarks (repeatable)."),
    scale: float = typer.Option(
        1.0, "--scale", min=0.0001, max=1.0, help="Shrink every workload (1.0 = the real targets)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Also write the JSON results here."),
    as_json: bool = typer.Option(True, "--json/--table", help="JSON on stdout, or a table."),
) -> None:
    """Measure every performance target beside its floor; exit 1 if a target is missed."""
    benches = registry()
    only = [RESULT_OF.get(n, n) for n in only]
    unknown = [n for n in only if n not in benches]
    if unknown:
        raise typer.BadParameter(f"unknown benchmark(s) {unknown}; known: {list(benches)}")
    results: list[BenchResult] = []
    with tempfile.TemporaryDirectory(prefix="clearline-bench-") as tmp:
        ctx = BenchContext(scale=scale, workdir=Path(tmp), progress=lambda m: log.info("%s", m))
        for name, fn in benches.items():
            if only and name not in only:
                continue
            log.info("bench %s (scale %.4g) ...", name, scale)
            results.extend(fn(ctx))
    doc = {
        "scale": scale,
        "all_targets_met": all(r.meets_target for r in results),
        "results": [r.as_json() for r in results],
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
    if as_json:
        sys.stdout.write(text + "\n")
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table("benchmark", "value", "floor", "ratio", "target", "met")
        for r in results:
            table.add_row(
                r.name,
                f"{r.value:.4g} {r.unit}",
                f"{r.floor_value:.4g} ({r.floor_name})",
                f"{r.ratio:.2f}",
                r.target,
                "yes" if r.meets_target else "NO",
            )
        Console().print(table)
    if scale >= 1.0 and not doc["all_targets_met"]:
        raise typer.Exit(1)
