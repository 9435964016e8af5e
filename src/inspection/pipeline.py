"""The one decision pipeline: resolve a parcel's codes, gather its facts and documents, decide.

The line, the manual desk, the demo and the decision benchmark all call ``decide_parcel``.
It fails closed: any exception while resolving, gathering or deciding is logged and ends in
``REJECT`` with ``DEVICE_FAULT``, never in a release.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from contracts.clock import Clock
from contracts.facts import ParcelFacts
from contracts.reasons import Outcome, Reason
from inspection.checks import Dossier
from inspection.decision import Decision, decide
from inspection.identity import normalise
from inspection.index import DeclarationIndex, Entry
from inspection.model import Declaration
from inspection.rules import RuleSet

log = logging.getLogger(__name__)

#: Builds a parcel's facts once its declaration is known (None: nothing matched).
FactsFor = Callable[[Entry | None], ParcelFacts]

#: Note carried by the decision when the pipeline itself failed.
FAILED_NOTE = "decision failed"


@dataclass(frozen=True, slots=True)
class ParcelDecision:
    """A decision with the declaration entry and documents it was made on."""

    decision: Decision
    entry: Entry | None = None
    dossier: Dossier | None = None
    failed: bool = False

    @property
    def declaration(self) -> Declaration | None:
        """Return the matched parcel-level declaration, or None."""
        return self.entry.declaration if self.entry is not None else None


def parcel_code(decl: Declaration) -> str:
    """The code a parcel is known by in events and verdicts (its waybill, else its key)."""
    return normalise(decl.logistics_no or decl.business_key)


def failed_decision(rules: RuleSet | None) -> Decision:
    """Return the fail-closed decision: REJECT with DEVICE_FAULT."""
    version = getattr(rules, "version", None)
    return Decision(
        Outcome.REJECT,
        (Reason.DEVICE_FAULT,),
        version if isinstance(version, str) else "",
        (FAILED_NOTE,),
    )


def decide_parcel(
    index: DeclarationIndex,
    codes: Sequence[str],
    facts: ParcelFacts | FactsFor,
    rules: RuleSet,
    clock: Clock,
) -> ParcelDecision:
    """Resolve ``codes``, gather the documents and facts, and decide; never raises.

    ``facts`` is either the parcel's facts or a function that builds them from the entry the
    codes resolved to (a line or desk adds duplicate, hold and X-ray facts that depend on
    which declaration the parcel is). Code-resolution reasons are added to the facts.
    """
    try:
        res = index.resolve(codes)
        entry = res.entry
        got = facts(entry) if callable(facts) else facts
        if res.reasons:
            got = replace(got, identity_reasons=got.identity_reasons | res.reasons)
        dossier = index.dossier(entry, rules) if entry is not None else None
        status = entry.status if entry is not None else None
        decision = decide(got, dossier, status, rules, clock)
    except Exception:  # any bug or bad data: the parcel must not be released
        log.exception("decision failed for codes %s; rejecting", list(codes)[:4])
        return ParcelDecision(failed_decision(rules), failed=True)
    return ParcelDecision(decision, entry, dossier)
