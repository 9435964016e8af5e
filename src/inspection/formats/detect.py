"""Format detection from a file's first bytes and, when given, the format a user claims."""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass

from inspection.model import FormatError

#: Format families a reader exists for.
FORMATS = ("ceb", "dxp", "postal-json", "postal-csv", "generic-csv")

_CEB_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(CEB\d{3})Message[\s>/]")
_XML_ROOT = re.compile(rb"<(?![?!])([A-Za-z_][\w.:-]*)")
_CEB_NS = b"http://www.chinaport.gov.cn/ceb"
_DXP_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?DxpMsg[\s>/]")
#: Namespace of the ``DxpMsg`` transfer envelope.
DXP_NS = b"http://www.chinaport.gov.cn/dxp"
HEAD_BYTES = 8192
_EOL = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class DetectedFormat:
    """A file's format family and, for CEB, its message type (e.g. ``CEB621``)."""

    family: str
    message_type: str = ""

    @property
    def label(self) -> str:
        """Name shown in import reports, e.g. ``CEB621`` or ``postal-csv``."""
        return self.message_type or self.family


def _strip_bom(head: bytes) -> bytes:
    for bom in (b"\xef\xbb\xbf",):
        if head.startswith(bom):
            return head[len(bom) :]
    return head


def _sniff(head: bytes, source: str) -> DetectedFormat:
    body = _strip_bom(head).lstrip()
    if not body:
        raise FormatError(f"{source}: file is empty")
    if body.startswith(b"<"):
        if _DXP_ROOT.search(body) and DXP_NS in body:
            return DetectedFormat("dxp")
        m = _CEB_ROOT.search(body)
        if m and _CEB_NS in body:
            return DetectedFormat("ceb", m.group(1).decode("ascii"))
        root = _XML_ROOT.search(body)
        name = root.group(1).decode("ascii", "replace") if root else "?"
        raise FormatError(
            f"{source}: XML root element {name!r} is not a CEB message "
            f"(expected <CEBnnnMessage> in namespace {_CEB_NS.decode()})"
        )
    if body[:1] in (b"{", b"["):
        return DetectedFormat("postal-json")
    parts = _EOL.split(body, maxsplit=1)
    try:
        decoder = codecs.getincrementaldecoder("utf-8")()
        first_line = decoder.decode(parts[0], final=len(parts) > 1)
    except UnicodeDecodeError as err:
        raise FormatError(f"{source}: not UTF-8 text and not XML ({err.reason})") from err
    try:
        header = [h.strip().lower() for h in next(csv.reader(io.StringIO(first_line)), [])]
    except csv.Error as err:
        raise FormatError(f"{source}: first line is not CSV ({err})") from err
    if "item_id" in header:
        return DetectedFormat("postal-csv")
    if "code" in header:
        return DetectedFormat("generic-csv")
    raise FormatError(
        f"{source}: not a CEB XML message, postal JSON, postal CSV (needs an 'item_id' column) "
        f"or generic CSV (needs a 'code' column); first line: {first_line[:80]!r}"
    )


def detect_format(head: bytes, source: str, claimed: str | None = None) -> DetectedFormat:
    """Detect the format of a file from its first bytes; a wrong ``claimed`` format is an error.

    ``claimed`` is a family name (``ceb``, ``postal-json``, ...) or a CEB message type
    (``CEB621``); a file whose content is not what is claimed raises :class:`FormatError`.
    """
    found = _sniff(head, source)
    if claimed is None:
        return found
    want = claimed.strip()
    if want.upper().startswith("CEB") and want.upper() != "CEB":
        if found.message_type != want.upper():
            raise FormatError(f"{source}: claimed {want.upper()} but the file is {found.label}")
        return found
    if want.lower() not in FORMATS:
        raise FormatError(f"{source}: unknown format {claimed!r}; known: {', '.join(FORMATS)}")
    if found.family != want.lower():
        raise FormatError(f"{source}: claimed {want.lower()} but the file is {found.label}")
    return found
