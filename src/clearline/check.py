"""``clearline check CODE``: what would happen to this parcel on the line now, and why.

The check itself is :mod:`hub.services.parcel_check` (the check page runs the same): the one
decision pipeline (``inspection.pipeline.decide_parcel``) on an index of what the hub
database holds for this code (``hub.importing.loader``), so it is the decision an edge with
the same declarations, statuses, notices and rules would make. What the line would measure
and the check cannot know (weight, X-ray) is assumed and said.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from clearline.settings import Settings
from contracts.clock import SystemClock
from contracts.statuses import XrayState
from hub.db.engine import StoreError, make_engine
from hub.db.migrate import upgrade
from hub.importing.loader import load_index_for
from hub.services.parcel_check import XRAY_CHOICES, ParcelCheck, check_parcel
from hub.web import i18n
from inspection.rules import RulesError, RuleSet, load_rules

_XRAY = XRAY_CHOICES


def check_code(
    code: str,
    db_url: str,
    rules: RuleSet,
    *,
    weight: float | None = None,
    xray: XrayState = XrayState.CLEARED,
) -> ParcelCheck:
    """Decide ``code`` on what the database at ``db_url`` holds; return the check.

    Raises :class:`StoreError` when the database cannot be read.
    """
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        index = load_index_for(engine, code)
    finally:
        engine.dispose()
    return check_parcel(index, code, rules, SystemClock(), weight=weight, xray=xray)


def _print(check: ParcelCheck, console: Console) -> None:
    """Print the explanation for a person, in the terminal's language (codes stay codes)."""
    tr = i18n.translator(i18n.cli_language())
    lines = check.in_words(tr)
    console.print(f"[bold]{escape(lines[0])}[/bold]")
    for line in lines[1:]:
        console.print(escape(line))


def check_command(
    code: str = typer.Argument(..., help="Any code of the parcel: waybill, S10 id, invtNo..."),
    weight: float | None = typer.Option(
        None, "--weight", help="Measured weight in kg (default: the declared gross weight)."
    ),
    xray: str = typer.Option(
        "cleared", "--xray", help="X-ray image to assume: cleared, suspect or none."
    ),
    db: str | None = typer.Option(
        None, "--db", help="Hub database URL (default: CLEARLINE_DATABASE_URL)."
    ),
    rules_path: Path | None = typer.Option(
        None, "--rules", help="Rules YAML (default: CLEARLINE_RULES_PATH, else packaged)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
) -> None:
    """What would happen to this parcel if it reached the line now, with every reason."""
    err = Console(stderr=True)
    if xray not in _XRAY:
        err.print(f"[red]--xray must be one of {', '.join(_XRAY)}[/red]")
        raise typer.Exit(2)
    settings = Settings()
    try:
        rules = load_rules(rules_path or settings.rules_path)
        checked = check_code(
            code, db or settings.database_url, rules, weight=weight, xray=_XRAY[xray]
        )
    except (StoreError, RulesError) as e:
        err.print(f"[red]{escape(str(e))}[/red]")
        raise typer.Exit(1) from e
    if as_json:
        sys.stdout.write(
            json.dumps(checked.as_json(), ensure_ascii=False, indent=2, default=str) + "\n"
        )
    else:
        _print(checked, Console())
