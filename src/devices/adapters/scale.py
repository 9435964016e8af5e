"""Static scale adapter: MT-SICS requests or Toledo continuous output become ``WeightMeasured``.

Outcomes of ``measure()``:

- ``S S`` (or a still Toledo frame): weight in kg, ``stable=True``;
- ``S D`` (or a Toledo frame in motion): weight in kg, ``stable=False``, flag ``motion``;
- ``S I`` / ``S +`` / ``S -`` (or a Toledo frame out of range): ``weight_kg=None``,
  ``stable=False``, flag ``not_ready`` / ``overload`` / ``underload``;
- no reply, only garbled or ``ES``/``ET``/``EL`` replies after every retry, a reply in a unit
  other than the profile's, or a dead port: ``DeviceUnavailable`` is raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from devices.adapters.base import SerialAdapter
from devices.codecs import mtsics
from devices.codecs.base import Garbled
from devices.codecs.mtsics import (
    Command,
    ErrorReply,
    InfoReply,
    Reply,
    StatusReply,
    WeightReply,
)
from devices.codecs.toledo import HostCommand, ToledoCodec, ToledoFrame
from devices.errors import DeviceError, DeviceUnavailable, ProtocolError
from devices.events import WeightMeasured
from devices.profiles import ScaleProfile
from devices.serial_bus import NoReply

log = logging.getLogger(__name__)

#: The echo each command's reply starts with; ``SI`` is answered ``S`` by the reference
#: manual and ``SI`` by some balances, so both are taken.
_ECHO: dict[Command, frozenset[str]] = {
    Command.S: frozenset({"S"}),
    Command.SI: frozenset({"S", "SI"}),
    Command.RESET: frozenset({"I4"}),
}
_FLAG_BY_STATUS = {"I": "not_ready", "+": "overload", "-": "underload"}


class CommandRefusedError(DeviceError):
    """The scale answered that it cannot carry out a command now (e.g. zero while moving)."""


@dataclass(frozen=True, slots=True)
class ScaleIdentity:
    """What a balance says of itself (MT-SICS level 0): serial number, data and software."""

    serial_number: str
    balance_data: str
    software_version: str


class ScaleAdapter(SerialAdapter):
    """Weighs, zeroes and tares a desk scale (MT-SICS or Toledo continuous, per profile)."""

    kind = "scale"

    def __init__(self, profile: ScaleProfile, **options: Any) -> None:
        """See ``SerialAdapter``."""
        super().__init__(profile, **options)
        self.profile = profile
        self.toledo = ToledoCodec(profile.toledo_checksum)
        self.bad_replies = 0

    @property
    def _timeout_s(self) -> float:
        """Return the reply timeout in seconds."""
        return self.profile.reply_timeout_ms / 1000.0

    # MT-SICS ---------------------------------------------------------------------------

    def _ask(self, command: Command) -> WeightReply | StatusReply | InfoReply:
        """Send ``command`` with retries; return the first well-formed reply to it."""
        echo = _ECHO.get(command, frozenset({command.value}))
        problems: list[str] = []
        last: DeviceError | None = None
        for _ in range(self.profile.retries + 1):
            try:
                reply = cast(
                    "Reply | Garbled",
                    self.bus.exchange(
                        mtsics.encode_command(command), mtsics.decode, self._timeout_s
                    ),
                )
            except NoReply as err:
                problems.append(err.detail)
                last = err
                continue
            if isinstance(reply, WeightReply | StatusReply | InfoReply) and reply.command in echo:
                return reply
            self.bad_replies += 1
            if isinstance(reply, Garbled):
                last = ProtocolError(f"garbled reply ({reply.reason}): {reply.raw[:40]!r}")
            elif isinstance(reply, ErrorReply):
                last = ProtocolError(f"scale answered {reply.code.value}")
            else:
                last = ProtocolError(f"reply {reply.command!r} does not answer {command.value}")
            problems.append(str(last))
        detail = f"{command.value} failed {self.profile.retries + 1} times: {'; '.join(problems)}"
        self.bus.report_unresponsive(detail)
        raise DeviceUnavailable(self.device_id, detail) from last

    def _kilograms(self, value: Decimal, unit: str) -> float:
        """Convert a reply value to kg, refusing a unit the profile does not expect."""
        if unit != self.profile.unit:
            # a permanent misconfiguration: offline until a reply in the right unit
            detail = f"scale sends {unit!r} but its profile expects {self.profile.unit!r}"
            self.bus.report_unresponsive(detail)
            raise DeviceUnavailable(self.device_id, detail)
        return mtsics.to_kg(value, unit)

    def _text(self, command: Command) -> str:
        """Ask an identification command and return its text fields joined by spaces."""
        reply = self._ask(command)
        if not isinstance(reply, InfoReply):
            raise DeviceUnavailable(
                self.device_id, f"scale cannot answer {command.value} now ({_describe(reply)})"
            )
        return " ".join(str(f) for f in reply.fields if f != "")

    def identify(self) -> ScaleIdentity:
        """Ask the balance for its serial number, data and software (``I4``, ``I2``, ``I3``)."""
        if self.profile.protocol == "toledo_continuous":
            raise DeviceUnavailable(self.device_id, "a Toledo continuous stream cannot identify")
        identity = ScaleIdentity(
            self._text(Command.I4), self._text(Command.I2), self._text(Command.I3)
        )
        self.bus.report_alive()
        return identity

    def measure(self, item_id: int = 0) -> WeightMeasured:
        """Weigh once and return the measurement in kg (see the module doc for outcomes)."""
        if self.profile.protocol == "toledo_continuous":
            return self._measure_toledo(item_id)
        reply = self._ask(Command(self.profile.weigh_command))
        if isinstance(reply, InfoReply):
            raise DeviceUnavailable(
                self.device_id, f"scale answered {_describe(reply)} to a weighing"
            )
        if isinstance(reply, WeightReply):
            kg = self._kilograms(reply.value, reply.unit)
            self.bus.report_alive()
            flags = frozenset() if reply.stable else frozenset({"motion"})
            return WeightMeasured(
                self.device_id, item_id, kg, reply.stable, self.clock.now(), flags
            )
        flag = _FLAG_BY_STATUS.get(reply.status)
        if flag is None:
            raise DeviceUnavailable(
                self.device_id, f"scale answered '{reply.command} {reply.status}' to a weighing"
            )
        self.bus.report_alive()
        return WeightMeasured(
            self.device_id, item_id, None, False, self.clock.now(), frozenset({flag})
        )

    def zero(self, immediately: bool = False) -> None:
        """Zero (``Z`` waits for stability, ``ZI`` does not); CommandRefusedError when refused."""
        if self.profile.protocol == "toledo_continuous":
            self.bus.write(HostCommand.ZERO.value.encode("ascii"))
            return
        reply = self._ask(Command.ZI if immediately else Command.Z)
        self.bus.report_alive()
        if not isinstance(reply, StatusReply) or not reply.executed:
            raise CommandRefusedError(f"device {self.device_id}: zero refused ({_describe(reply)})")

    def tare(self) -> float:
        """Tare with the load on the scale and return the tare in kg; CommandRefusedError if not."""
        if self.profile.protocol == "toledo_continuous":
            self.bus.write(HostCommand.TARE.value.encode("ascii"))
            frame = self._next_frame(lambda f: f.net or f.out_of_range)
            if frame.out_of_range:
                raise CommandRefusedError(f"device {self.device_id}: tare refused (out of range)")
            return self._kilograms(frame.tare, frame.unit)
        reply = self._ask(Command.T)
        self.bus.report_alive()
        if not isinstance(reply, WeightReply):
            raise CommandRefusedError(f"device {self.device_id}: tare refused ({_describe(reply)})")
        return self._kilograms(reply.value, reply.unit)

    def clear_tare(self) -> None:
        """Clear the tare; CommandRefusedError if the scale will not."""
        if self.profile.protocol == "toledo_continuous":
            self.bus.write(HostCommand.CLEAR.value.encode("ascii"))
            return
        reply = self._ask(Command.TAC)
        self.bus.report_alive()
        if not isinstance(reply, StatusReply) or not reply.executed:
            raise CommandRefusedError(f"device {self.device_id}: clear tare refused")

    # Toledo continuous -----------------------------------------------------------------

    def _next_frame(self, wanted: Callable[[ToledoFrame], bool] | None = None) -> ToledoFrame:
        """Discard stale stream data and return the next valid frame (that ``wanted`` accepts)."""
        self.bus.discard_input()
        deadline = time.monotonic() + self._timeout_s
        while (left := deadline - time.monotonic()) > 0:
            frames: list[ToledoFrame | Garbled] = self.bus.read_frames(
                self.toledo.decode, min(0.1, left)
            )
            for frame in frames:
                if isinstance(frame, Garbled):
                    self.bad_replies += 1
                    log.debug("device %s: garbled Toledo frame: %s", self.device_id, frame.reason)
                elif wanted is None or wanted(frame):
                    return frame
        if wanted is not None:
            raise CommandRefusedError(f"device {self.device_id}: command not applied in time")
        detail = f"no valid Toledo frame within {self.profile.reply_timeout_ms} ms"
        self.bus.report_unresponsive(detail)
        raise NoReply(self.device_id, detail)

    def _measure_toledo(self, item_id: int) -> WeightMeasured:
        """Take the next continuous-output frame as the measurement."""
        frame = self._next_frame()
        now = self.clock.now()
        if frame.out_of_range:
            self.bus.report_alive()
            flag = "underload" if frame.negative else "overload"
            return WeightMeasured(self.device_id, item_id, None, False, now, frozenset({flag}))
        kg = self._kilograms(frame.weight, frame.unit)
        self.bus.report_alive()
        flags = {"motion"} if frame.motion else set()
        if frame.net:
            flags.add("net")
        return WeightMeasured(self.device_id, item_id, kg, not frame.motion, now, frozenset(flags))


def _describe(reply: WeightReply | StatusReply | InfoReply) -> str:
    """Return a reply as the scale sent it, for error messages."""
    if isinstance(reply, InfoReply):
        return mtsics.encode(reply).decode("ascii").strip()
    if isinstance(reply, StatusReply):
        return f"{reply.command} {reply.status}"
    return f"{reply.command} {'S' if reply.stable else 'D'} {reply.value} {reply.unit}"
