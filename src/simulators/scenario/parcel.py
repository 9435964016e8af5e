"""One built parcel: its physical truth and the decision it must get, from construction.

Expected outcomes come from how a parcel was built: the reasons its case carries, plus what
the scenario knows of the documents it filed (random-selection draw, transaction value,
the buyer's running annual total). ``decide()`` is never called here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from contracts.reasons import Outcome, Reason
from inspection.model import Declaration, Notice, Receipt
from simulators.scenario.context import EXCLUDED_FROM_LEDGER, Context
from simulators.scenario.documents import Filed
from simulators.scenario.model import Case, Expected, ParcelTruth, Route
from simulators.xray.contents import ContentItem, ParcelContents, random_contents


@dataclass(slots=True)
class Built:
    """One parcel as built: truth, expected decision, and the documents filed with it."""

    truth: ParcelTruth
    expected: Expected
    declarations: list[Declaration]
    receipts: list[Receipt]
    notices: list[Notice] = field(default_factory=list)


#: Outcome line of each reason (DESIGN §5 precedence): lower decides first.
_REJECT = frozenset({Reason.NO_READ, Reason.MULTI_READ_CONFLICT, Reason.INVALID_CODE})
_HOLD = frozenset(
    {
        Reason.CUSTOMS_DETAINED,
        Reason.CUSTOMS_SUSPENDED,
        Reason.CUSTOMS_REJECTED,
        Reason.CUSTOMS_PENDING,
        Reason.NOT_DECLARED,
        Reason.DUPLICATE_PARCEL,
        Reason.DECLARATION_CONFLICT,
    }
)


def _line(reason: Reason) -> int:
    if reason in _REJECT:
        return 0
    if reason is Reason.CUSTOMS_RETURN:
        return 1
    return 2 if reason in _HOLD else 3


def outcome_of(reasons: Iterable[Reason]) -> Outcome:
    """Return the outcome the precedence gives for reasons a scenario builds (none: RELEASE)."""
    lines = [_line(r) for r in reasons]
    if not lines:
        return Outcome.RELEASE
    return (Outcome.REJECT, Outcome.RETURN, Outcome.HOLD, Outcome.INSPECT)[min(lines)]


def _extras(ctx: Context, filed: Filed, annual_total: Decimal | None) -> set[Reason]:
    """Reasons the filed documents themselves give: random selection and value limits."""
    found: set[Reason] = set()
    if filed.selected:
        found.add(Reason.RANDOM_SELECTION)
    if filed.route is Route.POSTAL:
        limit = ctx.postal_limit_for(filed.country)
        over = filed.value_cny is not None and filed.value_cny > limit
        if over and not filed.single_item:
            found.add(Reason.VALUE_LIMIT)
    elif filed.route in (Route.IMPORT_9610, Route.IMPORT_1210) and filed.value_cny is not None:
        last = filed.receipts[-1].return_status if filed.receipts else None
        # a single indivisible item customs released passes the per-transaction limit
        excepted = filed.single_item and last == ctx.release_status
        if filed.value_cny > ctx.per_tx_cny and not excepted:
            found.add(Reason.VALUE_LIMIT)
        if annual_total is None:
            annual_total = Decimal(0) if last in EXCLUDED_FROM_LEDGER else filed.value_cny
        if annual_total > ctx.annual_cny:
            found.add(Reason.ANNUAL_LIMIT)
    return found


def parcel(
    ctx: Context,
    case: Case,
    variant: str,
    filed: Filed | None,
    labels: list[str],
    *,
    base: Iterable[Reason] = (),
    matched: bool = True,
    weight_kg: float | None = None,
    threat: ContentItem | None = None,
    file_docs: bool = True,
    duplicate_of: int | None = None,
    annual_total: Decimal | None = None,
) -> Built:
    """Assemble one parcel; ``matched`` says whether its labels find ``filed``."""
    reasons = set(base)
    if filed is not None and matched:
        reasons |= _extras(ctx, filed, annual_total)
    if filed is None:
        items = list(random_contents(ctx.np_rng, threat_rate=0.0).items)
        weight = weight_kg or round(ctx.rng.uniform(0.3, 3.0), 3)
        route = Route.POSTAL if labels and labels[0][-2:].isalpha() else Route.IMPORT_9610
    else:
        items = list(filed.items)
        weight = weight_kg or ctx.true_weight(filed.declared_kg, filed.chapters, inside=True)
        route = filed.route
    if threat is not None:
        items.append(threat)
    contents = ParcelContents(items=tuple(items))
    truth = ParcelTruth(
        seq=ctx.seq,
        labels=tuple(labels),
        weight_kg=weight,
        contents=contents,
        xray_threat=contents.has_threat,
        route=route,
        case=case,
        variant=variant,
        duplicate_of=duplicate_of,
    )
    ordered = tuple(sorted(reasons, key=lambda r: (_line(r), list(Reason).index(r))))
    code = filed.code if filed is not None else (labels[0] if labels else "")
    expected = Expected(
        seq=ctx.seq,
        code=code,
        outcome=outcome_of(reasons),
        reasons=ordered,
        case=case,
        variant=variant,
    )
    docs = filed.declarations if filed is not None and file_docs else []
    receipts = filed.receipts if filed is not None and file_docs else []
    notices = filed.notices if filed is not None and file_docs else []
    return Built(truth, expected, docs, receipts, notices)
