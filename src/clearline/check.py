"""``clearline check CODE``: what would happen to this parcel on the line now, and why.

The answer comes from the one decision pipeline (``inspection.pipeline.decide_parcel``) on
an index of what the hub database holds for this code (``hub.importing.loader``), so it is
the decision an edge with the same declarations, statuses, notices and rules would make.
What the line would measure and the check cannot know (weight, X-ray) is assumed and said.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from clearline.settings import Settings
from contracts.clock import SystemClock
from contracts.facts import ParcelFacts
from contracts.reasons import REASON_INDEX, Reason
from contracts.statuses import XrayState
from hub.db.engine import StoreError, make_engine
from hub.db.migrate import upgrade
from hub.importing.loader import load_index_for
from hub.web.wording import OUTCOME_WORDS, REASON_WORDS
from inspection.checks import Dossier, is_cbec_retail_import
from inspection.codec import declaration_to_dict
from inspection.index import Entry
from inspection.masking import mask_declaration, scrub
from inspection.model import Declaration, DocKind
from inspection.pipeline import ParcelDecision, decide_parcel
from inspection.rules import RulesError, RuleSet, load_rules

_XRAY = {"cleared": XrayState.CLEARED, "suspect": XrayState.SUSPECT, "none": XrayState.NONE}


@dataclass(frozen=True, slots=True)
class _Check:
    """One check of the decision: its name and the reasons that mean it did not pass."""

    name: str
    reasons: frozenset[Reason]


_CHECKS = (
    _Check("code resolved to one declaration", frozenset(
        {Reason.NO_READ, Reason.INVALID_CODE, Reason.MULTI_READ_CONFLICT, Reason.NOT_DECLARED})),
    _Check("customs status is a release", frozenset(
        {Reason.CUSTOMS_PENDING, Reason.CUSTOMS_REJECTED, Reason.CUSTOMS_INSPECT,
         Reason.CUSTOMS_DETAINED, Reason.CUSTOMS_SUSPENDED, Reason.CUSTOMS_RETURN})),
    _Check("one live list for the parcel", frozenset({Reason.DECLARATION_CONFLICT})),
    _Check("three documents agree", frozenset({Reason.THREE_DOC_MISMATCH})),
    _Check("declared tax", frozenset({Reason.TAX_MISMATCH})),
    _Check("value limits", frozenset({Reason.VALUE_LIMIT, Reason.ANNUAL_LIMIT})),
    _Check("prohibited and restricted goods", frozenset({Reason.PROHIBITED_GOODS})),
    _Check("random selection", frozenset({Reason.RANDOM_SELECTION})),
    _Check("weight", frozenset(
        {Reason.NO_WEIGHT, Reason.UNSTABLE_WEIGHT, Reason.WEIGHT_DEVIATION})),
    _Check("X-ray", frozenset({Reason.XRAY_PENDING, Reason.XRAY_SUSPECT})),
)  # fmt: skip


def _ran(check: _Check, dossier: Dossier | None, rules: RuleSet, xray: XrayState) -> bool:
    """Whether a check ran for this parcel (a check that could not run still ran: it failed)."""
    if check.name.startswith(("code", "weight")):
        return True
    if check.name == "X-ray":
        return rules.source.xray.required or xray is not XrayState.NONE
    if dossier is None:
        return False
    decl = dossier.declaration
    if check.name in ("three documents agree", "declared tax"):
        return is_cbec_retail_import(decl) or (
            check.name == "declared tax" and decl.kind is DocKind.POSTAL
        )
    if check.name == "value limits":
        return is_cbec_retail_import(decl) or decl.kind is DocKind.POSTAL
    return True


def _document(decl: Declaration | None) -> dict[str, Any] | None:
    """A declaration as JSON, masked for a reader who may not see personal data."""
    if decl is None:
        return None
    doc = declaration_to_dict(mask_declaration(decl), with_extra=False)
    return {k: v for k, v in doc.items() if v not in ("", None, [])}


def _facts(weight: float | None, xray: XrayState, assumed: list[str]) -> Any:
    """The line's facts for the parcel: given, or assumed from its declaration."""

    def build(entry: Entry | None) -> ParcelFacts:
        kg = weight
        if kg is None:
            declared = entry.declaration.gross_weight_kg if entry is not None else None
            if declared is not None:
                kg = float(declared)
                assumed.append(
                    f"no --weight given: the declared gross weight {kg:.3f} kg "
                    "is taken as measured, stable"
                )
            else:
                assumed.append("no --weight given and no declared gross weight: not weighed")
        else:
            assumed.append(f"weighed {kg} kg, stable")
        assumed.append(
            f"X-ray image: {xray.value}" if xray is not XrayState.NONE else "no X-ray image"
        )
        assumed.append("not seen on the line before, no inspector hold, on time")
        return ParcelFacts(weight_kg=kg, weight_stable=kg is not None, xray=xray)

    return build


def explain(
    code: str, result: ParcelDecision, rules: RuleSet, xray: XrayState, assumed: list[str]
) -> dict[str, Any]:
    """The check's JSON document: outcome, reasons in words, documents, checks, notes."""
    decision, dossier, entry = result.decision, result.dossier, result.entry
    found = set(decision.reasons)
    checks = []
    for check in _CHECKS:
        ran = _ran(check, dossier, rules, xray)
        hit = sorted(found & check.reasons, key=lambda r: REASON_INDEX[r])
        checks.append(
            {
                "check": check.name,
                "ran": ran,
                "passed": ran and not hit,
                "reasons": [str(r) for r in hit],
            }
        )
    return {
        "code": code,
        "outcome": str(decision.outcome),
        "outcome_words": OUTCOME_WORDS.get(decision.outcome, str(decision.outcome)),
        "reasons": [
            {"code": str(r), "index": REASON_INDEX[r], "words": REASON_WORDS.get(r, str(r))}
            for r in decision.reasons
        ],
        "notes": [scrub(n) for n in decision.notes],
        "rule_set_version": decision.rule_set_version,
        "customs_status": entry.status if entry is not None else None,
        "history": [scrub(h) for h in entry.history] if entry is not None else [],
        "documents": {
            "declaration": _document(dossier.declaration if dossier else None),
            "order": _document(dossier.order if dossier else None),
            "payment": _document(dossier.payment if dossier else None),
            "waybill": _document(dossier.waybill if dossier else None),
            "conflicts": list(dossier.conflicts) if dossier else [],
        },
        "checks": checks,
        "assumed": assumed,
        "failed": result.failed,
    }


def check_code(
    code: str,
    db_url: str,
    rules: RuleSet,
    *,
    weight: float | None = None,
    xray: XrayState = XrayState.CLEARED,
) -> dict[str, Any]:
    """Decide ``code`` on what the database at ``db_url`` holds; return the explanation.

    Raises :class:`StoreError` when the database cannot be read.
    """
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        index = load_index_for(engine, code)
    finally:
        engine.dispose()
    assumed: list[str] = []
    result = decide_parcel(index, [code], _facts(weight, xray, assumed), rules, SystemClock())
    return explain(code, result, rules, xray, assumed)


def _print(doc: dict[str, Any], console: Console) -> None:
    """Print the explanation for a person."""
    console.print(
        f"[bold]{escape(doc['code'])}[/bold]: {doc['outcome']} — {escape(doc['outcome_words'])}"
    )
    for r in doc["reasons"]:
        console.print(f"  • {r['code']}: {escape(r['words'])}")
    for note in doc["notes"]:
        console.print(f"    {escape(note)}")
    decl = doc["documents"]["declaration"]
    if decl is not None:
        console.print(
            f"declaration {escape(decl.get('message_type', ''))} "
            f"{escape(decl.get('business_key', ''))}, customs status "
            f"{doc['customs_status']}"
        )
        for name in ("order", "payment", "waybill"):
            other = doc["documents"][name]
            key = escape(other.get("business_key", "")) if other else "none found"
            console.print(f"  {name}: {key}")
        for key in doc["documents"]["conflicts"]:
            console.print(f"  also declared by {escape(key)}")
    console.print("checks:")
    for c in doc["checks"]:
        state = "did not run" if not c["ran"] else ("passed" if c["passed"] else "FAILED")
        console.print(f"  {c['check']}: {state}")
    for line in doc["assumed"]:
        console.print(f"assumed: {escape(line)}")


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
        doc = check_code(code, db or settings.database_url, rules, weight=weight, xray=_XRAY[xray])
    except (StoreError, RulesError) as e:
        err.print(f"[red]{escape(str(e))}[/red]")
        raise typer.Exit(1) from e
    if as_json:
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n")
    else:
        _print(doc, Console())
