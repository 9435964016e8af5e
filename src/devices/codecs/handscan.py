"""Hand and fixed scanners: one code per CR LF line, optional AIM prefix, vendor no-read strings."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.codes import strip_aim
from contracts.statuses import ReadStatus
from devices.codecs.base import Garbled

CR = 0x0D
LF = 0x0A
GS = 0x1D  # GS1 field separator, legal inside a code
#: Serial trigger on / off (Honeywell-style ``SYN T CR`` / ``SYN U CR``).
TRIGGER_ON = b"\x16T\r"
TRIGGER_OFF = b"\x16U\r"
DEFAULT_NO_READ: tuple[str, ...] = ("NOREAD",)
#: Longest line accepted; a longer run without CR or LF is garbage.
MAX_LINE = 512


@dataclass(frozen=True, slots=True)
class ScanLine:
    """One line from a scanner: a code (AIM prefix kept as sent) or a no-read."""

    status: ReadStatus
    code: str = ""


def _is_noise(byte: int) -> bool:
    """Return True for a byte that cannot start a line (control, DEL or non-ASCII)."""
    return byte < 0x20 or byte >= 0x7F


class HandScanCodec:
    """Line codec with the site's no-read strings; lines may end in CR LF, LF or CR."""

    def __init__(self, no_read: tuple[str, ...] = DEFAULT_NO_READ, max_line: int = MAX_LINE):
        """Use ``no_read`` as the vendor's no-read strings (compared after AIM stripping)."""
        if max_line < 1:
            raise ValueError("max_line must be at least 1")
        self.no_read = tuple(no_read)
        self.max_line = max_line

    def decode(self, buffer: bytes) -> tuple[int, ScanLine | Garbled | None]:
        """Decode the first line: (bytes consumed, line, Garbled or None to wait for more)."""
        start = 0
        while start < len(buffer) and _is_noise(buffer[start]):
            start += 1
        ends = [i for i in (buffer.find(CR, start), buffer.find(LF, start)) if i >= 0]
        if not ends:
            if len(buffer) - start > self.max_line:
                return len(buffer), Garbled(buffer[start:], f"no line end within {self.max_line}")
            return start, None
        end = min(ends)
        raw = buffer[start:end]
        if len(raw) > self.max_line:
            return end + 1, Garbled(raw, f"line longer than {self.max_line} bytes")
        if any(_is_noise(b) and b != GS for b in raw):
            return end + 1, Garbled(raw, "control or non-ASCII byte inside a line")
        text = raw.decode("ascii").strip(" ")
        if not text:
            return end + 1, None
        if strip_aim(text) in self.no_read:
            return end + 1, ScanLine(ReadStatus.NOREAD)
        return end + 1, ScanLine(ReadStatus.OK, text)

    def encode(self, line: ScanLine) -> bytes:
        """Encode a line with CR LF; a no-read uses the first no-read string. ValueError if bad."""
        if line.status is ReadStatus.NOREAD:
            if not self.no_read:
                raise ValueError("hand scan: no no-read string configured")
            return self.no_read[0].encode("ascii") + b"\r\n"
        if line.status is not ReadStatus.OK:
            raise ValueError(f"hand scan: a line carries one code, not status {line.status}")
        data = line.code.encode("ascii", errors="replace")
        if (
            not line.code.strip(" ")
            or not line.code.isascii()
            or any(_is_noise(b) and b != GS for b in data)
        ):
            raise ValueError(f"hand scan: code {line.code!r} is empty or has control characters")
        if strip_aim(line.code) in self.no_read:
            raise ValueError(f"hand scan: code {line.code!r} equals a no-read string")
        return data + b"\r\n"


_DEFAULT = HandScanCodec()


def decode(buffer: bytes) -> tuple[int, ScanLine | Garbled | None]:
    """Decode the first line with the default no-read string ``NOREAD``."""
    return _DEFAULT.decode(buffer)


def encode(line: ScanLine) -> bytes:
    """Encode a line with the default no-read string ``NOREAD``."""
    return _DEFAULT.encode(line)
