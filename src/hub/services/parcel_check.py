"""What would happen to a parcel on the line now, and why: the check behind ``clearline check``
and the check page.

The answer comes from the one decision pipeline (``inspection.pipeline.decide_parcel``) on an
index of what the hub database holds for the code (``hub.importing.loader.load_index_for``),
so it is the decision an edge with the same declarations, statuses, notices and rules would
make. What the line would measure and the check cannot know (weight, X-ray) is assumed and
said; each assumption is a message with fields, so a page can say it in its language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contracts.clock import Clock
from contracts.facts import ParcelFacts
from contracts.reasons import REASON_INDEX, Reason
from contracts.statuses import XrayState
from hub.web.i18n import N_
from hub.web.wording import OUTCOME_WORDS, REASON_WORDS
from inspection.checks import Dossier, is_cbec_retail_import
from inspection.codec import declaration_to_dict
from inspection.index import DeclarationIndex, Entry
from inspection.masking import mask_declaration, scrub
from inspection.model import Declaration, DocKind
from inspection.pipeline import ParcelDecision, decide_parcel
from inspection.rules import RuleSet

#: The X-ray image a check may assume, by the word the command line and the page take.
XRAY_CHOICES = {"cleared": XrayState.CLEARED, "suspect": XrayState.SUSPECT, "none": XrayState.NONE}


@dataclass(frozen=True, slots=True)
class CheckKind:
    """One check of the decision: its name and the reasons that mean it did not pass."""

    name: str
    reasons: frozenset[Reason]


CHECKS = (
    CheckKind(N_("code resolved to one declaration"), frozenset(
        {Reason.NO_READ, Reason.INVALID_CODE, Reason.MULTI_READ_CONFLICT, Reason.NOT_DECLARED})),
    CheckKind(N_("customs status is a release"), frozenset(
        {Reason.CUSTOMS_PENDING, Reason.CUSTOMS_REJECTED, Reason.CUSTOMS_INSPECT,
         Reason.CUSTOMS_DETAINED, Reason.CUSTOMS_SUSPENDED, Reason.CUSTOMS_RETURN})),
    CheckKind(N_("one live list for the parcel"), frozenset({Reason.DECLARATION_CONFLICT})),
    CheckKind(N_("three documents agree"), frozenset({Reason.THREE_DOC_MISMATCH})),
    CheckKind(N_("declared tax"), frozenset({Reason.TAX_MISMATCH})),
    CheckKind(N_("value limits"), frozenset({Reason.VALUE_LIMIT, Reason.ANNUAL_LIMIT})),
    CheckKind(N_("prohibited and restricted goods"), frozenset({Reason.PROHIBITED_GOODS})),
    CheckKind(N_("random selection"), frozenset({Reason.RANDOM_SELECTION})),
    CheckKind(N_("weight"), frozenset(
        {Reason.NO_WEIGHT, Reason.UNSTABLE_WEIGHT, Reason.WEIGHT_DEVIATION})),
    CheckKind(N_("X-ray"), frozenset({Reason.XRAY_PENDING, Reason.XRAY_SUSPECT})),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Note:
    """One assumption of the check: a message with ``{field}`` places, and their values."""

    message: str
    values: tuple[tuple[str, str], ...] = ()

    def said(self, tr: Callable[[str], str] = str) -> str:
        """The note in words (``tr`` translates the message before the values go in)."""
        return tr(self.message).format(**dict(self.values))


def _ran(check: CheckKind, dossier: Dossier | None, rules: RuleSet, xray: XrayState) -> bool:
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


def _facts(weight: float | None, xray: XrayState, notes: list[Note]) -> Any:
    """The line's facts for the parcel: given, or assumed from its declaration."""

    def build(entry: Entry | None) -> ParcelFacts:
        kg = weight
        if kg is None:
            declared = entry.declaration.gross_weight_kg if entry is not None else None
            if declared is not None:
                kg = float(declared)
                notes.append(
                    Note(
                        N_(
                            "no weight given: the declared gross weight {kg} kg is taken as "
                            "measured, stable"
                        ),
                        (("kg", f"{kg:.3f}"),),
                    )
                )
            else:
                notes.append(Note(N_("no weight given and no declared gross weight: not weighed")))
        else:
            notes.append(Note(N_("weighed {kg} kg, stable"), (("kg", f"{kg}"),)))
        if xray is XrayState.NONE:
            notes.append(Note(N_("no X-ray image")))
        elif xray is XrayState.SUSPECT:
            notes.append(Note(N_("X-ray image: suspect")))
        else:
            notes.append(Note(N_("X-ray image: cleared")))
        notes.append(Note(N_("not seen on the line before, no inspector hold, on time")))
        return ParcelFacts(weight_kg=kg, weight_stable=kg is not None, xray=xray)

    return build


@dataclass
class ParcelCheck:
    """The outcome of checking one code, with what it was decided on and what was assumed."""

    code: str
    result: ParcelDecision
    rules: RuleSet
    xray: XrayState
    notes: list[Note] = field(default_factory=list)

    def checks(self) -> list[dict[str, Any]]:
        """Each check: its name, whether it ran, whether it passed, the reasons it found."""
        found = set(self.result.decision.reasons)
        out = []
        for check in CHECKS:
            ran = _ran(check, self.result.dossier, self.rules, self.xray)
            hit = sorted(found & check.reasons, key=lambda r: REASON_INDEX[r])
            out.append(
                {
                    "check": check.name,
                    "ran": ran,
                    "passed": ran and not hit,
                    "reasons": [str(r) for r in hit],
                }
            )
        return out

    def in_words(self, tr: Callable[[str], str] = str) -> list[str]:
        """The check as lines a person reads (``tr`` translates; codes stay codes)."""
        doc = self.as_json()
        lines = [f"{doc['code']}: {doc['outcome']} — {tr(doc['outcome_words'])}"]
        lines += [f"  • {r['code']}: {tr(r['words'])}" for r in doc["reasons"]]
        lines += [f"    {note}" for note in doc["notes"]]
        decl = doc["documents"]["declaration"]
        if decl is not None:
            lines.append(
                tr(N_("declaration {type} {key}, customs status {status}")).format(
                    type=decl.get("message_type", ""),
                    key=decl.get("business_key", ""),
                    status=doc["customs_status"],
                )
            )
            for name in (N_("order"), N_("payment"), N_("waybill")):
                other = doc["documents"][name]
                key = other.get("business_key", "") if other else tr(N_("none found"))
                lines.append(f"  {tr(name)}: {key}")
            lines += [
                "  " + tr(N_("also declared by {key}")).format(key=key)
                for key in doc["documents"]["conflicts"]
            ]
        lines.append(tr(N_("checks:")))
        for c in doc["checks"]:
            state = N_("passed") if c["passed"] else N_("FAILED")
            state = state if c["ran"] else N_("did not run")
            lines.append(f"  {tr(c['check'])}: {tr(state)}")
        assumed = tr(N_("assumed:"))
        lines += [f"{assumed} {n.said(tr)}" for n in self.notes]
        return lines

    def as_json(self) -> dict[str, Any]:
        """The check's JSON document (English words): outcome, reasons, documents, checks."""
        decision, dossier, entry = self.result.decision, self.result.dossier, self.result.entry
        return {
            "code": self.code,
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
            "checks": self.checks(),
            "assumed": [n.said() for n in self.notes],
            "failed": self.result.failed,
        }


def check_parcel(
    index: DeclarationIndex,
    code: str,
    rules: RuleSet,
    clock: Clock,
    *,
    weight: float | None = None,
    xray: XrayState = XrayState.CLEARED,
) -> ParcelCheck:
    """Decide ``code`` on ``index`` with ``rules`` as the line would now; never raises."""
    notes: list[Note] = []
    result = decide_parcel(index, [code], _facts(weight, xray, notes), rules, clock)
    return ParcelCheck(code, result, rules, xray, notes)
