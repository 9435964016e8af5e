"""Declaration and receipt file formats: detection, streaming readers and writers.

Readers never hold a whole file in memory; they yield one :class:`ParsedRecord` per record,
and raise :class:`FormatError` when the file is not the format it claims.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from inspection.formats.detect import FORMATS, DetectedFormat, detect_format
from inspection.model import FormatError, ParsedRecord

__all__ = ["FORMATS", "DetectedFormat", "FormatError", "detect_format", "read_records"]


def read_records(stream: BinaryIO, fmt: DetectedFormat, source: str) -> Iterator[ParsedRecord]:
    """Stream the records of ``stream`` as format ``fmt``; ``source`` names it in errors."""
    if fmt.family == "ceb":
        from inspection.formats.ceb_read import read_ceb

        return read_ceb(stream, source=source, expected_type=fmt.message_type)
    if fmt.family == "dxp":
        from inspection.formats.dxp import read_dxp

        return read_dxp(stream, source=source)
    if fmt.family == "postal-json":
        from inspection.formats.postal import read_postal_json

        return read_postal_json(stream, source=source)
    if fmt.family == "postal-csv":
        from inspection.formats.postal import read_postal_csv

        return read_postal_csv(stream, source=source)
    if fmt.family == "generic-csv":
        from inspection.formats.generic_csv import read_generic_csv

        return read_generic_csv(stream, source=source)
    raise FormatError(f"{source}: unknown format {fmt.family!r}; known: {', '.join(FORMATS)}")
