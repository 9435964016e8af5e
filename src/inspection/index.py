"""The declaration index that answers the edge's per-parcel question fast."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from decimal import Decimal

from inspection.books import Books, Entry, Key, MemoryBooks, Pair
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

__all__ = [
    "LEDGER_STATUSES", "NO_PURCHASE", "DeclarationIndex", "Entry", "order_pair", "parcel_codes",
    "waybill_pair",
]  # fmt: skip


def _pair(code: str, number: str) -> Pair:
    return (code.strip().upper(), normalise(number)) if number else ("", "")


def order_pair(decl: Declaration) -> Pair:
    """The customs key of a list's order and payment: (ebpCode, orderNo)."""
    return _pair(decl.ebp_code, decl.order_no)


def waybill_pair(decl: Declaration) -> Pair:
    """The customs key of a list's waybill: (logisticsCode, logisticsNo)."""
    return _pair(decl.logistics_code, decl.logistics_no)


#: Parcel kinds also found by their business key (an S10 id, a generic row's own key).
_FOUND_BY_KEY = frozenset({DocKind.POSTAL, DocKind.GENERIC})


def parcel_codes(decl: Declaration) -> list[str]:
    """The normalised codes a parcel declaration is found by (each once, in this order)."""
    codes: list[str] = []
    for raw in (decl.logistics_no, decl.invt_no, decl.order_no, decl.cop_no):
        if raw:
            code = normalise(raw)
            if code not in codes:
                codes.append(code)
    if decl.kind in _FOUND_BY_KEY:
        codes.append(normalise(decl.business_key))
    return codes


_DOC_KINDS = (DocKind.ORDER, DocKind.PAYMENT, DocKind.WAYBILL)


class DeclarationIndex:
    """Declarations by every code a parcel may carry, with linked documents and a buyer ledger.

    Parcel-level declarations (inventory, export inventory, postal, generic) are found by
    logisticsNo, invtNo, orderNo, copNo or S10 id. Documents are keyed as customs keys them:
    orders and payments by ``ebpCode + orderNo``, waybills by ``logisticsCode + logisticsNo``.
    Adding a document again with the same (kind, business key) replaces it; ``appType`` 3
    withdraws it. Two live parcel declarations sharing a code are a conflict, whatever the
    order they arrived in. The facts live in ``books`` (in memory unless given; see
    ``inspection.books``); over books another writer keeps, changes only refresh the cache.
    """

    def __init__(self, books: Books | None = None) -> None:
        self._books: Books = books if books is not None else MemoryBooks()
        #: Negative receipts and other alarms, newest last (the status stays as it was).
        self.alarms: list[str] = []

    @property
    def books(self) -> Books:
        """Return the books this index keeps its facts in."""
        return self._books

    def __len__(self) -> int:
        """Return the number of live parcel-level declarations."""
        return self._books.entry_count()

    @property
    def writable(self) -> bool:
        """True when this index keeps its own books; False for a reader of another's."""
        return self._books.writable

    def forget(self) -> None:
        """Drop what a reader holds in memory, so its next read sees the writer's latest page."""
        self._books.changed()

    def _check_writable(self) -> None:
        """Refuse a write to a reader: it would be lost, and a decision would not see it."""
        if not self._books.writable:
            raise RuntimeError(
                "this declaration index reads another's books (the edge's store); write "
                "through that store's writer (edge.cache.DeclarationCache.store)"
            )

    def add(self, decl: Declaration) -> None:
        """Add, replace or (``appType`` 3) withdraw one document."""
        self._check_writable()
        withdraw = decl.extra.get("appType", "").strip() == "3"
        if decl.kind in _DOC_KINDS:
            pair = waybill_pair(decl) if decl.kind is DocKind.WAYBILL else order_pair(decl)
            if not pair[1]:
                return
            if withdraw:
                self._books.drop_doc(decl.kind, pair)
            else:
                self._books.put_doc(decl.kind, pair, decl)
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

    def add_all(self, decls: Iterable[Declaration]) -> int:
        """Add many documents; return how many were added."""
        n = 0
        with self._books.batch():
            for decl in decls:
                self.add(decl)
                n += 1
        return n

    def _unlink(self, key: Key, decl: Declaration) -> None:
        for code in self._codes(decl):
            self._books.unlink_code(code, key)

    def _withdraw(self, key: Key) -> None:
        entry = self._books.entry(key)
        if entry is None:
            return
        self._books.drop_entry(key)
        self._unlink(key, entry.declaration)
        self._drop_from_ledger(entry.declaration)
        logger.info("declaration %s withdrawn", key[1])

    def _add_parcel(self, decl: Declaration) -> None:
        key = (decl.kind, decl.business_key)
        books = self._books
        old = books.entry(key)
        entry = Entry(decl, books.status(key))
        if old is not None:
            self._unlink(key, old.declaration)
            self._drop_from_ledger(old.declaration)
            entry.status, entry.history = old.status, old.history
            entry.cancelled, entry.returned = old.cancelled, old.returned
        books.put_entry(key, entry)
        for code in self._codes(decl):
            books.link_code(code, key)
        for notice in books.take_pending(decl.business_key):
            self._apply(entry, notice)
        if is_cbec_retail_import(decl) and decl.buyer_id_number:
            books.ledger_add(
                normalise(decl.buyer_id_number),
                china_year(decl.decl_time),
                decl.decl_time,
                decl.business_key,
            )

    def _drop_from_ledger(self, decl: Declaration) -> None:
        if decl.buyer_id_number:
            self._books.ledger_drop(
                normalise(decl.buyer_id_number), china_year(decl.decl_time), decl.business_key
            )

    @staticmethod
    def _codes(decl: Declaration) -> list[str]:
        return parcel_codes(decl)

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
        self._check_writable()
        self._books.put_status(key, status)
        entry = self._books.entry(key)
        if entry is not None:
            entry.status = status
            entry.history.append(f"customs status {status}")
            self._books.save_state(key, entry)

    def apply_notice(self, notice: Notice) -> None:
        """Keep a notice in its list's history; an accepted cancellation withdraws the list,
        an accepted consumer return gives the buyer's quota back; a CEB900 (a message refused
        by schema) raises an alarm naming that message."""
        if notice.refusal:
            self.alarms.append(notice.refusal)
            logger.warning("%s", notice.refusal)
        self._check_writable()
        entry = self._entry_for(notice)
        if entry is None:
            if notice.business_key:
                self._books.add_pending(notice.business_key, notice)
            return
        self._apply(entry, notice)

    def _entry_for(self, notice: Notice) -> Entry | None:
        for kind in (DocKind.INVENTORY, DocKind.EXPORT_INVENTORY):
            entry = self._books.entry((kind, notice.business_key))
            if entry is not None:
                return entry
        if notice.invt_no:
            for key in self._books.code_keys(normalise(notice.invt_no)):
                entry = self._books.entry(key)
                if entry is not None and entry.declaration.invt_no == notice.invt_no:
                    return entry
        return None

    def _apply(self, entry: Entry, notice: Notice) -> None:
        decl = entry.declaration
        key = (decl.kind, decl.business_key)
        entry.history.append(f"{notice.message_type} {notice.status}".strip())
        if notice.accepted and notice.message_type == "CEB624":
            entry.cancelled = True
        elif notice.accepted and notice.message_type == "CEB626":
            entry.returned = True
        self._books.save_state(key, entry)
        if entry.cancelled:
            self._withdraw(key)

    def lookup(self, code: str) -> Entry | None:
        """Return the entry for an already-normalised code (the first one filed), or None."""
        for key in self._books.code_keys(code):
            entry = self._books.entry(key)
            if entry is not None:
                return entry
        return None

    def warm(self, codes: Sequence[str]) -> None:
        """Read ahead what deciding a parcel with ``codes`` will need (a store keeps it hot);
        a failure here is only logged (the decision itself fails closed)."""
        try:
            self.resolve(codes)
        except Exception:
            logger.exception("could not read ahead codes %s", list(codes)[:4])

    def resolve(self, codes: Sequence[str]) -> Resolution[Entry]:
        """Resolve the raw codes read on one parcel (see ``inspection.identity.resolve``)."""
        return resolve(codes, self.lookup)

    def conflicts(self, entry: Entry) -> tuple[str, ...]:
        """Business keys of the other live parcel declarations sharing a code with ``entry``."""
        decl = entry.declaration
        own = (decl.kind, decl.business_key)
        found: dict[str, None] = {}
        for code in self._codes(decl):
            for key in self._books.code_keys(code):
                if key != own:
                    found[key[1]] = None
        return tuple(sorted(found))

    def dossier(self, entry: Entry, rules: RuleSet) -> Dossier:
        """Gather the documents linked to a parcel declaration and its buyer's year total."""
        decl = entry.declaration
        order_key = order_pair(decl)
        books = self._books
        order = books.doc(DocKind.ORDER, order_key) if order_key[1] else None
        payment = books.doc(DocKind.PAYMENT, order_key) if order_key[1] else None
        waybill_key = waybill_pair(decl)
        waybill = books.doc(DocKind.WAYBILL, waybill_key) if waybill_key[1] else None
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
        entry_self = self._books.entry((decl.kind, decl.business_key))
        gone = entry_self is not None and (entry_self.returned or entry_self.status in NO_PURCHASE)
        total = Decimal(0) if gone else own
        book = self._books.ledger_keys(normalise(decl.buyer_id_number), china_year(decl.decl_time))
        for key in book:
            if key == decl.business_key:
                break
            entry = self._books.entry((decl.kind, key))
            if entry is None or entry.returned or entry.status not in LEDGER_STATUSES:
                continue
            value = dutiable_value_cny(entry.declaration, rules)
            if value is None:
                return None
            total += value
        return total
