"""Statuses spoken across seams: scanner reads, X-ray images, PLC state, divert confirmations."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ReadStatus(StrEnum):
    """Outcome of one read cycle of a scanner (the tunnel frame's ``status`` field)."""

    OK = "OK"
    NOREAD = "NOREAD"
    MULTI = "MULTI"


class XrayState(StrEnum):
    """Where the parcel's X-ray image stands."""

    NONE = "NONE"  # no image (yet)
    PENDING = "PENDING"  # imaged, waiting for an inspector
    CLEARED = "CLEARED"  # cleared automatically or by an inspector
    SUSPECT = "SUSPECT"  # flagged by pre-screen or an inspector


class PlcState(IntEnum):
    """``plc_state`` register values of the sorter PLC."""

    STOPPED = 0
    RUNNING = 1
    ESTOP = 2
    FAULT = 3


class ConfirmStatus(IntEnum):
    """``status`` of a divert confirmation on the PLC's confirm ring."""

    DIVERTED = 0
    LANE_FULL = 1  # recirculated
    NO_ANSWER = 2  # sent to the reject chute
    LOST_TRACK = 3
    ABORTED = 4


#: The name a divert confirmation status carries in a ``confirmed`` event.
CONFIRM_STATUS_NAMES: dict[ConfirmStatus, str] = {
    ConfirmStatus.DIVERTED: "diverted",
    ConfirmStatus.LANE_FULL: "recirculated",
    ConfirmStatus.NO_ANSWER: "no_answer",
    ConfirmStatus.LOST_TRACK: "lost_track",
    ConfirmStatus.ABORTED: "aborted",
}


def confirm_status_name(value: object) -> str:
    """Return the event name of a confirmation status given as its number or its name."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return CONFIRM_STATUS_NAMES[ConfirmStatus(value)]
        except ValueError:
            pass
    elif isinstance(value, str) and value in CONFIRM_STATUS_NAMES.values():
        return value
    raise ValueError(f"must be 0..4 or one of {sorted(CONFIRM_STATUS_NAMES.values())}")
