"""The import service: stream parsed records of a file into the hub tables, with a report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlmodel import Session

from contracts.clock import Clock, SystemClock
from hub.db.engine import StoreError, db_reason
from hub.importing.fast import shaped_records
from hub.importing.pipe import PIPE_BATCH, PIPE_MIN_BYTES, PipedReader, reader_count
from hub.importing.rows import Prepared, RowShaper, check_receipt
from hub.importing.sql import any_pending_receipt
from hub.importing.store import Batch, BatchCounts, BatchStore
from inspection.formats import detect_format
from inspection.formats.detect import HEAD_BYTES
from inspection.masking import scrub
from inspection.model import (
    Declaration,
    FormatError,
    Notice,
    ParsedRecord,
    Receipt,
    RecordError,
)

log = logging.getLogger(__name__)

#: Records written and committed together (a bad record never spoils its batch).
BATCH_SIZE = 2_000

#: ``progress(bytes_read, bytes_total)`` for one file, both in bytes.
Progress = Callable[[int, int], None]


@dataclass(slots=True)
class FileReport:
    """What importing one file did; counts are records (declarations and receipts)."""

    file: str
    format: str = ""
    records_read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    receipts_applied: int = 0
    receipts_pending: int = 0
    receipts_linked: int = 0
    notices: int = 0  # read and reported, nothing stored for sorting (CEB513, CEB623...)
    receipts_information: int = 0
    rejections: list[RecordError] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)  # CEB900: a message refused by schema
    error: str | None = None
    broken_at: int | None = None
    seconds: float = 0.0

    @property
    def accepted(self) -> int:
        """Records stored or already stored identically: new + updated + unchanged."""
        return self.new + self.updated + self.unchanged

    @property
    def rejected(self) -> int:
        """Records refused, each listed in ``rejections``."""
        return len(self.rejections)

    def add(self, counts: BatchCounts) -> None:
        """Add the counts of one committed batch."""
        self.new += counts.new
        self.updated += counts.updated
        self.unchanged += counts.unchanged
        self.receipts_applied += counts.receipts_applied
        self.receipts_pending += counts.receipts_pending
        self.receipts_linked += counts.receipts_linked
        self.receipts_information += counts.receipts_information

    def as_json(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict; personal numbers in texts are masked."""
        return {
            "file": self.file,
            "format": self.format,
            "records_read": self.records_read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "receipts_applied": self.receipts_applied,
            "receipts_pending": self.receipts_pending,
            "receipts_linked": self.receipts_linked,
            "notices": self.notices,
            "receipts_information": self.receipts_information,
            "broken_at": self.broken_at,
            "seconds": round(self.seconds, 3),
            "error": scrub(self.error) if self.error is not None else None,
            "rejections": [
                {"index": r.index, "field": r.field, "reason": scrub(r.reason)}
                for r in self.rejections
            ],
            "alarms": [scrub(a) for a in self.alarms],
        }


class _Target:
    """One connection and its commit/rollback, from an engine or a caller's session."""

    def __init__(self, target: Engine | Session) -> None:
        self._session = target if isinstance(target, Session) else None
        self._conn: Connection | None = None if self._session else target.connect()  # type: ignore[union-attr]
        # Rows are linked by ids the import itself hands out, so SQLite's foreign-key
        # look-ups (one per line, history and sync row) are skipped on this connection.
        self._unchecked = self._conn is not None and self._conn.dialect.name == "sqlite"
        if self._unchecked:
            self._foreign_keys("OFF")

    def conn(self) -> Connection:
        if self._session is not None:
            return self._session.connection()
        assert self._conn is not None
        return self._conn

    def commit(self) -> None:
        (self._session or self.conn()).commit()

    def rollback(self) -> None:
        (self._session or self.conn()).rollback()

    def _foreign_keys(self, state: str) -> None:
        """Switch SQLite's foreign-key checks (outside any transaction) on this connection."""
        conn = self.conn()
        conn.rollback()
        conn.exec_driver_sql(f"PRAGMA foreign_keys={state}")
        conn.commit()

    def close(self) -> None:
        if self._conn is not None:
            if self._unchecked:
                try:
                    self._foreign_keys("ON")
                except SQLAlchemyError:  # never hand a connection back unchecked
                    self._conn.invalidate()
            self._conn.close()


class _Writer:
    """Commits batches; a batch the database refuses is retried record by record."""

    def __init__(
        self, target: Engine | Session, source: str, clock: Clock, *, customs: bool = True
    ) -> None:
        self.target = _Target(target)
        self.clock = clock
        conn = self.target.conn()
        self.store = BatchStore(conn.dialect, source, customs=customs)
        self.pending_possible = any_pending_receipt(conn)
        self.target.commit()

    def flush(self, batch: Batch, report: FileReport) -> None:
        if not batch:
            return
        try:
            counts = self._commit(batch)
        except (IntegrityError, DataError, TypeError, ValueError, OverflowError) as err:
            self.target.rollback()
            singles = batch.singles()
            if len(singles) == 1:
                reason = f"the database refused the record: {db_reason(err)}"
                report.rejections.append(RecordError(singles[0][0], "", reason))
                return
            log.warning(
                "batch of %s records refused (%s); retrying one by one", len(batch), db_reason(err)
            )
            for _index, single in singles:
                self.flush(single, report)
            return
        except SQLAlchemyError as err:
            self.target.rollback()
            raise StoreError(f"cannot write to the hub database: {db_reason(err)}") from err
        report.add(counts)
        if counts.receipts_pending:
            self.pending_possible = True

    def _commit(self, batch: Batch) -> BatchCounts:
        counts = self.store.write(
            self.target.conn(), batch, self.clock.now(), self.pending_possible
        )
        self.target.commit()
        return counts

    def close(self) -> None:
        self.target.close()


def import_records(
    target: Engine | Session,
    records: Iterable[ParsedRecord | Prepared],
    *,
    source: str = "",
    format_label: str = "",
    batch_size: int = BATCH_SIZE,
    clock: Clock | None = None,
    on_batch: Callable[[int], None] | None = None,
    customs: bool = True,
) -> FileReport:
    """Store parsed records (declarations and receipts) and report what happened.

    ``customs`` says the records come through the customs channel (``clearline import``
    on the hub's host, or the ``customs`` role): only then do receipts set a declaration's
    customs status; otherwise they are stored as information (``receipts_information``).

    ``records`` may also hold declarations checked and shaped already (:class:`Prepared`,
    as the reader process sends them). Records are committed in batches of
    ``batch_size``; a record the readers or the checks reject is listed in the report and
    never stored. A :class:`FormatError` raised by ``records`` ends the import: what was
    read before it stays stored, and the report's ``error`` and ``broken_at`` (1-based
    record index) say where the file broke. With a session as ``target`` every batch is
    committed on that session. ``on_batch`` gets the number of records read after each
    committed batch. Raises :class:`StoreError` when the database cannot be written at all.
    """
    report = FileReport(file=source, format=format_label)
    started = time.perf_counter()
    writer = _Writer(target, source, clock or SystemClock(), customs=customs)
    batch = Batch()
    try:
        try:
            for rec in records:
                report.records_read += 1
                _take(rec, batch, report, writer.store.shaper)
                if len(batch) >= batch_size:
                    writer.flush(batch, report)
                    batch = Batch()
                    if on_batch is not None:
                        on_batch(report.records_read)
        except FormatError as err:
            writer.flush(batch, report)
            report.broken_at = report.records_read + 1
            report.error = (
                f"the file broke at record {report.broken_at}: {err}"
                if report.records_read
                else str(err)
            )
            log.warning("import of %s stopped: %s", source, scrub(report.error))
        else:
            writer.flush(batch, report)
        if on_batch is not None:
            on_batch(report.records_read)
    finally:
        writer.close()
    report.seconds = time.perf_counter() - started
    log.info(
        "imported %s: %s read, %s new, %s updated, %s unchanged, %s rejected",
        source,
        report.records_read,
        report.new,
        report.updated,
        report.unchanged,
        report.rejected,
    )
    return report


def _take(
    rec: ParsedRecord | Prepared, batch: Batch, report: FileReport, shaper: RowShaper
) -> None:
    """Check one parsed record and add it to the batch or to the rejections."""
    if isinstance(rec, Prepared):
        batch.declarations.append(rec)
        return
    item = rec.item
    problem: RecordError | None
    if isinstance(item, Prepared):
        batch.declarations.append(item)
        return
    if isinstance(item, Declaration):
        prepared = shaper.prepare(rec.index, item)
        if not isinstance(prepared, RecordError):
            batch.declarations.append(prepared)
            return
        problem = prepared
    elif isinstance(item, Receipt):
        problem = check_receipt(rec.index, item)
        if problem is None:
            batch.receipts.append((rec.index, item))
            return
    elif isinstance(item, Notice):
        report.notices += 1
        batch.notices.append((rec.index, item))
        if item.refusal:
            report.alarms.append(item.refusal)
            log.warning("%s: %s", report.file, scrub(item.refusal))
        return
    elif isinstance(item, RecordError):
        problem = item
    else:
        problem = RecordError(rec.index, "", f"unexpected record type {type(item).__name__}")
    report.rejections.append(problem)


def import_file(
    target: Engine | Session,
    path: Path,
    claimed_format: str | None = None,
    progress: Progress | None = None,
    *,
    clock: Clock | None = None,
    batch_size: int = BATCH_SIZE,
    pipe_min_bytes: int = PIPE_MIN_BYTES,
    readers: int | None = None,
    pipe_batch: int = PIPE_BATCH,
) -> FileReport:
    """Import one declaration or receipt file; its format is detected from its content.

    ``claimed_format`` (``ceb``, ``CEB621``, ``postal-json``, ...) makes a file of another
    format an error. A file that cannot be read or is not the format it claims is rejected
    whole: nothing of it is stored and the report's ``error`` says why. ``progress`` gets
    (bytes read, file size in bytes) after each batch. A file of ``pipe_min_bytes`` or
    more going into SQLite is read and shaped in reader processes while this one writes
    (``readers`` of them for a CEB file, one per core by default; see
    :mod:`hub.importing.pipe`); the report is the same either way.
    """
    source = str(path)
    try:
        size = path.stat().st_size
        stream = path.open("rb")
    except OSError as err:
        return FileReport(file=source, error=f"{source}: cannot read the file ({err.strerror})")
    with stream:
        try:
            fmt = detect_format(stream.read(HEAD_BYTES), source, claimed_format)
            stream.seek(0)
            if _piped(target, size, pipe_min_bytes):
                stream.close()
                if fmt.family != "ceb":
                    readers = 1  # only the CEB reader can pass over other readers' records
                return _import_piped(
                    target,
                    path,
                    fmt.label,
                    claimed_format,
                    progress=progress,
                    size=size,
                    clock=clock,
                    batch_size=batch_size,
                    readers=readers or reader_count(),
                    pipe_batch=pipe_batch,
                )
            dialect = target.get_bind().dialect if isinstance(target, Session) else target.dialect
            shaper = RowShaper(dialect)
            records = shaped_records(stream, fmt, source, shaper)
        except FormatError as err:
            return FileReport(file=source, error=str(err))
        except OSError as err:
            return FileReport(file=source, error=f"{source}: cannot read the file ({err})")

        def tick(_count: int) -> None:
            if progress is not None:
                progress(min(stream.tell(), size), size)

        return import_records(
            target,
            records,
            source=source,
            format_label=fmt.label,
            batch_size=batch_size,
            clock=clock,
            on_batch=tick,
        )


def _piped(target: Engine | Session, size: int, min_bytes: int) -> bool:
    """Whether to read in a second process: a large file going into SQLite by engine."""
    return isinstance(target, Engine) and target.dialect.name == "sqlite" and size >= min_bytes


def _import_piped(
    target: Engine | Session,
    path: Path,
    label: str,
    claimed_format: str | None,
    *,
    progress: Progress | None,
    size: int,
    clock: Clock | None,
    batch_size: int,
    readers: int,
    pipe_batch: int,
) -> FileReport:
    """:func:`import_records` fed by reader processes (see :mod:`hub.importing.pipe`)."""
    dialect = target.dialect.name if isinstance(target, Engine) else ""
    with PipedReader(path, claimed_format, dialect, readers, pipe_batch) as reader:

        def tick(_count: int) -> None:
            if progress is not None:
                progress(min(reader.position, size), size)

        return import_records(
            target,
            reader.items(),
            source=str(path),
            format_label=label,
            batch_size=batch_size,
            clock=clock,
            on_batch=tick,
        )
