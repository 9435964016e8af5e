"""``clearline scenario generate``: seeded site scenarios with the outcome every parcel must get."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from inspection.rules import RulesError, load_rules
from simulators.scenario import Mix, ScenarioError, Summary, generate, load_mix

scenario_app = typer.Typer(
    name="scenario",
    help="Generate site scenarios: declarations, receipts and the outcome each parcel must get.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Attach the ``scenario`` command group to ``app``."""
    app.add_typer(scenario_app, name="scenario")


def _show(summary: Summary, out: Path) -> None:
    """Print a human summary of a generated scenario."""
    console = Console()
    table = Table(title=f"scenario {out} (seed {summary.seed}, rules {summary.rules_version})")
    table.add_column("case")
    table.add_column("parcels", justify="right")
    for case, n in summary.counts.items():
        table.add_row(case.value, str(n))
    console.print(table)
    outcomes = ", ".join(f"{o.value} {n}" for o, n in summary.outcomes.items())
    console.print(f"expected outcomes: {outcomes}")
    for case, why in summary.skipped.items():
        console.print(f"[yellow]skipped {case.value}[/yellow]: {why}")
    files = ", ".join(f"{name} ({n})" for name, n in summary.files.items())
    console.print(f"files: {files}")


@scenario_app.command("generate")
def generate_command(
    *,
    parcels: int = typer.Option(..., "--parcels", min=1, help="Number of parcels."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed gives identical files."),
    out: Path = typer.Option(..., "--out", help="Folder to write the scenario into."),
    rules_path: Path | None = typer.Option(
        None,
        "--rules",
        envvar="CLEARLINE_RULES_PATH",
        help="Rules file the expected outcomes assume (default: the packaged rules).",
    ),
    mix_path: Path | None = typer.Option(
        None, "--mix", help="YAML/JSON file of case → share (unlisted cases keep defaults)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as one JSON document."),
) -> None:
    """Write declarations, receipts, parcels.jsonl and expected.jsonl for a seeded scenario."""
    try:
        rules = load_rules(rules_path)
        mix = load_mix(mix_path) if mix_path is not None else Mix()
        if json_out or not sys.stderr.isatty():
            summary = generate(parcels, seed, out, rules, mix=mix)
        else:
            columns = (
                TextColumn("parcels"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("parcels", total=parcels)

                def advance(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                summary = generate(parcels, seed, out, rules, mix=mix, progress=advance)
    except (ScenarioError, RulesError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err
    if json_out:
        typer.echo(summary.model_dump_json())
    else:
        _show(summary, out)
