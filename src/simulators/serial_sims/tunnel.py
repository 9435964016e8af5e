"""Tunnel scanner simulator: one STX/ETX gate result per item, on trigger or at a steady rate."""

from __future__ import annotations

from dataclasses import dataclass

from simulators.faults import FaultDice, FaultProfile
from simulators.serial_sims.codes import DEFAULT_CODES, CodeCycle
from simulators.serial_sims.links import Link
from simulators.serial_sims.server import SimServer
from simulators.tunnel_reads import ReadFault, TunnelEmitter, stray_label


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
        self._codes = CodeCycle(spec.codes)
        self._emitter = TunnelEmitter(spec.aim, spec.item_id_width, dice)

    def _other(self, code: str) -> str:
        """Return a second label on the same parcel, different from ``code``."""
        for candidate in self.spec.codes:
            if candidate != code:
                return candidate
        return stray_label(self.next_item_id)

    def scan(self, item_id: int | None = None) -> bytes:
        """Return the encoded gate result for ``item_id`` (the next id when None)."""
        if item_id is None:
            item_id = self.next_item_id
        self.next_item_id = item_id + 1
        fault = self._emitter.roll()
        labels: tuple[str, ...] = ()
        if fault in (ReadFault.NONE, ReadFault.MULTI):
            code = self._codes.next(self.dice.profile.stuck_value)
            labels = (code, self._other(code)) if fault is ReadFault.MULTI else (code,)
        return self._emitter.frame(item_id, labels, fault)


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
