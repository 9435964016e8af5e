"""Tunnel scanner frames: ``STX item_id;status;codes ETX`` (DESIGN §6), sans-IO."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.statuses import ReadStatus
from devices.codecs.base import Garbled

STX = 0x02
ETX = 0x03
#: Longest frame accepted, STX to ETX inclusive; a longer run without ETX is garbage.
MAX_FRAME = 4096
#: Largest item id (the PLC's u32).
MAX_ITEM_ID = 0xFFFF_FFFF
_FORBIDDEN = frozenset(";,\x02\x03\r\n")


@dataclass(frozen=True, slots=True)
class TunnelFrame:
    """One read-gate result: the PLC's item id, the read status and the codes read."""

    item_id: int
    status: ReadStatus
    codes: tuple[str, ...] = ()


def _check(item_id: int, status: ReadStatus, codes: tuple[str, ...]) -> str | None:
    """Return why a frame's fields disagree with each other, or None when they are consistent."""
    if not 0 <= item_id <= MAX_ITEM_ID:
        return f"item_id {item_id} outside 0..{MAX_ITEM_ID}"
    if status is ReadStatus.OK and len(codes) != 1:
        return f"status OK needs exactly one code, got {len(codes)}"
    if status is ReadStatus.NOREAD and codes:
        return f"status NOREAD carries {len(codes)} code(s)"
    if status is ReadStatus.MULTI and len(codes) < 2:
        return f"status MULTI needs two or more codes, got {len(codes)}"
    return None


def _parse(raw: bytes) -> TunnelFrame | Garbled:
    """Parse the bytes of one complete frame, STX and ETX included."""
    try:
        body = raw[1:-1].decode("ascii")
    except UnicodeDecodeError:
        return Garbled(raw, "non-ASCII byte in frame")
    fields = body.split(";")
    if len(fields) != 3:
        return Garbled(raw, f"expected 3 fields separated by ';', got {len(fields)}")
    item_text, status_text, codes_text = fields
    if not item_text.isdigit() or len(item_text) > 10:
        return Garbled(raw, f"item_id {item_text!r} is not a decimal number")
    try:
        status = ReadStatus(status_text)
    except ValueError:
        return Garbled(raw, f"unknown status {status_text!r}")
    codes = tuple(c for c in codes_text.split(",") if c)
    if any(not c.isprintable() for c in codes):
        return Garbled(raw, "control character in a code")
    problem = _check(int(item_text), status, codes)
    if problem:
        return Garbled(raw, problem)
    return TunnelFrame(int(item_text), status, codes)


def decode(buffer: bytes) -> tuple[int, TunnelFrame | Garbled | None]:
    """Decode the first frame in ``buffer``: (bytes consumed, frame, Garbled or None to wait)."""
    start = buffer.find(STX)
    if start < 0:
        return len(buffer), None
    end = buffer.find(ETX, start + 1)
    limit = end if end >= 0 else len(buffer)
    restart = buffer.find(STX, start + 1, limit)
    if restart >= 0:
        return restart, Garbled(buffer[start:restart], "frame cut short by a new STX")
    if end < 0:
        if len(buffer) - start >= MAX_FRAME:
            return len(buffer), Garbled(buffer[start:], f"no ETX within {MAX_FRAME} bytes")
        return start, None
    return end + 1, _parse(buffer[start : end + 1])


def encode(frame: TunnelFrame, item_width: int = 6) -> bytes:
    """Encode a frame, item id zero-padded to ``item_width`` digits; ValueError when invalid."""
    problem = _check(frame.item_id, frame.status, frame.codes)
    if problem:
        raise ValueError(f"tunnel frame: {problem}")
    for code in frame.codes:
        if not code or not code.isascii() or not code.isprintable() or _FORBIDDEN & set(code):
            raise ValueError(f"tunnel frame: code {code!r} is empty or has a reserved character")
    body = f"{frame.item_id:0{item_width}d};{frame.status.value};{','.join(frame.codes)}"
    return bytes([STX]) + body.encode("ascii") + bytes([ETX])
