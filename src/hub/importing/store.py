"""Writing one batch of checked declarations and receipts inside one transaction."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Dialect, delete
from sqlalchemy.engine import Connection

from hub.db.models import DECLARATION, DECLARATION_LINE, RECEIPT, STATUS_HISTORY
from hub.db.sync_models import SyncChange
from hub.importing import sql as q
from hub.importing.notices import write_notices
from hub.importing.rows import (
    HEAD_FIELDS,
    IdSource,
    Prepared,
    RowShaper,
    head_row,
    information_hash,
    receipt_hash,
    receipt_row,
)
from hub.importing.sql import BulkInsert, BulkUpdate
from inspection.model import Notice, Receipt

log = logging.getLogger(__name__)

Key = tuple[str, str]
_SYNC = SyncChange.__table__  # type: ignore[attr-defined]


@dataclass(slots=True)
class Batch:
    """Checked records waiting to be written, each with its 1-based index in the file."""

    declarations: list[Prepared] = field(default_factory=list)
    receipts: list[tuple[int, Receipt]] = field(default_factory=list)
    notices: list[tuple[int, Notice]] = field(default_factory=list)

    def __len__(self) -> int:
        """Return how many records the batch holds."""
        return len(self.declarations) + len(self.receipts) + len(self.notices)

    def singles(self) -> list[tuple[int, Batch]]:
        """Split into one-record batches, in file order, each with its record index."""
        out = [(p.index, Batch(declarations=[p])) for p in self.declarations]
        out.extend((i, Batch(receipts=[(i, r)])) for i, r in self.receipts)
        out.extend((i, Batch(notices=[(i, n)])) for i, n in self.notices)
        out.sort(key=lambda pair: pair[0])
        return out


@dataclass(slots=True)
class BatchCounts:
    """What writing one batch did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    receipts_applied: int = 0
    receipts_pending: int = 0
    receipts_linked: int = 0
    receipts_information: int = 0


@dataclass(slots=True)
class _Planned:
    """The final state of one declaration key within a batch."""

    row_id: Any  # uuid.UUID as stored; for a new row, the id in the driver's form
    wire_id: Any  # the id in the driver's form
    content_hash: str
    prepared: Prepared | None = None  # content to write; None while nothing changes
    is_new: bool = False
    filing_kept: bool = False  # a new row's first filing is in the history already


@dataclass(slots=True)
class _StatusEvent:
    """A receipt to apply to a declaration's customs status."""

    at: datetime
    status: int
    content_hash: str


def _aware(value: datetime) -> datetime:
    """Return ``value`` as aware UTC (naive times are taken as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class BatchStore:
    """Writes batches for one import: declarations first, then receipts, in one transaction."""

    def __init__(self, dialect: Dialect, source: str, *, customs: bool = True) -> None:
        """Prepare the bulk statements for ``dialect``; ``source`` names the file in rows.

        ``customs`` says the receipts come through the customs channel (they set the
        declarations' customs status); otherwise they are stored as information only.
        """
        self.source = source
        self.customs = customs
        self.shaper = RowShaper(dialect)
        self.ids = IdSource(as_text=not dialect.supports_native_uuid)
        self._decl = BulkInsert(DECLARATION, dialect)
        self._line = BulkInsert(DECLARATION_LINE, dialect)
        self._receipt = BulkInsert(RECEIPT, dialect)
        self._history = BulkInsert(STATUS_HISTORY, dialect)
        self._sync = BulkInsert(_SYNC, dialect, ("declaration_id",))
        names = (*HEAD_FIELDS, "extra", "content_hash", "updated_at", "source_file")
        self._update = BulkUpdate(DECLARATION, names, "id", dialect)

    def write(
        self, conn: Connection, batch: Batch, now: datetime, pending_possible: bool
    ) -> BatchCounts:
        """Write ``batch`` on ``conn`` (the caller commits); return what it did."""
        counts = BatchCounts()
        new_keys = self._write_declarations(conn, batch.declarations, now, counts)
        linked: list[Any] = []
        if pending_possible and new_keys:
            linked = q.pending_receipts(conn, new_keys)
        if batch.receipts or linked:
            self._write_receipts(conn, batch.receipts, linked, now, counts)
        if batch.notices:
            write_notices(conn, (n for _i, n in batch.notices), now, self.source)
        return counts

    def _write_declarations(
        self, conn: Connection, records: list[Prepared], now: datetime, counts: BatchCounts
    ) -> list[Key]:
        if not records:
            return []
        stored = q.existing_hashes(conn, {(p.kind, p.business_key) for p in records})
        plan: dict[Key, _Planned] = {}
        history: list[tuple[Any, Any, str]] = []
        for p, new_id in zip(records, self.ids.take(len(records)), strict=True):
            key = (p.kind, p.business_key)
            current = plan.get(key)
            if current is None:
                found = stored.get(key)
                if found is None:  # its "filed" event is the row itself until amended
                    plan[key] = _Planned(new_id, new_id, p.content_hash, p, is_new=True)
                    counts.new += 1
                    continue
                wire = self._decl.wire("id", found[0])
                current = plan[key] = _Planned(found[0], wire, found[1])
            if current.content_hash == p.content_hash:
                counts.unchanged += 1
                continue
            if current.is_new and not current.filing_kept:  # filed and amended in one batch
                history.append((current.wire_id, "filed", current.content_hash))
                current.filing_kept = True
            current.content_hash, current.prepared = p.content_hash, p
            history.append((current.wire_id, "amended", p.content_hash))
            counts.updated += 1
        if history:  # before the rows change: the first filing, kept as it was
            changed = [p.row_id for p in plan.values() if p.prepared and not p.is_new]
            self._keep_filings(conn, changed)
        self._apply_plan(conn, plan, now)
        at = self._history.wire("at", now)
        rows = [
            (hid, decl_id, at, event, None, None, h, self.source)
            for hid, (decl_id, event, h) in zip(self.ids.take(len(history)), history, strict=True)
        ]
        self._history.run(conn, rows, converted=True)
        return [k for k, p in plan.items() if p.is_new]

    def _keep_filings(self, conn: Connection, ids: list[Any]) -> None:
        """Write the ``filed`` event of declarations about to change that have none yet.

        A new declaration's filing is its row (created_at, content_hash, source_file);
        it becomes a history row only when the row is first amended.
        """
        rows = [
            (hid, decl_id, at, "filed", None, None, h, source)
            for hid, (decl_id, at, h, source) in zip(
                self.ids.take(len(ids)), q.unrecorded_filings(conn, ids), strict=False
            )
        ]
        self._history.run(conn, rows)

    def _apply_plan(self, conn: Connection, plan: dict[Key, _Planned], now: datetime) -> None:
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        stale: list[Any] = []
        written: list[_Planned] = []
        stamp = self._decl.wire("created_at", now)
        for planned in plan.values():
            p = planned.prepared
            if p is None:
                continue
            written.append(planned)
            if planned.is_new:
                inserts.append(head_row(planned.wire_id, p, stamp, self.source))
                continue
            updates.append((*p.head, p.extra, p.content_hash, stamp, self.source, planned.wire_id))
            stale.append(planned.row_id)
        self._decl.run(conn, inserts, converted=True)
        # New declarations take the next sync change numbers, in the order stored.
        self._sync.run(conn, [(row[0],) for row in inserts], converted=True)
        if updates:
            self._update.run(conn, updates, converted=True)
            line_id = DECLARATION_LINE.c.declaration_id
            for part in q.chunks(stale):
                conn.execute(delete(DECLARATION_LINE).where(line_id.in_(part)))
        ids = iter(self.ids.take(sum(len(w.prepared.lines) for w in written if w.prepared)))
        lines = [
            (next(ids), w.wire_id, *values)
            for w in written
            if w.prepared
            for values in w.prepared.lines
        ]
        self._line.run(conn, lines, converted=True)

    def _write_receipts(
        self,
        conn: Connection,
        records: list[tuple[int, Receipt]],
        linked: list[q.PendingReceipt],
        now: datetime,
        counts: BatchCounts,
    ) -> None:
        hashed = [(r, self._hash(r)) for _i, r in records]
        known = q.known_receipts(conn, [h for _r, h in hashed])
        fresh: list[tuple[Receipt, str]] = []
        for receipt, h in hashed:
            if h in known:
                counts.unchanged += 1
                continue
            known.add(h)
            fresh.append((receipt, h))
        counts.new += len(fresh)
        keys = {(str(r.kind), r.business_key) for r, _h in fresh}
        keys.update((kind, key) for _id, kind, key, *_rest in linked)
        targets = q.declaration_status(conn, keys)
        events: dict[Key, list[_StatusEvent]] = {}
        receipt_rows: list[tuple[Any, ...]] = []
        received = self._receipt.wire("received_at", now)
        for (receipt, h), rid in zip(fresh, self.ids.take(len(fresh)), strict=True):
            key = (str(receipt.kind), receipt.business_key)
            target = targets.get(key)
            decl_id = target[0] if target else None
            receipt_rows.append(
                receipt_row(
                    rid,
                    receipt,
                    h,
                    declaration_id=decl_id,
                    received_at=received,
                    source=self.source,
                    from_customs=self.customs,
                )
            )
            if target is None:
                counts.receipts_pending += 1
                continue
            if not self.customs:  # information: linked and listed, never a status
                counts.receipts_information += 1
                continue
            counts.receipts_applied += 1
            at = _aware(receipt.return_time) if receipt.return_time else now
            events.setdefault(key, []).append(_StatusEvent(at, receipt.return_status, h))
        links: list[dict[str, Any]] = []
        for rid, kind, business_key, status, return_time, received_at, h, customs in linked:
            target = targets[(kind, business_key)]
            links.append({"b_id": rid, "b_decl": target[0]})
            if not customs:
                continue
            at = _aware(return_time or received_at)
            events.setdefault((kind, business_key), []).append(_StatusEvent(at, status, h))
        counts.receipts_linked += len(links)
        self._receipt.run(conn, receipt_rows)
        q.link_receipts(conn, links)
        self._apply_statuses(conn, targets, events, now)

    def _hash(self, receipt: Receipt) -> str:
        """The receipt's stored hash: its content's, or the information hash outside customs."""
        h = receipt_hash(receipt)
        return h if self.customs else information_hash(h)

    def _apply_statuses(
        self,
        conn: Connection,
        targets: dict[Key, tuple[uuid.UUID, int | None, datetime | None]],
        events: dict[Key, list[_StatusEvent]],
        now: datetime,
    ) -> None:
        """Apply receipts in time order: the newest return time sets the customs status.

        Every receipt adds a ``status`` history row whose old/new status is the
        declaration's status before and after it; an older receipt leaves it unchanged.
        """
        history: list[tuple[Any, ...]] = []
        changes: list[dict[str, Any]] = []
        for key, todo in events.items():
            decl_id, status, status_time = targets[key]
            current_time = _aware(status_time) if status_time else None
            changed = False
            for ev in sorted(todo, key=lambda e: e.at):
                old = status
                if ev.status < 0:  # customs' error about a message: an alarm, no status
                    log.warning("customs error %s about declaration %s", ev.status, key[1])
                elif current_time is None or ev.at >= current_time:
                    status, current_time, changed = ev.status, ev.at, True
                history.append((decl_id, ev.at, "status", old, status, ev.content_hash))
            if changed:
                changes.append({"b_id": decl_id, "s": status, "t": current_time, "u": now})
        rows = [
            (hid, decl_id, at, event, old, new, h, self.source)
            for hid, (decl_id, at, event, old, new, h) in zip(
                self.ids.take(len(history)), history, strict=True
            )
        ]
        self._history.run(conn, rows)
        q.set_status(conn, changes)
