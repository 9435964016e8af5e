"""Mettler Toledo MT-SICS: weighing commands, level-0 identification and CR LF replies, sans-IO."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from devices.codecs.base import Garbled

#: Longest line accepted; a longer run without CR LF is garbage.
MAX_LINE = 256
_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?")
_UNIT = re.compile(r"[A-Za-z%]{1,5}")
_COMMAND_ECHO = re.compile(r"[A-Z@][A-Z0-9]{0,3}")
_TOKEN = re.compile(r'"[^"]*"|\S+')
_INFO_ECHO = re.compile(r"I\d{1,2}")
_KG_PER_UNIT: dict[str, Decimal] = {
    "kg": Decimal(1),
    "g": Decimal("0.001"),
    "mg": Decimal("0.000001"),
    "t": Decimal(1000),
    "lb": Decimal("0.45359237"),
    "oz": Decimal("0.028349523125"),
}


class Command(StrEnum):
    """The MT-SICS commands this project speaks."""

    S = "S"  # send stable weight
    SI = "SI"  # send weight immediately, stable or not
    Z = "Z"  # zero when stable
    ZI = "ZI"  # zero immediately
    T = "T"  # tare when stable
    TAC = "TAC"  # clear tare
    RESET = "@"  # cancel and reset to the power-on state (no zeroing); answered like I4
    I0 = "I0"  # list the implemented commands, one line each
    I1 = "I1"  # MT-SICS levels and level versions
    I2 = "I2"  # balance data: type, capacity and unit
    I3 = "I3"  # software version and type definition number
    I4 = "I4"  # serial number


class ErrorCode(StrEnum):
    """General error replies: syntax, transmission (parity, framing), logical."""

    ES = "ES"
    ET = "ET"
    EL = "EL"


@dataclass(frozen=True, slots=True)
class WeightReply:
    """``S S      1.234 kg``: echo, stable (S) or dynamic (D), value and unit."""

    command: str
    stable: bool
    value: Decimal
    unit: str

    def kilograms(self) -> float:
        """Return the value in kilograms; ValueError for a unit that is not a mass."""
        return to_kg(self.value, self.unit)


@dataclass(frozen=True, slots=True)
class StatusReply:
    """``S I``, ``S +``, ``Z A``, ...: echo and a one-character status, no value."""

    command: str
    status: str

    @property
    def executed(self) -> bool:
        """Return True for ``A`` (done) and the ``S``/``D`` acknowledgements of ``ZI``."""
        return self.status in {"A", "S", "D"}


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """A bare ``ES``, ``ET`` or ``EL``."""

    code: ErrorCode


@dataclass(frozen=True, slots=True)
class InfoReply:
    """``I4 A "B021002593"``: an identification reply; ``B`` means more lines follow.

    ``fields`` keeps each field as sent: quoted text as ``str``, a bare number as ``int``
    (the level in an ``I0`` line).
    """

    command: str
    status: str
    fields: tuple[str | int, ...] = ()

    @property
    def more(self) -> bool:
        """Return True when further lines of the same answer follow (status ``B``)."""
        return self.status == "B"


Reply = WeightReply | StatusReply | ErrorReply | InfoReply
_STATUSES = frozenset("AIL+-SD")
_INFO_STATUSES = frozenset("AB")


def to_kg(value: Decimal, unit: str) -> float:
    """Convert ``value`` in ``unit`` (kg, g, mg, t, lb, oz) to kilograms."""
    try:
        return float(value * _KG_PER_UNIT[unit])
    except KeyError:
        raise ValueError(f"unit {unit!r} is not a known mass unit") from None


def _line(buffer: bytes) -> tuple[int, bytes | Garbled | None]:
    """Cut the first line (CR LF, LF or CR ended); blank lines are consumed as None."""
    ends = [i for i in (buffer.find(b"\r"), buffer.find(b"\n")) if i >= 0]
    if not ends:
        if len(buffer) > MAX_LINE:
            return len(buffer), Garbled(buffer, f"no line end within {MAX_LINE} bytes")
        return 0, None
    end = min(ends)
    used = end + 2 if buffer[end : end + 2] == b"\r\n" else end + 1
    raw = buffer[:end]
    start = 0
    while start < len(raw) and (raw[start] < 0x20 or raw[start] >= 0x7F):
        start += 1
    raw = raw[start:]
    if not raw.strip():
        return used, None
    if len(raw) > MAX_LINE or any(b < 0x20 or b >= 0x7F for b in raw):
        return used, Garbled(raw, "control or non-ASCII byte inside a line")
    return used, raw


def decode(buffer: bytes) -> tuple[int, Reply | Garbled | None]:
    """Decode the first reply line: (bytes consumed, reply, Garbled or None to wait)."""
    used, raw = _line(buffer)
    if not isinstance(raw, bytes):
        return used, raw
    return used, parse_reply(raw)


def parse_reply(raw: bytes) -> Reply | Garbled:
    """Parse one reply line without its terminator."""
    tokens = _TOKEN.findall(raw.decode("ascii"))
    if any(t.startswith('"') and (len(t) < 2 or not t.endswith('"')) for t in tokens):
        return Garbled(raw, "unterminated quoted text")
    if len(tokens) >= 2 and _INFO_ECHO.fullmatch(tokens[0]) and tokens[1] in _INFO_STATUSES:
        return InfoReply(tokens[0], tokens[1], tuple(_field(t) for t in tokens[2:]))
    if any(t.startswith('"') for t in tokens):
        return Garbled(raw, "quoted text in a reply that carries none")
    if len(tokens) == 1 and tokens[0] in ErrorCode.__members__:
        return ErrorReply(ErrorCode(tokens[0]))
    if not tokens or not _COMMAND_ECHO.fullmatch(tokens[0]):
        return Garbled(raw, "reply does not start with a command echo")
    if len(tokens) == 2 and tokens[1] in _STATUSES:
        return StatusReply(tokens[0], tokens[1])
    if len(tokens) == 4 and tokens[1] in {"S", "D"}:
        if not _NUMBER.fullmatch(tokens[2]):
            return Garbled(raw, f"weight {tokens[2]!r} is not a number")
        if not _UNIT.fullmatch(tokens[3]):
            return Garbled(raw, f"unit {tokens[3]!r} is not a unit")
        return WeightReply(tokens[0], tokens[1] == "S", Decimal(tokens[2]), tokens[3])
    return Garbled(raw, "reply matches no MT-SICS reply form")


def _field(token: str) -> str | int:
    """Return a reply field: quoted text without its quotes, or a bare integer."""
    if token.startswith('"'):
        return token[1:-1]
    return int(token) if token.isdigit() else token


def _render(field: str | int) -> str:
    """Return a field as sent: text in double quotes, an integer bare."""
    if isinstance(field, int):
        return str(field)
    if '"' in field or any(ord(c) < 0x20 or ord(c) >= 0x7F for c in field):
        raise ValueError(f"MT-SICS: text field {field!r} cannot be sent")
    return f'"{field}"'


def encode(reply: Reply) -> bytes:
    """Encode a reply line with CR LF; the weight is right-aligned in a 10-character field."""
    if isinstance(reply, ErrorReply):
        return f"{reply.code.value}\r\n".encode("ascii")
    if isinstance(reply, InfoReply):
        if not _INFO_ECHO.fullmatch(reply.command) or reply.status not in _INFO_STATUSES | {"I"}:
            raise ValueError(f"MT-SICS: {reply.command!r} {reply.status!r} is not an info reply")
        parts = [reply.command, reply.status, *(_render(f) for f in reply.fields)]
        return (" ".join(parts) + "\r\n").encode("ascii")
    if not _COMMAND_ECHO.fullmatch(reply.command):
        raise ValueError(f"MT-SICS: command echo {reply.command!r} is not valid")
    if isinstance(reply, StatusReply):
        if reply.status not in _STATUSES or len(reply.status) != 1:
            raise ValueError(f"MT-SICS: status {reply.status!r} is not valid")
        return f"{reply.command} {reply.status}\r\n".encode("ascii")
    if not _UNIT.fullmatch(reply.unit) or not reply.value.is_finite():
        raise ValueError(f"MT-SICS: weight {reply.value} {reply.unit!r} cannot be sent")
    text = f"{reply.value:f}"
    status = "S" if reply.stable else "D"
    return f"{reply.command} {status} {text:>10} {reply.unit}\r\n".encode("ascii")


def encode_command(command: Command) -> bytes:
    """Encode a command line, e.g. ``b"SI\\r\\n"``."""
    return f"{command.value}\r\n".encode("ascii")


def decode_command(buffer: bytes) -> tuple[int, Command | Garbled | None]:
    """Decode the first command line (for simulators); an unknown command comes back Garbled."""
    used, raw = _line(buffer)
    if not isinstance(raw, bytes):
        return used, raw
    text = raw.decode("ascii").strip()
    try:
        return used, Command(text)
    except ValueError:
        return used, Garbled(raw, f"unknown command {text!r}")
