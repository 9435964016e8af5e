"""What a tunnel scanner sends for one item, read faults included: the one tunnel-frame emitter.

The serial tunnel simulator (``serial_sims.tunnel``) and the site's TCP gate
(``site.scanner``) both roll their read faults and encode their frames here, so a
``FaultProfile`` means the same thing to both: ``error_rate`` sends a garbled frame,
``noread_rate`` a NOREAD, ``multiread_rate`` a second code on the item.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from contracts.statuses import ReadStatus
from devices.codecs import tunnel
from devices.codecs.tunnel import TunnelFrame
from simulators.faults import FaultDice


class ReadFault(enum.Enum):
    """The fault one read suffers."""

    NONE = "none"
    NOREAD = "noread"
    MULTI = "multi"
    ERROR = "error"


@dataclass(slots=True)
class TunnelEmitter:
    """Rolls a read's fault and encodes the ``STX item_id;status;codes ETX`` frame."""

    aim: str
    item_id_width: int
    dice: FaultDice

    def roll(self) -> ReadFault:
        """Return this read's fault: an error wins over a no-read, which wins over a multi-read.

        Always three draws from the dice (no-read, multi-read, error), whatever the rates.
        """
        p = self.dice.profile
        noread = self.dice.hit(p.noread_rate)
        multi = self.dice.hit(p.multiread_rate)
        error = self.dice.hit(p.error_rate)
        if error:
            return ReadFault.ERROR
        if noread:
            return ReadFault.NOREAD
        return ReadFault.MULTI if multi else ReadFault.NONE

    def frame(self, item_id: int, labels: tuple[str, ...], fault: ReadFault) -> bytes:
        """Return the frame of an item with ``labels`` under ``fault`` (ValueError if unsendable).

        The status follows the codes sent: none is NOREAD, one is OK, more is MULTI; the
        caller adds the second label of a multi-read to ``labels``.
        """
        if fault is ReadFault.ERROR:
            return b"\x02" + f"{item_id:0{self.item_id_width}d};ERR;".encode("ascii") + b"\x03"
        codes = () if fault is ReadFault.NOREAD else tuple(self.aim + label for label in labels)
        if not codes:
            status = ReadStatus.NOREAD
        elif len(codes) == 1:
            status = ReadStatus.OK
        else:
            status = ReadStatus.MULTI
        return tunnel.encode(TunnelFrame(item_id, status, codes), self.item_id_width)


def stray_label(item_id: int) -> str:
    """Return a second label for a multi-read when the item carries only one."""
    return f"LBL{item_id:08d}"
