"""``clearline demo``: the whole site on simulators, or a quick decision table (``--table``)."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import typer

from clearline.demo.sample import build_sample
from clearline.settings import Settings
from contracts.clock import SystemClock
from hub.db.engine import create_tables, make_engine
from hub.importing.importer import FileReport, import_file
from hub.importing.loader import load_index
from inspection.index import DeclarationIndex
from inspection.pipeline import decide_parcel
from inspection.rules import load_rules

log = logging.getLogger(__name__)


def _import_all(db_url: str, folder: Path) -> list[FileReport]:
    engine = make_engine(db_url)
    try:
        create_tables(engine)
        return [import_file(engine, path) for path in sorted(folder.iterdir())]
    finally:
        engine.dispose()


def _load_index(db_url: str) -> DeclarationIndex:
    engine = make_engine(db_url)
    try:
        return load_index(engine)
    finally:
        engine.dispose()


def demo_command(
    parcels: int = typer.Option(300, "--parcels", min=12, help="Parcels in the scenario."),
    seed: int = typer.Option(7, "--seed", help="Seed of the generated scenario."),
    rate: float = typer.Option(5.0, "--rate", min=0.5, max=200, help="Parcels per second."),
    lines: int = typer.Option(1, "--lines", min=1, max=2, help="Sorting lines (one edge each)."),
    headless: bool = typer.Option(
        False, "--headless", help="Run the scenario through, print a summary and exit."
    ),
    table: bool = typer.Option(
        False, "--table", help="Only import sample declarations and print a decision table."
    ),
    workdir: Path = typer.Option(Path("var/demo"), "--workdir", help="Where files and DB go."),
    rules_path: Path | None = typer.Option(None, "--rules", help="Rules YAML (default: packaged)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document instead."),
) -> None:
    """Run the whole site on simulators: broker, hub, line(s), edge(s) and a demo inspector."""
    rules = load_rules(rules_path or Settings().rules_path)
    if table:
        _table_demo(rules, parcels, seed, workdir, as_json)
        return
    from clearline.demo.site import finish, start_site

    config = Path(__file__).resolve().parent / "data" / "demo-site.yaml"
    run = start_site(
        config, rules, workdir, parcels=parcels, seed=seed, rate_per_s=rate, lines=lines
    )
    summary = None
    try:
        if not headless:
            _announce(run.hub.url, workdir)
        summary = finish(run, timeout_s=parcels / rate * 3 + 120)
        if as_json:
            sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
        else:
            _print_summary(summary)
        if not headless:
            log.warning(
                "scenario done; the hub stays up at %s for browsing (Ctrl-C stops)", run.hub.url
            )
            threading.Event().wait()
    except KeyboardInterrupt:
        log.info("demo stopped")
    finally:
        run.stop()
    if summary is None:
        raise typer.Exit(130)
    if summary["wrong_releases"] or summary["unaccounted"]:
        raise typer.Exit(1)


def _announce(hub_url: str, workdir: Path) -> None:
    from rich.console import Console

    Console(stderr=True).print(
        f"[bold]Clearline demo running[/]\n"
        f"  line page      {hub_url}/lines\n"
        f"  review station {hub_url}/review\n"
        f"  parcel trace   {hub_url}/trace/<parcel code>\n"
        f"  API docs       {hub_url}/docs\n"
        f"  log in as admin / clearline-dev-admin (dev mode); files in {workdir}/\n"
        f"  Ctrl-C stops the demo."
    )


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("figure", "value", title="Demo run")
    for key in (
        "parcels",
        "accounted",
        "unaccounted",
        "wrong_releases",
        "mismatches",
        "decisions_made",
        "decisions_at_hub",
        "events_at_hub",
        "inspector_verdicts",
    ):
        table.add_row(key.replace("_", " "), str(summary.get(key)))
    for key, value in summary.get("by_outcome", {}).items():
        table.add_row(f"outcome {key}", str(value))
    for key, value in summary.get("decision_latency", {}).items():
        table.add_row(f"decision latency {key}", str(value))
    Console().print(table)


def _table_demo(rules: Any, parcels: int, seed: int, workdir: Path, as_json: bool) -> None:
    """Import a generated sample of declarations and decide example parcels."""
    if workdir.exists():
        shutil.rmtree(workdir)
    folder = workdir / "declarations"
    examples = build_sample(folder, parcels, seed)
    db_url = f"sqlite:///{workdir / 'demo.db'}"
    reports = _import_all(db_url, folder)
    idx = _load_index(db_url)
    clock = SystemClock()
    rows: list[dict[str, Any]] = []
    for ex in examples:
        result = decide_parcel(idx, ex.codes, ex.facts, rules, clock)
        decision, entry = result.decision, result.entry
        rows.append(
            {
                "parcel": ex.label,
                "codes": list(ex.codes),
                "declaration": entry.declaration.business_key if entry else None,
                "outcome": decision.outcome.value,
                "reasons": [r.value for r in decision.reasons],
                "notes": list(decision.notes),
            }
        )
    doc = {
        "rules_version": rules.version,
        "imports": [r.as_json() for r in reports],
        "decisions": rows,
    }
    if as_json:
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        return
    _print(doc, workdir)


def _print(doc: dict[str, Any], workdir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    imports = Table("file", "format", "read", "accepted", "rejected", title="Import")
    for r in doc["imports"]:
        imports.add_row(
            Path(r["file"]).name,
            r["format"],
            str(r["records_read"]),
            str(r["accepted"]),
            str(r["rejected"]),
        )
    console.print(imports)
    colours = {"RELEASE": "green", "INSPECT": "yellow", "HOLD": "magenta", "RETURN": "cyan"}
    table = Table("parcel", "scanned", "outcome", "reasons", "why", title="Decisions")
    for row in doc["decisions"]:
        colour = colours.get(row["outcome"], "red")
        table.add_row(
            row["parcel"],
            "\n".join(row["codes"]) or "(nothing)",
            f"[{colour}]{row['outcome']}[/]",
            "\n".join(row["reasons"]) or "-",
            "\n".join(row["notes"]),
        )
    console.print(table)
    console.print(f"rules {doc['rules_version']}; files and database in {workdir}/")
