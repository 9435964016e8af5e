"""Text decoding, CSV rows and field-value parsing shared by the postal and generic readers."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

from inspection.masking import mask_id, mask_phone, scrub
from inspection.model import FormatError

#: Bytes read from a stream at a time.
CHUNK_BYTES = 64 * 1024
#: Longest physical line a CSV reader accepts, in characters.
MAX_LINE_CHARS = 16 * 1024 * 1024

_ALPHA2 = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")


#: First characters that make a spreadsheet read a cell as a formula (OWASP's list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_safe(cell: object) -> str:
    """Return a text cell a spreadsheet will show as text, never run as a formula.

    A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a line break (or their
    full-width forms) gets a leading apostrophe; numbers are written by the caller as
    numbers and are not passed here.
    """
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(_FORMULA_START) else text


class FieldError(ValueError):
    """One field of one record is missing or wrong; readers turn it into a RecordError.

    ``field`` is the field's name; ``content`` is the 1-based contents line it belongs to,
    or 0 for a field of the record itself.
    """

    def __init__(self, field: str, message: str, content: int = 0) -> None:
        super().__init__(message)
        self.field = field
        self.content = content


def iter_text(stream: BinaryIO, source: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[str]:
    """Decode a binary stream as UTF-8 text chunk by chunk, dropping a leading BOM."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    at_start = True
    while True:
        data = stream.read(chunk_bytes)
        final = not data
        try:
            text = decoder.decode(data, final)
        except UnicodeDecodeError as err:
            raise FormatError(
                f"{source}: not UTF-8 text near byte {offset + err.start} ({err.reason})"
            ) from err
        offset += len(data)
        if at_start and text:
            at_start = False
            text = text.removeprefix("\ufeff")
        if text:
            yield text
        if final:
            return


def iter_lines(chunks: Iterable[str], source: str) -> Iterator[str]:
    """Split text chunks into physical lines, each keeping its line ending."""
    pending: list[str] = []
    pending_len = 0
    for chunk in chunks:
        parts = chunk.split("\n")
        if len(parts) == 1:
            pending.append(chunk)
            pending_len += len(chunk)
            if pending_len > MAX_LINE_CHARS:
                raise FormatError(f"{source}: a line is longer than {MAX_LINE_CHARS} characters")
            continue
        yield "".join(pending) + parts[0] + "\n"
        for part in parts[1:-1]:
            yield part + "\n"
        pending = [parts[-1]]
        pending_len = len(parts[-1])
    tail = "".join(pending)
    if tail:
        yield tail


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One CSV row: its first physical line (1-based) and its non-empty cells by column."""

    line: int
    cells: dict[str, str]
    surplus: int = 0  # non-empty cells beyond the header's columns


def read_csv(stream: BinaryIO, source: str) -> tuple[list[str], Iterator[CsvRow]]:
    """Read a CSV header (lower-cased, stripped) and return it with an iterator of its rows.

    Rows whose cells are all empty are skipped; cell text is stripped. A file with no header,
    a duplicated column name or broken CSV quoting raises :class:`FormatError`.
    """
    reader = csv.reader(iter_lines(iter_text(stream, source), source))
    try:
        raw_header = next(reader)
    except StopIteration:
        raise FormatError(f"{source}: file is empty (no CSV header)") from None
    except csv.Error as err:
        raise FormatError(f"{source}: CSV error in the header: {err}") from err
    header = [name.strip().lower() for name in raw_header]
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise FormatError(f"{source}: column {name!r} appears twice in the header")
        seen.add(name)

    def rows() -> Iterator[CsvRow]:
        end = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                raise FormatError(f"{source}: CSV error at line {reader.line_num}: {err}") from err
            start, end = end + 1, reader.line_num
            pairs = zip(header, cells, strict=False)
            values = {name: cell.strip() for name, cell in pairs if name and cell.strip()}
            surplus = sum(1 for cell in cells[len(header) :] if cell.strip())
            if values or surplus:
                yield CsvRow(start, values, surplus)

    return header, rows()


def require_columns(header: Sequence[str], required: Iterable[str], source: str, what: str) -> None:
    """Raise :class:`FormatError` naming every required column the header lacks."""
    missing = [name for name in required if name not in header]
    if missing:
        raise FormatError(f"{source}: {what} header lacks required column(s): {', '.join(missing)}")


def group_rows(
    rows: Iterable[CsvRow], key: Callable[[CsvRow], str], alone: Callable[[CsvRow], bool]
) -> Iterator[list[CsvRow]]:
    """Group consecutive rows with the same non-empty key; ``alone`` rows form their own group."""
    group: list[CsvRow] = []
    group_key = ""
    for row in rows:
        k = key(row)
        if group and k and k == group_key and not alone(row):
            group.append(row)
            continue
        if group:
            yield group
        group, group_key = [row], ("" if alone(row) else k)
    if group:
        yield group


def merge_cells(group: Sequence[CsvRow], columns: Iterable[str]) -> dict[str, str]:
    """Merge the record-level cells of a row group; a disagreement raises FieldError.

    An empty cell on a later row means "same as above"; two different non-empty values
    for one column reject the record.
    """
    merged: dict[str, str] = {}
    first_line: dict[str, int] = {}
    wanted = list(columns)
    for row in group:
        for col in wanted:
            value = row.cells.get(col)
            if value is None:
                continue
            if col not in merged:
                merged[col] = value
                first_line[col] = row.line
            elif merged[col] != value:
                raise FieldError(
                    col,
                    f"{col} differs between rows of one record: {show(col, merged[col])} on line "
                    f"{first_line[col]}, {show(col, value)} on line {row.line}",
                )
    return merged


def lines_label(group: Sequence[CsvRow]) -> str:
    """Name the physical lines of a row group, e.g. ``line 4`` or ``lines 4-6``."""
    first, last = group[0].line, group[-1].line
    return f"line {first}" if first == last else f"lines {first}-{last}"


def show(field: str, value: object) -> str:
    """Render a value for an error reason: identity and phone numbers masked, text shortened."""
    text = value if isinstance(value, str) else str(value)
    if "phone" in field or "telephone" in field:
        text = mask_phone(text)
    elif "id_number" in field:
        text = mask_id(text)
    else:
        text = scrub(text)
    if len(text) > 40:
        text = text[:37] + "..."
    return repr(text)


def text_value(value: object, field: str) -> str:
    """A text field: strings are stripped, numbers written out; objects and lists are refused."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        raise FieldError(field, f"{field} must be text, not a boolean")
    if isinstance(value, int | Decimal):
        return format(value, "f") if isinstance(value, Decimal) else str(value)
    raise FieldError(field, f"{field} must be text, not {type_name(value)}")


def decimal_value(value: object, field: str) -> Decimal:
    """A non-negative finite decimal number (a JSON number or its text)."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise FieldError(field, f"{field} must be a number, not {type_name(value)}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise FieldError(field, f"{field} {show(field, value)} is not a number") from None
    if not number.is_finite():
        raise FieldError(field, f"{field} {show(field, value)} is not a finite number")
    if number < 0:
        raise FieldError(field, f"{field} {show(field, value)} is negative")
    return number


def int_value(value: object, field: str) -> int:
    """A whole number, possibly negative (a JSON number or its text)."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise FieldError(field, f"{field} must be a whole number, not {type_name(value)}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise FieldError(field, f"{field} {show(field, value)} is not a whole number") from None
    if not number.is_finite() or number != number.to_integral_value() or abs(number) > 10**9:
        raise FieldError(field, f"{field} {show(field, value)} is not a whole number")
    return int(number)


def datetime_value(value: object, field: str) -> datetime:
    """An ISO 8601 date-time such as ``2024-05-01T10:30:00+08:00`` (offset kept as given)."""
    text = text_value(value, field)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise FieldError(
            field, f"{field} {show(field, text)} is not an ISO 8601 date-time"
        ) from None


def country_value(value: object, field: str) -> str:
    """An ISO 3166-1 alpha-2 country code, upper-cased."""
    text = text_value(value, field).upper()
    if not _ALPHA2.fullmatch(text):
        raise FieldError(field, f"{field} {show(field, text)} is not a two-letter country code")
    return text


def currency_value(value: object, field: str) -> str:
    """An ISO 4217 three-letter currency code, upper-cased."""
    text = text_value(value, field).upper()
    if not _CURRENCY.fullmatch(text):
        what = "a three-letter currency code"
        raise FieldError(field, f"{field} {show(field, text)} is not {what}")
    return text


def flatten_into(prefix: str, value: object, out: dict[str, str]) -> None:
    """Store a decoded value under dotted keys (``sender.region``, ``tags.1``) as text."""
    if isinstance(value, dict):
        for key, sub in value.items():
            flatten_into(f"{prefix}.{key}", sub, out)
    elif isinstance(value, list):
        for i, sub in enumerate(value, 1):
            flatten_into(f"{prefix}.{i}", sub, out)
    elif isinstance(value, bool):
        out[prefix] = "true" if value else "false"
    elif value is not None:
        out[prefix] = text_value(value, prefix)


def type_name(value: object) -> str:
    """JSON name of a decoded value's type, for error reasons."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    return "a number"


def csv_line(cells: Sequence[str]) -> bytes:
    """Encode one CSV row as UTF-8 bytes ending in CRLF."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue().encode("utf-8")


def plain_number(value: Decimal | None) -> str:
    """Write a decimal without an exponent (``1E+2`` becomes ``100``); ``None`` is empty."""
    return "" if value is None else format(value, "f")
