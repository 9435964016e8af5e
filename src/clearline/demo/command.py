"""``clearline demo``: the whole site on simulators, or a quick decision table (``--table``)."""

from __future__ import annotations

import json
import logging
import shutil
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import typer

from clearline.demo.accounts import Account
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

#: Where the demo's hub listens when no --port is given (interactive runs).
DEFAULT_PORT = 8000


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
    port: int | None = typer.Option(
        None,
        "--port",
        help="Port of the hub's pages and API on 127.0.0.1 (default 8000; with --headless any "
        "free port; 0: any free port).",
    ),
    verbose: bool = typer.Option(
        False, "--verbose", help="Log every part's INFO messages (default: warnings only)."
    ),
) -> None:
    """Run the whole site on simulators: broker, hub, line(s), edge(s) and a demo inspector."""
    rules = load_rules(rules_path or Settings().rules_path)
    if table:
        _table_demo(rules, parcels, seed, workdir, as_json)
        return
    from clearline.demo.site import finish, start_site

    if port is None:
        port = 0 if headless else DEFAULT_PORT
    check_port(port)
    if not verbose:
        quiet_logs()
    config = Path(__file__).resolve().parent / "data" / "demo-site.yaml"
    _check_rate(config, rate, lines)
    run = start_site(
        config,
        rules,
        workdir,
        parcels=parcels,
        seed=seed,
        rate_per_s=rate,
        lines=lines,
        hub_port=port,
    )
    summary = None
    try:
        if not headless:
            _announce(run.hub.url, workdir, run.accounts)
        summary = finish(run, timeout_s=parcels / rate * 3 + 120)
        if as_json:
            sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
        else:
            _print_summary(summary)
        if not headless:  # the banner again, last on stdout: the hub stays up for browsing
            log.info("scenario done; the hub stays up at %s", run.hub.url)
            _announce(run.hub.url, workdir, run.accounts, done=True)
            threading.Event().wait()
    except KeyboardInterrupt:
        log.info("demo stopped")
    finally:
        run.stop()
    if summary is None:
        raise typer.Exit(130)
    if summary["wrong_releases"] or summary["unaccounted"]:
        raise typer.Exit(1)


def _check_rate(config: Path, rate: float, lines: int) -> None:
    """Refuse a ``--rate`` the demo line's belt cannot carry, saying what it can carry."""
    from simulators.line.config import load_site

    site = load_site(config)
    for line in site.lines[:lines]:
        most = line.belt_speed_m_s / line.induction.min_gap_m
        if rate >= most:
            raise typer.BadParameter(
                f"{rate:g} parcels/s is more than the demo line {line.name!r} can carry: its "
                f"belt runs at {line.belt_speed_m_s:g} m/s with at least "
                f"{line.induction.min_gap_m:g} m between parcels, so it takes less than "
                f"{most:.1f} parcels/s. Choose a lower --rate (the line benchmarks, "
                "`clearline bench --only line_latency`, drive an edge at up to 200 parcels/s).",
                param_hint="'--rate'",
            )


def check_port(port: int) -> None:
    """Refuse a port out of range or already taken, in words, before anything starts."""
    if not 0 <= port <= 65535:
        raise typer.BadParameter(f"{port} is not a TCP port (0..65535)", param_hint="--port")
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as err:
            raise typer.BadParameter(
                f"port {port} is in use on 127.0.0.1 ({err.strerror}); "
                "stop what uses it or give another --port",
                param_hint="--port",
            ) from None


def quiet_logs() -> None:
    """Warnings and errors only: the banner stays readable under the parts' chatter."""
    logging.getLogger().setLevel(logging.WARNING)
    for noisy in ("amqtt", "transitions", "httpx", "uvicorn", "paho"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def _announce(hub_url: str, workdir: Path, accounts: list[Account], done: bool = False) -> None:
    """The banner, last on stdout: where to look and who to log in as."""
    from rich.console import Console

    people = "\n".join(
        f"  {a.role:<11} {a.name:<17} {a.password}"
        + (f"  (enterprise {a.enterprise})" if a.enterprise else "")
        for a in accounts
    )
    Console().print(
        ("[bold]Scenario done; the hub stays up[/]" if done else "[bold]Clearline demo running[/]")
        + f" — {hub_url}/\n"
        f"  line page      {hub_url}/lines\n"
        f"  review station {hub_url}/review\n"
        f"  parcel trace   {hub_url}/trace/<parcel code>\n"
        f"  API docs       {hub_url}/docs\n"
        f"log in as (role, user, password):\n{people}\n"
        f"  admin       admin             clearline-dev-admin (dev mode)\n"
        f"files and logs in {workdir}/; Ctrl-C stops the demo.",
        highlight=False,
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
        "late_reviews",
    ):
        table.add_row(key.replace("_", " "), str(summary.get(key)))
    for key, value in summary.get("by_outcome", {}).items():
        table.add_row(f"outcome {key}", str(value))
    for figure, words in (
        ("decision_latency", "scan to reply"),
        ("xray_wait", "wait for the X-ray"),
        ("decision_compute", "decision compute"),
    ):
        for key, value in summary.get(figure, {}).items():
            table.add_row(f"{words} {key}", str(value))
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
