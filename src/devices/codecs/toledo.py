"""Toledo continuous output: STX, status bytes A B C, 6-digit weight, 6-digit tare, CR, checksum.

Status A bits 0-2 place the decimal point (0 = x100, 1 = x10, 2 = x1, 3 = 0.1 ... 7 = 0.00001),
bits 3-4 give the increment (1 = x1, 2 = x2, 3 = x5). Status B: bit 0 net, bit 1 negative,
bit 2 out of range, bit 3 motion, bit 4 kg (clear = lb). Status C bits 0-2: 0 = unit from B,
1 = g, 2 = t, 3 = oz; bit 3 print request. Bit 5 is always set, bit 6 always clear, and bit 7
carries parity on 7-bit links, so it is ignored. The checksum makes the 7-bit sum of the whole
frame, STX to checksum, zero (two's complement of the 7-bit sum of STX..CR).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from devices.codecs.base import Garbled

STX = 0x02
CR = 0x0D
FRAME_LEN = 18  # with checksum; 17 without
_UNIT_BY_C = {1: "g", 2: "t", 3: "oz"}
_C_BY_UNIT = {"g": 1, "t": 2, "oz": 3}
_DIGITS = frozenset(b"0123456789 ")
MAX_COUNTS = 999_999
#: Clears bit 7 (parity on 7-bit links read as 8-bit) of every byte.
_MASK7 = bytes(b & 0x7F for b in range(256))


class HostCommand(StrEnum):
    """Single-byte commands a host may send to a scale in continuous mode."""

    PRINT = "P"
    TARE = "T"
    ZERO = "Z"
    CLEAR = "C"


@dataclass(frozen=True, slots=True)
class ToledoFrame:
    """One continuous-output frame; weights in display counts scaled by ``decimal_code``."""

    weight_counts: int
    tare_counts: int = 0
    decimal_code: int = 5
    increment_code: int = 1
    unit: str = "kg"
    net: bool = False
    negative: bool = False
    out_of_range: bool = False
    motion: bool = False
    print_request: bool = False

    @property
    def step(self) -> Decimal:
        """Return the value of one display count in ``unit``."""
        return Decimal(10) ** (2 - self.decimal_code)

    @property
    def weight(self) -> Decimal:
        """Return the displayed (gross or net) weight in ``unit``, signed."""
        value = self.weight_counts * self.step
        return -value if self.negative else value

    @property
    def tare(self) -> Decimal:
        """Return the tare in ``unit``."""
        return self.tare_counts * self.step


def checksum(data: bytes) -> int:
    """Return the 7-bit two's complement of the 7-bit sum of ``data``."""
    return -sum(b & 0x7F for b in data) & 0x7F


def _valid_at(pos: int, byte: int) -> bool:
    """Return True when ``byte`` may sit at ``pos`` (1..16) of a frame."""
    if pos <= 3:
        return (byte & 0x60) == 0x20
    if pos <= 15:
        return byte in _DIGITS
    return byte == CR


def _counts(field: bytes) -> int:
    """Return the value of a 6-digit field whose leading zeros may be sent as spaces."""
    text = field.decode("ascii").strip()
    return int(text) if text else 0


def _parse(raw: bytes) -> ToledoFrame | Garbled:
    """Parse a structurally valid frame (checksum already checked)."""
    a, b, c = raw[1:4]
    if b" " in raw[4:10].lstrip(b" ") or b" " in raw[10:16].lstrip(b" "):
        return Garbled(raw, "space after a digit in a weight field")
    code_c = c & 0x07
    if code_c == 0:
        unit = "kg" if b & 0x10 else "lb"
    elif code_c in _UNIT_BY_C:
        unit = _UNIT_BY_C[code_c]
    else:
        return Garbled(raw, f"unsupported unit code {code_c} in status C")
    return ToledoFrame(
        weight_counts=_counts(raw[4:10]),
        tare_counts=_counts(raw[10:16]),
        decimal_code=a & 0x07,
        increment_code=(a >> 3) & 0x03,
        unit=unit,
        net=bool(b & 0x01),
        negative=bool(b & 0x02),
        out_of_range=bool(b & 0x04),
        motion=bool(b & 0x08),
        print_request=bool(c & 0x08),
    )


class ToledoCodec:
    """Continuous-output codec, with (18-byte) or without (17-byte) the checksum byte."""

    def __init__(self, with_checksum: bool = True) -> None:
        """Expect the checksum byte after CR when ``with_checksum``."""
        self.with_checksum = with_checksum
        self.frame_len = FRAME_LEN if with_checksum else FRAME_LEN - 1

    def decode(self, buffer: bytes) -> tuple[int, ToledoFrame | Garbled | None]:
        """Decode the first frame: (bytes consumed, frame, Garbled or None to wait for more).

        Bit 7 of every byte is ignored, so 7E1/7O1 data read on an 8-bit line still decodes.
        """
        buffer = buffer.translate(_MASK7)
        start = buffer.find(STX)
        if start < 0:
            return len(buffer), None
        window = buffer[start : start + self.frame_len]
        for pos in range(1, min(len(window), 17)):
            if not _valid_at(pos, window[pos]):
                return start + 1, Garbled(window[: pos + 1], f"bad byte at offset {pos}")
        if len(window) < self.frame_len:
            return start, None
        used = start + self.frame_len
        if self.with_checksum and checksum(window[:17]) != window[17]:
            return used, Garbled(window, "bad checksum")
        return used, _parse(window)

    def encode(self, frame: ToledoFrame) -> bytes:
        """Encode a frame (bit 7 clear); ValueError when a field does not fit."""
        for name, value in (("weight", frame.weight_counts), ("tare", frame.tare_counts)):
            if not 0 <= value <= MAX_COUNTS:
                raise ValueError(f"Toledo frame: {name} counts {value} outside 0..{MAX_COUNTS}")
        if not 0 <= frame.decimal_code <= 7 or not 0 <= frame.increment_code <= 3:
            raise ValueError("Toledo frame: decimal_code is 0..7 and increment_code 0..3")
        if frame.unit not in {"kg", "lb", *_C_BY_UNIT}:
            raise ValueError(f"Toledo frame: unit {frame.unit!r} is not kg, lb, g, t or oz")
        a = 0x20 | (frame.increment_code << 3) | frame.decimal_code
        b = 0x20 | (0x10 if frame.unit not in {"lb", "oz"} else 0)
        b |= frame.net | frame.negative << 1 | frame.out_of_range << 2 | frame.motion << 3
        c = 0x20 | _C_BY_UNIT.get(frame.unit, 0) | frame.print_request << 3
        body = bytes([STX, a, b, c]) + f"{frame.weight_counts:06d}{frame.tare_counts:06d}".encode()
        body += bytes([CR])
        return body + bytes([checksum(body)]) if self.with_checksum else body


_DEFAULT = ToledoCodec()


def decode(buffer: bytes) -> tuple[int, ToledoFrame | Garbled | None]:
    """Decode the first frame of the 18-byte (checksummed) format."""
    return _DEFAULT.decode(buffer)


def encode(frame: ToledoFrame) -> bytes:
    """Encode a frame in the 18-byte (checksummed) format."""
    return _DEFAULT.encode(frame)


def frame_for(
    weight: Decimal,
    unit: str = "kg",
    decimals: int = 3,
    *,
    tare: Decimal = Decimal(0),
    motion: bool = False,
    net: bool = False,
) -> ToledoFrame:
    """Build a frame showing ``weight`` (signed, in ``unit``) with ``decimals`` places (0..5).

    A weight beyond six digits is shown as 999999 with the out-of-range bit, as indicators do.
    """
    if not 0 <= decimals <= 5:
        raise ValueError("Toledo frame: decimals must be 0..5")
    step = Decimal(10) ** -decimals
    counts = int((abs(weight) / step).to_integral_value())
    return ToledoFrame(
        weight_counts=min(counts, MAX_COUNTS),
        tare_counts=min(int((tare / step).to_integral_value()), MAX_COUNTS),
        decimal_code=decimals + 2,
        unit=unit,
        net=net,
        negative=weight < 0,
        out_of_range=counts > MAX_COUNTS,
        motion=motion,
    )
