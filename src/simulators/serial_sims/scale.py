"""Desk scale simulator: answers MT-SICS commands, or streams Toledo continuous output."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from devices.codecs import mtsics
from devices.codecs.base import Garbled, drain
from devices.codecs.mtsics import (
    Command,
    ErrorCode,
    ErrorReply,
    InfoReply,
    Reply,
    StatusReply,
    WeightReply,
)
from devices.codecs.toledo import HostCommand, ToledoCodec, frame_for
from simulators.faults import FaultDice, FaultProfile
from simulators.serial_sims.links import Link
from simulators.serial_sims.server import SimServer, line_noise

_KG_PER_UNIT = {"kg": Decimal(1), "g": Decimal("0.001"), "lb": Decimal("0.45359237")}
_IDENTIFICATION = frozenset({Command.RESET, Command.I1, Command.I2, Command.I3, Command.I4})


@dataclass(frozen=True, slots=True)
class ScaleSpec:
    """The scale: load at start, display unit and decimals, capacity, protocol and stream rate."""

    weight_kg: float = 1.234
    unit: Literal["kg", "g", "lb"] = "kg"
    decimals: int = 3
    capacity_kg: float = 30.0
    zero_range_kg: float = 0.6
    toledo: bool = False
    stream_hz: float = 10.0
    toledo_checksum: bool = True
    model: str = "CL-DESK-30"
    serial_number: str = "CL00000001"
    software_version: str = "1.00 1.0.0.1"

    def __post_init__(self) -> None:
        """Refuse a spec the device could not run."""
        if self.unit not in _KG_PER_UNIT:
            raise ValueError(f"scale spec: unit {self.unit!r} is not kg, g or lb")
        if not 0 <= self.decimals <= 5 or self.capacity_kg <= 0 or self.stream_hz <= 0:
            raise ValueError("scale spec: decimals 0..5, capacity_kg > 0 and stream_hz > 0")


class ScaleRuntime:
    """The scale's state (load, zero, tare) and behaviour under faults (no I/O)."""

    def __init__(self, spec: ScaleSpec, dice: FaultDice) -> None:
        """Start with ``spec.weight_kg`` on the platform, zeroed at 0, no tare."""
        self.spec = spec
        self.dice = dice
        self.load_kg = Decimal(str(spec.weight_kg))
        self.zero_kg = Decimal(0)
        self.tare_kg = Decimal(0)
        self._stuck: Decimal | None = None

    def place(self, weight_kg: float) -> None:
        """Put a load of ``weight_kg`` on the platform (replacing the previous one)."""
        self.load_kg = Decimal(str(weight_kg))

    @property
    def gross_kg(self) -> Decimal:
        """Return the load above the zero point, kg."""
        return self.load_kg - self.zero_kg

    def _shown(self, kg: Decimal, jitter: bool = False) -> Decimal:
        """Return ``kg`` in the display unit, rounded to the display's decimals."""
        if jitter:
            kg += Decimal(str(self.dice.rng.uniform(-0.02, 0.02))) * max(kg, Decimal(1))
        value = (kg / _KG_PER_UNIT[self.spec.unit]).quantize(Decimal(10) ** -self.spec.decimals)
        if self.dice.profile.stuck_value:
            if self._stuck is None:
                self._stuck = value
            return self._stuck
        return value

    def _range(self) -> str | None:
        """Return ``+`` above capacity, ``-`` below the zero range, None in range."""
        if self.gross_kg > Decimal(str(self.spec.capacity_kg)):
            return "+"
        if self.gross_kg < -Decimal(str(self.spec.zero_range_kg)):
            return "-"
        return None

    def answer(self, command: Command | Garbled) -> list[Reply]:
        """Return every reply line to one command line (``I0`` answers with several)."""
        if command is Command.I0:
            listed = list(Command)
            return [
                InfoReply("I0", "B" if i < len(listed) - 1 else "A", (0, c.value))
                for i, c in enumerate(listed)
            ]
        return [self.handle(command)]

    def identify(self, command: Command) -> Reply:
        """Answer a level-0 identification command (``@``, ``I1``-``I4``)."""
        spec = self.spec
        if command is Command.RESET:
            self.tare_kg = Decimal(0)
            self._stuck = None
            return InfoReply("I4", "A", (spec.serial_number,))
        if command is Command.I1:
            return InfoReply("I1", "A", ("01", "2.00", "2.00"))
        if command is Command.I2:
            return InfoReply("I2", "A", (f"{spec.model} {spec.capacity_kg:.3f} kg",))
        if command is Command.I3:
            return InfoReply("I3", "A", (spec.software_version,))
        return InfoReply("I4", "A", (spec.serial_number,))

    def handle(self, command: Command | Garbled) -> Reply:
        """Return the reply to one command line (``I0`` only its first line: see ``answer``)."""
        if isinstance(command, Garbled):
            return ErrorReply(ErrorCode.ES)
        if command in _IDENTIFICATION:
            return self.identify(command)
        if command is Command.I0:
            return self.answer(command)[0]
        p = self.dice.profile
        error = self.dice.hit(p.error_rate)
        unstable = self.dice.hit(p.unstable_rate)
        if error:
            return ErrorReply(self.dice.rng.choice(list(ErrorCode)))
        unit = self.spec.unit
        if command in {Command.S, Command.SI}:
            out_of_range = self._range()
            if out_of_range:
                return StatusReply("S", out_of_range)
            if unstable and command is Command.S:
                return StatusReply("S", "I")
            net = self.gross_kg - self.tare_kg
            return WeightReply("S", not unstable, self._shown(net, jitter=unstable), unit)
        if command in {Command.Z, Command.ZI}:
            if unstable and command is Command.Z:
                return StatusReply("Z", "I")
            if abs(self.load_kg) > Decimal(str(self.spec.zero_range_kg)):
                return StatusReply(command.value, "+" if self.load_kg > 0 else "-")
            self.zero_kg = self.load_kg
            self.tare_kg = Decimal(0)
            if command is Command.ZI:
                return StatusReply("ZI", "D" if unstable else "S")
            return StatusReply("Z", "A")
        if command is Command.T:
            if unstable:
                return StatusReply("T", "I")
            if self._range() or self.gross_kg < 0:
                return StatusReply("T", "+" if self.gross_kg > 0 else "-")
            self.tare_kg = self.gross_kg
            return WeightReply("T", True, self._shown(self.tare_kg), unit)
        self.tare_kg = Decimal(0)
        return StatusReply("TAC", "A")

    def host_command(self, command: HostCommand) -> None:
        """Apply a Toledo continuous-mode host command (no reply)."""
        zero_range = Decimal(str(self.spec.zero_range_kg))
        if command is HostCommand.ZERO and abs(self.load_kg) <= zero_range:
            self.zero_kg = self.load_kg
            self.tare_kg = Decimal(0)
        elif command is HostCommand.TARE and self.gross_kg >= 0:
            self.tare_kg = self.gross_kg
        elif command is HostCommand.CLEAR:
            self.tare_kg = Decimal(0)

    def toledo_frame(self, codec: ToledoCodec) -> bytes:
        """Return the next continuous-output frame (bad checksum under the error fault)."""
        p = self.dice.profile
        error = self.dice.hit(p.error_rate)
        unstable = self.dice.hit(p.unstable_rate)
        net = self.gross_kg - self.tare_kg
        frame = frame_for(
            self._shown(net, jitter=unstable),
            self.spec.unit,
            self.spec.decimals,
            tare=self._shown(self.tare_kg) if self.tare_kg else Decimal(0),
            motion=unstable,
            net=bool(self.tare_kg),
        )
        out_of_range = self._range()
        if out_of_range:
            frame = replace(
                frame_for(Decimal(0), self.spec.unit, self.spec.decimals),
                out_of_range=True,
                negative=out_of_range == "-",
            )
        data = codec.encode(frame)
        if error and codec.with_checksum:
            data = data[:-1] + bytes([(data[-1] + 1) & 0x7F])
        return data


class ScaleServer(SimServer):
    """Serves a desk scale: MT-SICS replies, or a Toledo continuous stream at ``stream_hz``."""

    def __init__(
        self,
        spec: ScaleSpec | None = None,
        link: Link | None = None,
        faults: FaultProfile | None = None,
        seed: int = 0,
        **options: float,
    ) -> None:
        """Serve ``spec`` over ``link`` (a new pty by default)."""
        super().__init__(link, faults, seed, name="scale", **options)
        self.spec = spec or ScaleSpec()
        self.runtime = ScaleRuntime(self.spec, self.dice)
        self.toledo = ToledoCodec(self.spec.toledo_checksum)
        self._rx = bytearray()

    @property
    def tick_interval_s(self) -> float | None:
        """Return the Toledo frame period (None in MT-SICS mode)."""
        return 1.0 / self.spec.stream_hz if self.spec.toledo else None

    def junk(self) -> bytes:
        """Return line noise (control bytes) for MT-SICS, printable junk for Toledo frames."""
        return super().junk() if self.spec.toledo else line_noise(self.dice)

    def place(self, weight_kg: float) -> None:
        """Put a load on the platform (from any thread)."""
        with self.lock:
            self.runtime.place(weight_kg)

    def on_tick(self) -> None:
        """Stream one Toledo frame."""
        self.emit(self.runtime.toledo_frame(self.toledo))

    def on_bytes(self, data: bytes) -> None:
        """Answer each complete command line (MT-SICS) or apply host commands (Toledo)."""
        if self.spec.toledo:
            for byte in data:
                try:
                    self.runtime.host_command(HostCommand(chr(byte)))
                except ValueError:
                    continue
            return
        self._rx.extend(data)
        commands: list[Command | Garbled] = drain(mtsics.decode_command, self._rx)
        for command in commands:
            for reply in self.runtime.answer(command):
                self.emit(mtsics.encode(reply))
