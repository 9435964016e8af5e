"""Where a declaration index keeps what it knows: in memory here, or in a store of the edge's.

:class:`~inspection.index.DeclarationIndex` holds the customs logic (codes, links, conflicts,
withdrawals, notices, the buyer's ledger) and keeps its facts in a :class:`Books`. The
in-memory :class:`MemoryBooks` is the default; the edge keeps its books in SQLite
(``edge/store.py``), so a million declarations need neither the memory nor a reload.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from inspection.model import Declaration, DocKind, Notice

#: A parcel declaration's identity: its kind and business key.
Key = tuple[DocKind, str]
#: A linked document's customs key: (ebpCode, orderNo) or (logisticsCode, logisticsNo).
Pair = tuple[str, str]


@dataclass(slots=True)
class Entry:
    """A parcel-level declaration as indexed, with its latest customs status and history."""

    declaration: Declaration
    status: int | None = None
    cancelled: bool = False  # CEB623 accepted (CEB624 800): the list no longer stands
    returned: bool = False  # CEB625 accepted (CEB626 800): the goods went back
    history: list[str] = field(default_factory=list)


class Books(Protocol):
    """The facts of a declaration index; every method reads or writes one kind of fact.

    ``writable`` False: another writer keeps these books (the edge's sync thread); the
    index then only calls :meth:`changed` so that nothing it cached stays stale.
    """

    writable: bool

    def batch(self) -> AbstractContextManager[None]:
        """Context in which many writes are done at once (one transaction in a store)."""
        ...

    def changed(self) -> None:
        """Forget anything cached: another writer changed the books."""
        ...

    def entry(self, key: Key) -> Entry | None:
        """Return the live parcel entry under ``key``, or None."""
        ...

    def put_entry(self, key: Key, entry: Entry) -> None:
        """Store a parcel entry (declaration and state), replacing any under ``key``."""
        ...

    def save_state(self, key: Key, entry: Entry) -> None:
        """Store an entry's status, flags and history after they changed."""
        ...

    def drop_entry(self, key: Key) -> None:
        """Forget the entry under ``key``."""
        ...

    def entry_count(self) -> int:
        """Return how many live parcel entries there are."""
        ...

    def code_keys(self, code: str) -> list[Key]:
        """Return the keys of the live parcel entries a normalised code names, in filing order."""
        ...

    def link_code(self, code: str, key: Key) -> None:
        """File ``key`` under ``code`` (after any already there)."""
        ...

    def unlink_code(self, code: str, key: Key) -> None:
        """Remove ``key`` from under ``code``."""
        ...

    def doc(self, kind: DocKind, pair: Pair) -> Declaration | None:
        """Return the order, payment or waybill under its customs key, or None."""
        ...

    def put_doc(self, kind: DocKind, pair: Pair, decl: Declaration) -> None:
        """Store (or replace) an order, payment or waybill."""
        ...

    def drop_doc(self, kind: DocKind, pair: Pair) -> None:
        """Forget an order, payment or waybill."""
        ...

    def status(self, key: Key) -> int | None:
        """Return the latest customs status recorded for ``key`` (arrived or not), or None."""
        ...

    def put_status(self, key: Key, status: int) -> None:
        """Record the latest customs status for ``key``."""
        ...

    def add_pending(self, business_key: str, notice: Notice) -> None:
        """Keep a notice whose list has not arrived yet."""
        ...

    def take_pending(self, business_key: str) -> list[Notice]:
        """Return and forget the notices kept for a list."""
        ...

    def ledger_keys(self, buyer: str, year: int) -> list[str]:
        """Return the buyer's lists of a China year, in declaration-time order."""
        ...

    def ledger_add(self, buyer: str, year: int, at: datetime | None, business_key: str) -> None:
        """File a list in its buyer's year."""
        ...

    def ledger_drop(self, buyer: str, year: int, business_key: str) -> None:
        """Remove a list from its buyer's year."""
        ...


def sort_time(at: datetime | None) -> float:
    """The ledger's order of a declaration time (an unknown time first)."""
    return at.timestamp() if at is not None else float("-inf")


class MemoryBooks:
    """Books in dicts: fastest, and everything lives in this process's memory."""

    writable = True

    def __init__(self) -> None:
        self._entries: dict[Key, Entry] = {}
        self._codes: dict[str, list[Key]] = {}
        self._docs: dict[tuple[DocKind, str, str], Declaration] = {}
        self._statuses: dict[Key, int] = {}
        self._pending: dict[str, list[Notice]] = {}
        self._ledger: dict[tuple[str, int], list[tuple[float, str]]] = {}

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Nothing to group in memory."""
        yield

    def changed(self) -> None:
        """Nothing is cached apart from the books themselves."""

    def entry(self, key: Key) -> Entry | None:
        """Return the entry under ``key``."""
        return self._entries.get(key)

    def put_entry(self, key: Key, entry: Entry) -> None:
        """Store an entry."""
        self._entries[key] = entry

    def save_state(self, key: Key, entry: Entry) -> None:
        """The entry is the stored object itself: nothing to do."""

    def drop_entry(self, key: Key) -> None:
        """Forget an entry."""
        self._entries.pop(key, None)

    def entry_count(self) -> int:
        """Return how many entries there are."""
        return len(self._entries)

    def code_keys(self, code: str) -> list[Key]:
        """Return the keys under a code."""
        return self._codes.get(code, [])

    def link_code(self, code: str, key: Key) -> None:
        """File a key under a code."""
        self._codes.setdefault(code, []).append(key)

    def unlink_code(self, code: str, key: Key) -> None:
        """Remove a key from under a code."""
        live = self._codes.get(code)
        if live is None:
            return
        live[:] = [k for k in live if k != key]
        if not live:
            del self._codes[code]

    def doc(self, kind: DocKind, pair: Pair) -> Declaration | None:
        """Return a linked document."""
        return self._docs.get((kind, *pair))

    def put_doc(self, kind: DocKind, pair: Pair, decl: Declaration) -> None:
        """Store a linked document."""
        self._docs[(kind, *pair)] = decl

    def drop_doc(self, kind: DocKind, pair: Pair) -> None:
        """Forget a linked document."""
        self._docs.pop((kind, *pair), None)

    def status(self, key: Key) -> int | None:
        """Return a recorded status."""
        return self._statuses.get(key)

    def put_status(self, key: Key, status: int) -> None:
        """Record a status."""
        self._statuses[key] = status

    def add_pending(self, business_key: str, notice: Notice) -> None:
        """Keep a notice for later."""
        self._pending.setdefault(business_key, []).append(notice)

    def take_pending(self, business_key: str) -> list[Notice]:
        """Return and forget kept notices."""
        return self._pending.pop(business_key, [])

    def ledger_keys(self, buyer: str, year: int) -> list[str]:
        """Return a buyer's lists of a year, in order."""
        return [k for _, k in self._ledger.get((buyer, year), [])]

    def ledger_add(self, buyer: str, year: int, at: datetime | None, business_key: str) -> None:
        """File a list in its buyer's year."""
        bisect.insort(self._ledger.setdefault((buyer, year), []), (sort_time(at), business_key))

    def ledger_drop(self, buyer: str, year: int, business_key: str) -> None:
        """Remove a list from its buyer's year."""
        book = self._ledger.get((buyer, year))
        if book is not None:
            book[:] = [b for b in book if b[1] != business_key]
