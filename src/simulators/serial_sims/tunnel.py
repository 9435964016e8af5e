"""Tunnel scanner simulator: one STX/ETX gate result per item, on trigger or at a steady rate."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.statuses import ReadStatus
from devices.codecs import tunnel
from devices.codecs.tunnel import TunnelFrame
from simulators.faults import FaultDice, FaultProfile
from simulators.serial_sims.codes import DEFAULT_CODES
from simulators.serial_sims.links import Link
from simulators.serial_sims.server import SimServer


@dataclass(frozen=True, slots=True)
class TunnelSpec:
    """What the tunnel reads: its codes (cycled), their AIM prefix, its rate and item ids."""

    codes: tuple[str, ...] = DEFAULT_CODES
    aim: str = "]C1"
    rate_hz: float = 0.0
    first_item_id: int = 1
    item_id_width: int = 6

    def __post_init__(self) -> None:
        """Refuse a spec the device could not run."""
        if not self.codes:
            raise ValueError("tunnel spec: at least one code is needed")
        if self.rate_hz < 0 or self.first_item_id < 0:
            raise ValueError("tunnel spec: rate_hz and first_item_id must not be negative")


class TunnelRuntime:
    """The tunnel's state: the next item id and code, and its faults (no I/O)."""

    def __init__(self, spec: TunnelSpec, dice: FaultDice) -> None:
        """Start at ``spec.first_item_id`` and the first code."""
        self.spec = spec
        self.dice = dice
        self.next_item_id = spec.first_item_id
        self._index = 0
        self._stuck: str | None = None

    def _code(self) -> str:
        """Return the next code (the first one forever under the stuck-value fault)."""
        if self._stuck is not None:
            return self._stuck
        code = self.spec.codes[self._index % len(self.spec.codes)]
        self._index += 1
        if self.dice.profile.stuck_value:
            self._stuck = code
        return code

    def _other(self, code: str) -> str:
        """Return a second label on the same parcel, different from ``code``."""
        for candidate in self.spec.codes:
            if candidate != code:
                return candidate
        return f"LBL{self.next_item_id:08d}"

    def scan(self, item_id: int | None = None) -> bytes:
        """Return the encoded gate result for ``item_id`` (the next id when None)."""
        if item_id is None:
            item_id = self.next_item_id
        self.next_item_id = item_id + 1
        p = self.dice.profile
        noread = self.dice.hit(p.noread_rate)
        multi = self.dice.hit(p.multiread_rate)
        error = self.dice.hit(p.error_rate)
        width = self.spec.item_id_width
        if error:
            return b"\x02" + f"{item_id:0{width}d};ERR;".encode("ascii") + b"\x03"
        if noread:
            return tunnel.encode(TunnelFrame(item_id, ReadStatus.NOREAD), width)
        code = self._code()
        if multi:
            codes = (self.spec.aim + code, self.spec.aim + self._other(code))
            return tunnel.encode(TunnelFrame(item_id, ReadStatus.MULTI, codes), width)
        return tunnel.encode(TunnelFrame(item_id, ReadStatus.OK, (self.spec.aim + code,)), width)


class TunnelServer(SimServer):
    """Serves a tunnel scanner over a pty, TCP or serial link."""

    def __init__(
        self,
        spec: TunnelSpec | None = None,
        link: Link | None = None,
        faults: FaultProfile | None = None,
        seed: int = 0,
        **options: float,
    ) -> None:
        """Serve ``spec`` over ``link`` (a new pty by default)."""
        super().__init__(link, faults, seed, name="tunnel", **options)
        self.spec = spec or TunnelSpec()
        self.runtime = TunnelRuntime(self.spec, self.dice)

    @property
    def tick_interval_s(self) -> float | None:
        """Return the scan period at ``spec.rate_hz`` (None when only triggered)."""
        return 1.0 / self.spec.rate_hz if self.spec.rate_hz else None

    def on_tick(self) -> None:
        """Scan the next item."""
        self.emit(self.runtime.scan())

    def trigger(self, item_id: int | None = None) -> None:
        """Scan one item now (from any thread)."""
        self.call_soon(lambda: self.emit(self.runtime.scan(item_id)))
