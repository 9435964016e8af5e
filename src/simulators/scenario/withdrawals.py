"""Cases of lists that stop counting after they were filed: cancellations and consumer returns.

A cancelled list (CEB623, answered by CEB624 with returnStatus 800) no longer stands, so its
parcel is not declared; a returned list (CEB625, answered by CEB626 800) gives its value back
to the buyer's annual quota. Expected outcomes follow from the rules and how the documents
were built, never from ``decide()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

from contracts.reasons import Reason
from inspection.model import DocKind, Notice
from simulators.scenario.context import Context
from simulators.scenario.documents import Filed, cbec
from simulators.scenario.model import Case
from simulators.scenario.parcel import Built, parcel

#: Highest share of the per-transaction limit one order of a return group takes.
_TOP_SHARE = Decimal("0.97")


def _notices(filed: Filed, request: str, answer: str) -> list[Notice]:
    """The request for ``filed``'s list and customs' acceptance of it, a day apart."""
    inv = next(d for d in filed.declarations if d.kind is DocKind.INVENTORY)
    at = inv.decl_time
    fields = {"ebpCode": inv.ebp_code, "ebcCode": inv.ebc_code, "customsCode": "2991",
              "logisticsCode": inv.logistics_code, "appType": "1", "appStatus": "2"}  # fmt: skip
    common = {"invt_no": inv.invt_no, "order_no": inv.order_no, "logistics_no": inv.logistics_no}
    reason = "消费者取消订单" if request == "CEB623" else "消费者退货"
    return [
        Notice(request, inv.business_key, **common, info=reason, fields=fields,
               time=at + timedelta(days=1) if at else None),
        Notice(answer, inv.business_key, **common, status="800", info="审核通过", fields=fields,
               time=at + timedelta(days=2) if at else None),
    ]  # fmt: skip


def cancelled(ctx: Context) -> Iterator[Built]:
    """A released list whose cancellation customs accepted: the parcel is not declared."""
    f = cbec(ctx, status=ctx.release_status)
    f.notices = _notices(f, "CEB623", "CEB624")
    yield parcel(ctx, Case.CANCELLED, "accepted", f, [f.code], base=(Reason.NOT_DECLARED,),
                 matched=False)  # fmt: skip


def return_group_size(ctx: Context) -> int:
    """Orders in a consumer-return group: one more than fit the annual limit at the top
    share, so the last one crosses it unless the first one's quota comes back."""
    if ctx.per_tx_cny <= 0 or ctx.annual_cny <= 0:
        return 0
    size = int(ctx.annual_cny / (ctx.per_tx_cny * _TOP_SHARE)) + 1
    return size if size <= 40 else 0


def consumer_return(ctx: Context) -> Iterator[Built]:
    """One buyer's orders that together pass the annual limit; the first was returned
    (CEB625 accepted by CEB626), so its value leaves the running total."""
    size, buyer = return_group_size(ctx), ctx.group_buyer()
    running = Decimal(0)
    for i in range(size):
        share = Decimal(str(round(ctx.rng.uniform(0.88, float(_TOP_SHARE)), 3)))
        f = cbec(ctx, status=ctx.release_status, buyer=buyer, target_cny=ctx.per_tx_cny * share)
        variant = f"order {i + 1}/{size}"
        if i == 0:
            f.notices = _notices(f, "CEB625", "CEB626")
            total = Decimal(0)  # its quota went back: it adds nothing, even to itself
            variant += " returned"
        else:
            running += f.value_cny or Decimal(0)
            total = running
        yield parcel(ctx, Case.CONSUMER_RETURN, variant, f, [f.code], annual_total=total)
