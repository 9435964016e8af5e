"""The in-memory declaration index that answers the edge's per-parcel question fast."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from inspection.checks import Dossier, is_cbec_retail_import, transaction_value_cny
from inspection.identity import Resolution, normalise, resolve
from inspection.model import PARCEL_KINDS, Declaration, DocKind
from inspection.rules import RuleSet

_EXCLUDED_FROM_LEDGER = frozenset({100, 700})  # rejected or returned: no purchase happened


@dataclass(slots=True)
class Entry:
    """A parcel-level declaration as indexed, with its latest customs status."""

    declaration: Declaration
    status: int | None = None


def _year(decl: Declaration) -> int:
    return decl.decl_time.year if decl.decl_time is not None else 0


class DeclarationIndex:
    """Declarations by every code a parcel may carry, with linked documents and a buyer ledger.

    Parcel-level declarations (inventory, export inventory, postal, generic) are found by
    logisticsNo, invtNo, orderNo, copNo or S10 id; orders, payments and waybills are linked
    by orderNo / logisticsNo for the three-document check. Adding a document again with the
    same (kind, business key) replaces it.
    """

    def __init__(self) -> None:
        self._by_code: dict[str, Entry] = {}
        self._by_key: dict[tuple[DocKind, str], Entry] = {}
        self._orders: dict[str, Declaration] = {}
        self._payments: dict[str, Declaration] = {}
        self._waybills: dict[str, Declaration] = {}
        self._statuses: dict[tuple[DocKind, str], int] = {}
        self._ledger: dict[tuple[str, int], list[tuple[datetime | None, str]]] = {}

    def __len__(self) -> int:
        """Return the number of parcel-level declarations."""
        return len(self._by_key)

    def add(self, decl: Declaration) -> None:
        """Add or replace one document."""
        if decl.kind is DocKind.ORDER:
            self._orders[normalise(decl.order_no)] = decl
        elif decl.kind is DocKind.PAYMENT:
            self._payments[normalise(decl.order_no)] = decl
        elif decl.kind is DocKind.WAYBILL:
            self._waybills[normalise(decl.logistics_no)] = decl
        elif decl.kind in PARCEL_KINDS:
            self._add_parcel(decl)

    def add_all(self, decls: Iterable[Declaration]) -> int:
        """Add many documents; return how many were added."""
        n = 0
        for decl in decls:
            self.add(decl)
            n += 1
        return n

    def _add_parcel(self, decl: Declaration) -> None:
        key = (decl.kind, decl.business_key)
        old = self._by_key.get(key)
        entry = Entry(decl, self._statuses.get(key))
        if old is not None:
            for code in self._codes(old.declaration):
                if self._by_code.get(code) is old:
                    del self._by_code[code]
            entry.status = old.status
        self._by_key[key] = entry
        for code in self._codes(decl):
            self._by_code[code] = entry
        if is_cbec_retail_import(decl) and decl.buyer_id_number:
            book = self._ledger.setdefault((normalise(decl.buyer_id_number), _year(decl)), [])
            item = (decl.decl_time, decl.business_key)
            if item not in book:
                if old is not None:
                    book[:] = [b for b in book if b[1] != decl.business_key]
                bisect.insort(book, item, key=lambda b: (b[0] or datetime.min, b[1]))

    @staticmethod
    def _codes(decl: Declaration) -> list[str]:
        raw = (decl.logistics_no, decl.invt_no, decl.order_no, decl.cop_no)
        codes = [normalise(c) for c in raw if c]
        if decl.kind in (DocKind.POSTAL, DocKind.GENERIC):
            codes.append(normalise(decl.business_key))
        return codes

    def set_status(self, kind: DocKind, business_key: str, status: int) -> None:
        """Record the latest customs status of a declaration (before or after it arrives)."""
        key = (kind, business_key)
        self._statuses[key] = status
        entry = self._by_key.get(key)
        if entry is not None:
            entry.status = status

    def lookup(self, code: str) -> Entry | None:
        """Return the entry for an already-normalised code, or None."""
        return self._by_code.get(code)

    def resolve(self, codes: Sequence[str]) -> Resolution[Entry]:
        """Resolve the raw codes read on one parcel (see ``inspection.identity.resolve``)."""
        return resolve(codes, self._by_code.get)

    def dossier(self, entry: Entry, rules: RuleSet) -> Dossier:
        """Gather the documents linked to a parcel declaration and its buyer's year total."""
        decl = entry.declaration
        order_no = normalise(decl.order_no) if decl.order_no else ""
        order = self._orders.get(order_no) if order_no else None
        payment = self._payments.get(order_no) if order_no else None
        waybill = self._waybills.get(normalise(decl.logistics_no)) if decl.logistics_no else None
        d = Dossier(decl, order, payment, waybill)
        if not is_cbec_retail_import(decl):
            return d
        if not decl.buyer_id_number:
            return Dossier(decl, order, payment, waybill, None, annual_known=False)
        total = self._year_total(decl, rules)
        return Dossier(decl, order, payment, waybill, total, annual_known=total is not None)

    def _year_total(self, decl: Declaration, rules: RuleSet) -> Decimal | None:
        book = self._ledger.get((normalise(decl.buyer_id_number), _year(decl)), [])
        total = Decimal(0)
        for _, key in book:
            entry = self._by_key.get((decl.kind, key))
            if entry is None or entry.status in _EXCLUDED_FROM_LEDGER:
                if key == decl.business_key:
                    return total
                continue
            other = entry.declaration
            order = self._orders.get(normalise(other.order_no)) if other.order_no else None
            value = transaction_value_cny(Dossier(other, order), rules)
            if value is None:
                return None
            total += value
            if key == decl.business_key:
                return total
        return total
