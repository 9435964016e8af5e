"""``clearline import FILE…``: store declaration and receipt files and print the report."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from hub.db.engine import StoreError, make_engine
from hub.importing.importer import FileReport, import_file
from hub.settings import CommonSettings
from hub.web import i18n
from hub.web.file_refusals import file_words
from hub.web.i18n import N_
from hub.web.refusals import record_words
from inspection.masking import scrub

#: Rejections listed per file in the table output (``--json`` lists them all).
SHOWN_REJECTIONS = 20

_COUNTS = (
    "records_read",
    "accepted",
    "rejected",
    "new",
    "updated",
    "unchanged",
    "receipts_applied",
    "receipts_pending",
    "receipts_linked",
)


def totals(reports: list[FileReport]) -> dict[str, Any]:
    """Return the counts of all files added up, plus how many files failed."""
    docs = [r.as_json() for r in reports]
    out: dict[str, Any] = {
        "files": len(reports),
        "files_failed": sum(1 for r in reports if r.error),
    }
    for name in _COUNTS:
        out[name] = sum(int(d[name]) for d in docs)
    return out


@contextmanager
def _progress_bar(console: Console, enabled: bool) -> Iterator[Progress | None]:
    """Yield a rich progress display on a terminal, else ``None``."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        yield progress


def _import_one(engine: Any, path: Path, fmt: str | None, progress: Progress | None) -> FileReport:
    """Import one file, driving a progress bar of bytes read when there is one."""
    if progress is None:
        return import_file(engine, path, claimed_format=fmt)
    size = path.stat().st_size if path.is_file() else 0
    task = progress.add_task(escape(path.name), total=size or None)

    def advance(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    report = import_file(engine, path, claimed_format=fmt, progress=advance)
    progress.update(task, completed=size)
    return report


def _summary(console: Console, reports: list[FileReport]) -> None:
    """Print the per-file table, the rejections and any whole-file errors (in the terminal's
    language: Chinese for a ``zh`` locale, else English)."""
    lang = i18n.cli_language()
    tr = i18n.translator(lang)
    table = Table(title=tr(N_("Import report")))
    columns = (
        N_("file"), N_("format"), N_("read"), N_("new"), N_("updated"), N_("unchanged"),
        N_("rejected"),
    )  # fmt: skip
    for name in columns:
        table.add_column(tr(name), justify="left" if name in ("file", "format") else "right")
    table.add_column(tr(N_("receipts applied / waiting")), justify="right")
    for r in reports:
        table.add_row(
            escape(r.file),
            escape(r.format or "-"),
            str(r.records_read),
            str(r.new),
            str(r.updated),
            str(r.unchanged),
            str(r.rejected),
            f"{r.receipts_applied + r.receipts_linked} / {r.receipts_pending}",
        )
    console.print(table)
    for r in reports:
        doc = r.as_json()
        if r.error:  # worded first, then masked as the JSON report masks it
            with i18n.speaking(lang):
                error = scrub(file_words(r.error, r.file))
            console.print(f"[red]{escape(error)}[/red]")
        for alarm in doc["alarms"]:
            console.print(f"[yellow]  {escape(r.file)}: alarm: {escape(alarm)}[/yellow]")
        for rej in r.rejections[:SHOWN_REJECTIONS]:
            where = tr(N_("record {n}")).format(n=rej.index)
            where += f", {rej.field}" if rej.field else ""
            with i18n.speaking(lang):
                reason = scrub(record_words(rej.reason))
            console.print(f"  {escape(r.file)}: {escape(where)}: {escape(reason)}")
        hidden = len(r.rejections) - SHOWN_REJECTIONS
        if hidden > 0:
            more = tr(N_("… and {n} more rejected records (--json lists them all)"))
            console.print("  " + more.format(n=hidden))


def import_command(
    files: list[Path] = typer.Argument(
        ..., help="Declaration or receipt files: CEB XML, postal JSON/CSV, generic CSV."
    ),
    db: str | None = typer.Option(
        None,
        "--db",
        help="Database URL (sqlite:///PATH or postgresql+psycopg://...); "
        "default: CLEARLINE_DATABASE_URL, else sqlite:///var/clearline.db.",
    ),
    fmt: str | None = typer.Option(
        None,
        "--format",
        help="Refuse files of another format: ceb, CEB621 (any CEB type), postal-json, "
        "postal-csv or generic-csv. Detected from the content when left out.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON document on stdout instead of a table."
    ),
) -> None:
    """Import declarations and customs receipts; exit 2 if any file was rejected whole.

    Run on the hub's host, this is the customs channel: the receipts read set customs
    statuses (over the API only the customs role's do).
    """
    url = db or CommonSettings().database_url
    err_console = Console(stderr=True)
    try:
        from hub.db.migrate import upgrade

        engine = make_engine(url)
        upgrade(engine)
    except StoreError as err:
        err_console.print(f"[red]{escape(str(err))}[/red]")
        raise typer.Exit(1) from err
    reports: list[FileReport] = []
    try:
        with _progress_bar(err_console, err_console.is_terminal and not as_json) as progress:
            for path in files:
                reports.append(_import_one(engine, path, fmt, progress))
    except StoreError as err:
        err_console.print(f"[red]{escape(scrub(str(err)))}[/red]")
        raise typer.Exit(1) from err
    finally:
        engine.dispose()
    if as_json:
        doc = {"files": [r.as_json() for r in reports], "totals": totals(reports)}
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    else:
        _summary(Console(), reports)
    if any(r.error for r in reports):
        raise typer.Exit(2)
