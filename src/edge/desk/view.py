"""What the desk operator sees: the area in big letters, the reasons in plain words, the weights.

``plain_line`` gives one log line per parcel (``--plain``); ``DeskView`` keeps the screen's
state (thread-safe) and renders it with ``rich`` to fit an 80×24 terminal.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime

from rich.align import Align
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from contracts.reasons import Outcome, Reason
from edge.desk.session import DeskResult
from inspection.masking import scrub

#: What each reason means, for the person at the desk.
REASON_WORDS: dict[Reason, str] = {
    Reason.NOT_DECLARED: "no declaration was filed for this parcel",
    Reason.CUSTOMS_PENDING: "customs has not released it yet",
    Reason.CUSTOMS_REJECTED: "customs rejected its declaration",
    Reason.CUSTOMS_INSPECT: "customs ordered an inspection",
    Reason.CUSTOMS_DETAINED: "customs detained it",
    Reason.CUSTOMS_SUSPENDED: "customs suspended its declaration",
    Reason.CUSTOMS_RETURN: "customs ordered it back to the sender",
    Reason.THREE_DOC_MISMATCH: "order, payment and waybill do not agree",
    Reason.VALUE_LIMIT: "its value is over the retail limit",
    Reason.ANNUAL_LIMIT: "the buyer is over the yearly limit",
    Reason.PROHIBITED_GOODS: "its goods are on the prohibited or restricted list",
    Reason.WEIGHT_DEVIATION: "its weight does not match the declared weight",
    Reason.NO_WEIGHT: "no weight was taken: empty, overloaded or silent scale",
    Reason.UNSTABLE_WEIGHT: "the scale never settled: parcel moving or touched",
    Reason.XRAY_SUSPECT: "its X-ray image was marked suspect",
    Reason.XRAY_PENDING: "it has no cleared X-ray image",
    Reason.INSPECTOR_HOLD: "an inspector put it on hold",
    Reason.RANDOM_SELECTION: "picked for a random check",
    Reason.DUPLICATE_PARCEL: "its declaration was already released for another parcel",
    Reason.INVALID_CODE: "the code read is not a valid item id: bad check digit",
    Reason.NO_READ: "no code could be read: scan it again",
    Reason.MULTI_READ_CONFLICT: "its codes point to different declarations",
    Reason.LATE_DECISION: "the decision came too late",
    Reason.DEVICE_FAULT: "a device at the desk failed",
    Reason.DECLARATION_CONFLICT: "two live declarations claim it: hold it until one is withdrawn",
    Reason.TAX_MISMATCH: "the declared tax differs from the computed tax",
}

#: What the operator does with the parcel, per outcome.
ACTION_WORDS: dict[Outcome, str] = {
    Outcome.RELEASE: "released: put it with the released parcels",
    Outcome.INSPECT: "take it to manual inspection",
    Outcome.HOLD: "put it in the hold cage",
    Outcome.RETURN: "set it aside for return to the sender",
    Outcome.REJECT: "technical problem: fix it (rescan, reweigh) or key it in",
}

_STYLE: dict[Outcome, str] = {
    Outcome.RELEASE: "bold white on green",
    Outcome.INSPECT: "bold black on yellow",
    Outcome.HOLD: "bold white on red",
    Outcome.RETURN: "bold white on magenta",
    Outcome.REJECT: "bold black on white",
}

# A 3×5 pixel font (rows top to bottom, 3 bits each), drawn with half blocks in 3 text rows.
_FONT: dict[str, str] = {
    "A": "111101111101101", "B": "110101110101110", "C": "111100100100111",
    "D": "110101101101110", "E": "111100110100111", "F": "111100110100100",
    "G": "111100101101111", "H": "101101111101101", "I": "111010010010111",
    "J": "001001001101111", "K": "101101110101101", "L": "100100100100111",
    "M": "101111111101101", "N": "110101101101101", "O": "111101101101111",
    "P": "111101111100100", "Q": "111101101111001", "R": "110101110101101",
    "S": "111100111001111", "T": "111010010010010", "U": "101101101101111",
    "V": "101101101101010", "W": "101101111111101", "X": "101101010101101",
    "Y": "101101010010010", "Z": "111001010100111", "0": "111101101101111",
    "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111",
    "7": "111001001001001", "8": "111101111101111", "9": "111101111001111",
    " ": "000000000000000", "-": "000000111000000", "/": "001001010100100",
    ".": "000000000000010", ":": "000010000010000", "&": "010101010101011",
}  # fmt: skip
_HALF = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}


def big_text(text: str, width: int) -> list[str] | None:
    """Return ``text`` in 3-row block letters, or None when it has other characters or is wider."""
    up = text.upper()
    if len(up) * 4 - 1 > width or any(ch not in _FONT for ch in up):
        return None
    rows: list[str] = []
    for pair in ((0, 1), (2, 3), (4, 5)):
        line = []
        for ch in up:
            bits = _FONT[ch] + "000"
            cells = [
                _HALF[(bits[pair[0] * 3 + x] == "1", bits[pair[1] * 3 + x] == "1")]
                for x in range(3)
            ]
            line.append("".join(cells))
        rows.append(" ".join(line))
    return rows


def weight_words(result: DeskResult) -> str:
    """Return the measured and declared weights in words (kg; tolerance in g)."""
    w = result.weighing
    if w is None:
        measured = "not weighed"
    elif w.weight_kg is None:
        measured = f"no weight ({scrub(w.detail)})"
    else:
        measured = f"{w.weight_kg:.3f} kg {'stable' if w.stable else 'MOVING'}"
    if result.declared_kg is None:
        return f"{measured}, declared -"
    allowed = f" ±{result.allowed_g:.0f} g" if result.allowed_g is not None else ""
    return f"{measured}, declared {result.declared_kg:.3f} kg{allowed}"


def reasons_words(result: DeskResult) -> str:
    """Return the reasons as ``CODE (plain words)``, deciding one first, or ``no reasons``."""
    parts = [f"{r.value} ({REASON_WORDS.get(r, r.value)})" for r in result.decision.reasons]
    return "; ".join(parts) or "no reasons"


def plain_line(result: DeskResult) -> str:
    """Return the one-line record of a parcel printed by ``--plain``."""
    return (
        f"#{result.seq} {result.code or '-'} {result.outcome.value} -> {result.area} | "
        f"{weight_words(result)} | {reasons_words(result)}"
    )


def _time(at: datetime) -> str:
    return at.strftime("%H:%M:%S")


class DeskView:
    """The screen's state (last parcel, recent ones, status line), updated from any thread."""

    def __init__(self, desk_id: str, history: int = 5, width: int = 80) -> None:
        """Keep ``history`` recent parcels; lay out for ``width`` columns."""
        self.desk_id = desk_id
        self.width = width
        self._lock = threading.Lock()
        self._status = "starting"
        self._last: DeskResult | None = None
        self._recent: deque[DeskResult] = deque(maxlen=history)

    def status(self, text: str) -> None:
        """Set the status line (what the desk is doing or waiting for)."""
        with self._lock:
            self._status = text

    def show(self, result: DeskResult) -> None:
        """Show a newly decided parcel."""
        with self._lock:
            self._last = result
            self._recent.appendleft(result)

    def render(self) -> RenderableType:
        """Return the whole screen (at most 24 rows at 80 columns)."""
        with self._lock:
            last, recent, status = self._last, list(self._recent), self._status
        parts: list[RenderableType] = [self._destination(last)]
        if last is not None:
            parts.append(self._details(last))
        parts.append(self._history(recent))
        parts.append(Text(f"{self.desk_id} · {status}"[: self.width], style="bold"))
        return Group(*parts)

    def _destination(self, r: DeskResult | None) -> RenderableType:
        if r is None:
            return Panel(Text("Scan a parcel, then put it on the scale.", justify="center"))
        style = _STYLE[r.outcome]
        rows = big_text(r.area, self.width - 6)
        block = Text("\n".join(rows) if rows is not None else f"\n{r.area}\n", justify="left")
        body = Align.center(block)
        title = f"#{r.seq} {r.code or 'no code'} → {r.outcome.value}"
        return Panel(
            body,
            title=title[: self.width - 6],
            subtitle=ACTION_WORDS[r.outcome][: self.width - 6],
            style=style,
            padding=(1, 2),
        )

    def _details(self, r: DeskResult) -> RenderableType:
        text = Text()
        text.append("Weight  ", style="bold")
        text.append(weight_words(r)[: self.width - 8] + "\n")
        reasons = r.decision.reasons[:4]
        if not reasons:
            text.append("Why     ", style="bold")
            text.append("every check passed")
        for i, reason in enumerate(reasons):
            text.append("Why     " if i == 0 else "        ", style="bold")
            line = REASON_WORDS.get(reason, reason.value)
            text.append(line[: self.width - 8] + ("\n" if i < len(reasons) - 1 else ""))
        if len(r.decision.reasons) > 4:
            text.append(f" (+{len(r.decision.reasons) - 4} more)")
        return text

    def _history(self, recent: list[DeskResult]) -> RenderableType:
        table = Table(
            "time", "#", "code", "outcome", "first reason", box=None, pad_edge=False, expand=False
        )
        for r in recent:
            first = r.decision.reasons[0].value if r.decision.reasons else "-"
            table.add_row(_time(r.at), str(r.seq), r.code[:20] or "-", r.outcome.value, first)
        return table
