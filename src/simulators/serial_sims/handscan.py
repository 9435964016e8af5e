"""Hand scanner simulator: one CR LF line per read, on serial trigger, call, or steady rate."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.statuses import ReadStatus
from devices.codecs.handscan import TRIGGER_ON, HandScanCodec, ScanLine
from simulators.faults import FaultDice, FaultProfile
from simulators.serial_sims.codes import DEFAULT_CODES, CodeCycle
from simulators.serial_sims.links import Link
from simulators.serial_sims.server import SimServer, line_noise


@dataclass(frozen=True, slots=True)
class HandScannerSpec:
    """What the scanner reads (codes, cycled), its AIM prefix, no-read string and rate."""

    codes: tuple[str, ...] = DEFAULT_CODES
    aim: str = "]C1"
    no_read: str = "NOREAD"
    rate_hz: float = 0.0

    def __post_init__(self) -> None:
        """Refuse a spec the device could not run."""
        if not self.codes or not self.no_read or self.rate_hz < 0:
            raise ValueError("hand scanner spec: codes, a no-read string and rate_hz >= 0")


class HandScannerRuntime:
    """The scanner's state and faults (no I/O): which lines the next read produces."""

    def __init__(self, spec: HandScannerSpec, dice: FaultDice) -> None:
        """Start at the first code."""
        self.spec = spec
        self.dice = dice
        self.codec = HandScanCodec((spec.no_read,))
        self._codes = CodeCycle(spec.codes)

    def _code(self) -> str:
        """Return the next code (the first one forever under the stuck-value fault)."""
        return self._codes.next(self.dice.profile.stuck_value)

    def scan(self) -> list[bytes]:
        """Return the lines of one read: a code, a no-read, two codes, or a garbled line."""
        p = self.dice.profile
        noread = self.dice.hit(p.noread_rate)
        multi = self.dice.hit(p.multiread_rate)
        error = self.dice.hit(p.error_rate)
        if error:
            return [self.spec.aim.encode("ascii") + b"\x07?\x07\r\n"]
        if noread:
            return [self.codec.encode(ScanLine(ReadStatus.NOREAD))]
        lines = [self.codec.encode(ScanLine(ReadStatus.OK, self.spec.aim + self._code()))]
        if multi:
            lines.append(self.codec.encode(ScanLine(ReadStatus.OK, self.spec.aim + self._code())))
        return lines


class HandScannerServer(SimServer):
    """Serves a hand scanner; ``SYN T CR`` from the host triggers a read."""

    def __init__(
        self,
        spec: HandScannerSpec | None = None,
        link: Link | None = None,
        faults: FaultProfile | None = None,
        seed: int = 0,
        **options: float,
    ) -> None:
        """Serve ``spec`` over ``link`` (a new pty by default)."""
        super().__init__(link, faults, seed, name="scanner", **options)
        self.spec = spec or HandScannerSpec()
        self.runtime = HandScannerRuntime(self.spec, self.dice)
        self._rx = bytearray()

    @property
    def tick_interval_s(self) -> float | None:
        """Return the read period at ``spec.rate_hz`` (None when only triggered)."""
        return 1.0 / self.spec.rate_hz if self.spec.rate_hz else None

    def junk(self) -> bytes:
        """Return control-byte line noise (printable junk would corrupt a code)."""
        return line_noise(self.dice)

    def _read(self) -> None:
        """Send the lines of one read."""
        for line in self.runtime.scan():
            self.emit(line)

    def on_tick(self) -> None:
        """Read at the steady rate."""
        self._read()

    def on_bytes(self, data: bytes) -> None:
        """Read once per serial trigger received."""
        self._rx.extend(data)
        while (at := self._rx.find(TRIGGER_ON)) >= 0:
            del self._rx[: at + len(TRIGGER_ON)]
            self._read()
        del self._rx[: max(0, len(self._rx) - len(TRIGGER_ON))]

    def trigger(self) -> None:
        """Read once now (from any thread), as if the operator pulled the trigger."""
        self.call_soon(self._read)
