"""The in-memory declaration index that answers the edge's per-parcel question fast."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from inspection.checks import Dossier, dutiable_value_cny, is_cbec_retail_import
from inspection.identity import Resolution, normalise, resolve
from inspection.model import PARCEL_KINDS, Declaration, DocKind, Notice
from inspection.rules import RuleSet
from inspection.timezone import china_year

logger = logging.getLogger(__name__)

#: Statuses of a list customs released: only these count towards the buyer's year.
LEDGER_STATUSES = frozenset({800, 899})
#: Statuses under which no purchase happened: the list adds nothing to its own year total.
NO_PURCHASE = frozenset({100, 700})
_Key = tuple[DocKind, str]
#: The accepted receipt each ``listState`` a hub sends with a list stands for.
LIST_STATE_NOTICE = {"cancelled": "CEB624", "returned": "CEB626"}


@dataclass(slots=True)
class Entry:
    """A parcel-level declaration as indexed, with its latest customs status and history."""

    declaration: Declaration
    status: int | None = None
    cancelled: bool = False  # CEB623 accepted (CEB624 800): the list no longer stands
    returned: bool = False  # CEB625 accepted (CEB626 800): the goods went back
    history: list[str] = field(default_factory=list)


def _pair(code: str, number: str) -> tuple[str, str]:
    return (code.strip().upper(), normalise(number)) if number else ("", "")


class DeclarationIndex:
    """Declarations by every code a parcel may carry, with linked documents and a buyer ledger.

    Parcel-level declarations (inventory, export inventory, postal, generic) are found by
    logisticsNo, invtNo, orderNo, copNo or S10 id. Documents are keyed as customs keys them:
    orders and payments by ``ebpCode + orderNo``, waybills by ``logisticsCode + logisticsNo``.
    Adding a document again with the same (kind, business key) replaces it; ``appType`` 3
    withdraws it. Two live parcel declarations sharing a code are a conflict, whatever the
    order they arrived in.
    """

    def __init__(self) -> None:
        self._by_code: dict[str, list[Entry]] = {}
        self._by_key: dict[_Key, Entry] = {}
        self._orders: dict[tuple[str, str], Declaration] = {}
        self._payments: dict[tuple[str, str], Declaration] = {}
        self._waybills: dict[tuple[str, str], Declaration] = {}
        self._statuses: dict[_Key, int] = {}
        self._pending_notices: dict[str, list[Notice]] = {}
        self._ledger: dict[tuple[str, int], list[tuple[datetime | None, str]]] = {}
        #: Negative receipts and other alarms, newest last (the status stays as it was).
        self.alarms: list[str] = []

    def __len__(self) -> int:
        """Return the number of live parcel-level declarations."""
        return len(self._by_key)

    def add(self, decl: Declaration) -> None:
        """Add, replace or (``appType`` 3) withdraw one document."""
        withdraw = decl.extra.get("appType", "").strip() == "3"
        if decl.kind is DocKind.ORDER:
            self._put(self._orders, _pair(decl.ebp_code, decl.order_no), decl, withdraw)
        elif decl.kind is DocKind.PAYMENT:
            self._put(self._payments, _pair(decl.ebp_code, decl.order_no), decl, withdraw)
        elif decl.kind is DocKind.WAYBILL:
            self._put(self._waybills, _pair(decl.logistics_code, decl.logistics_no), decl, withdraw)
        elif decl.kind in PARCEL_KINDS:
            if withdraw:
                self._withdraw((decl.kind, decl.business_key))
            else:
                self._add_parcel(decl)
                state = decl.extra.get("listState", "")
                if state in LIST_STATE_NOTICE:  # the hub's copy carries its accepted notices
                    self.apply_notice(
                        Notice(LIST_STATE_NOTICE[state], decl.business_key, status="800")
                    )

    @staticmethod
    def _put(
        book: dict[tuple[str, str], Declaration],
        key: tuple[str, str],
        decl: Declaration,
        withdraw: bool,
    ) -> None:
        if not key[1]:
            return
        if withdraw:
            book.pop(key, None)
        else:
            book[key] = decl

    def add_all(self, decls: Iterable[Declaration]) -> int:
        """Add many documents; return how many were added."""
        n = 0
        for decl in decls:
            self.add(decl)
            n += 1
        return n

    def _unlink(self, entry: Entry) -> None:
        for code in self._codes(entry.declaration):
            live = self._by_code.get(code)
            if live is None:
                continue
            live[:] = [e for e in live if e is not entry]
            if not live:
                del self._by_code[code]

    def _withdraw(self, key: _Key) -> None:
        entry = self._by_key.pop(key, None)
        if entry is None:
            return
        self._unlink(entry)
        self._drop_from_ledger(entry.declaration)
        logger.info("declaration %s withdrawn", key[1])

    def _add_parcel(self, decl: Declaration) -> None:
        key = (decl.kind, decl.business_key)
        old = self._by_key.get(key)
        entry = Entry(decl, self._statuses.get(key))
        if old is not None:
            self._unlink(old)
            self._drop_from_ledger(old.declaration)
            entry.status, entry.history = old.status, old.history
            entry.cancelled, entry.returned = old.cancelled, old.returned
        self._by_key[key] = entry
        for code in self._codes(decl):
            self._by_code.setdefault(code, []).append(entry)
        for notice in self._pending_notices.pop(decl.business_key, []):
            self._apply(entry, notice)
        if is_cbec_retail_import(decl) and decl.buyer_id_number:
            book = self._ledger.setdefault(
                (normalise(decl.buyer_id_number), china_year(decl.decl_time)), []
            )
            bisect.insort(
                book, (decl.decl_time, decl.business_key), key=lambda b: (_sort_time(b[0]), b[1])
            )

    def _drop_from_ledger(self, decl: Declaration) -> None:
        if not decl.buyer_id_number:
            return
        book = self._ledger.get((normalise(decl.buyer_id_number), china_year(decl.decl_time)))
        if book is not None:
            book[:] = [b for b in book if b[1] != decl.business_key]

    @staticmethod
    def _codes(decl: Declaration) -> list[str]:
        raw = (decl.logistics_no, decl.invt_no, decl.order_no, decl.cop_no)
        codes = list(dict.fromkeys(normalise(c) for c in raw if c))
        if decl.kind in (DocKind.POSTAL, DocKind.GENERIC):
            codes.append(normalise(decl.business_key))
        return codes

    def set_status(self, kind: DocKind, business_key: str, status: int) -> None:
        """Record the latest customs status of a declaration (before or after it arrives).

        A negative status is customs' error about a message: it raises an alarm and leaves
        the declaration's status as it was.
        """
        key = (kind, business_key)
        if status < 0:
            self.alarms.append(f"customs error {status} about {business_key}")
            logger.warning("customs error %s about %s; status unchanged", status, business_key)
            return
        self._statuses[key] = status
        entry = self._by_key.get(key)
        if entry is not None:
            entry.status = status
            entry.history.append(f"customs status {status}")

    def apply_notice(self, notice: Notice) -> None:
        """Keep a notice in its list's history; an accepted cancellation withdraws the list,
        an accepted consumer return gives the buyer's quota back; a CEB900 (a message refused
        by schema) raises an alarm naming that message."""
        if notice.refusal:
            self.alarms.append(notice.refusal)
            logger.warning("%s", notice.refusal)
            return
        entry = self._entry_for(notice)
        if entry is None:
            if notice.business_key:
                self._pending_notices.setdefault(notice.business_key, []).append(notice)
            return
        self._apply(entry, notice)

    def _entry_for(self, notice: Notice) -> Entry | None:
        for kind in (DocKind.INVENTORY, DocKind.EXPORT_INVENTORY):
            entry = self._by_key.get((kind, notice.business_key))
            if entry is not None:
                return entry
        if notice.invt_no:
            for entry in self._by_code.get(normalise(notice.invt_no), []):
                if entry.declaration.invt_no == notice.invt_no:
                    return entry
        return None

    def _apply(self, entry: Entry, notice: Notice) -> None:
        entry.history.append(f"{notice.message_type} {notice.status}".strip())
        if not notice.accepted:
            return
        if notice.message_type == "CEB624":
            entry.cancelled = True
            self._withdraw((entry.declaration.kind, entry.declaration.business_key))
        elif notice.message_type == "CEB626":
            entry.returned = True

    def lookup(self, code: str) -> Entry | None:
        """Return the entry for an already-normalised code (the first one filed), or None."""
        live = self._by_code.get(code)
        return live[0] if live else None

    def resolve(self, codes: Sequence[str]) -> Resolution[Entry]:
        """Resolve the raw codes read on one parcel (see ``inspection.identity.resolve``)."""
        return resolve(codes, self.lookup)

    def conflicts(self, entry: Entry) -> tuple[str, ...]:
        """Business keys of the other live parcel declarations sharing a code with ``entry``."""
        found: dict[str, None] = {}
        for code in self._codes(entry.declaration):
            for other in self._by_code.get(code, []):
                if other is not entry:
                    found[other.declaration.business_key] = None
        return tuple(sorted(found))

    def dossier(self, entry: Entry, rules: RuleSet) -> Dossier:
        """Gather the documents linked to a parcel declaration and its buyer's year total."""
        decl = entry.declaration
        order_key = _pair(decl.ebp_code, decl.order_no)
        order = self._orders.get(order_key)
        payment = self._payments.get(order_key)
        waybill = self._waybills.get(_pair(decl.logistics_code, decl.logistics_no))
        d = Dossier(decl, order, payment, waybill, conflicts=self.conflicts(entry))
        if not is_cbec_retail_import(decl):
            return d
        if not decl.buyer_id_number:
            return replace(d, annual_known=False)
        total = self._year_total(decl, rules)
        return replace(d, annual_total_cny=total, annual_known=total is not None)

    def _year_total(self, decl: Declaration, rules: RuleSet) -> Decimal | None:
        """This list's dutiable value plus the buyer's released lists filed before it that
        year (in declaration-time order); cancelled and returned lists give their quota back."""
        own = dutiable_value_cny(decl, rules)
        if own is None:
            return None
        entry_self = self._by_key.get((decl.kind, decl.business_key))
        gone = entry_self is not None and (
            entry_self.returned or entry_self.status in NO_PURCHASE
        )
        total = Decimal(0) if gone else own
        book = self._ledger.get((normalise(decl.buyer_id_number), china_year(decl.decl_time)), [])
        for _, key in book:
            if key == decl.business_key:
                break
            entry = self._by_key.get((decl.kind, key))
            if entry is None or entry.returned or entry.status not in LEDGER_STATUSES:
                continue
            value = dutiable_value_cny(entry.declaration, rules)
            if value is None:
                return None
            total += value
        return total


def _sort_time(at: datetime | None) -> float:
    return at.timestamp() if at is not None else float("-inf")
