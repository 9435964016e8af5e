"""What became of every inducted item: kept in memory, written as ``results.jsonl``."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts.statuses import ConfirmStatus
from simulators.line.tracking import Disposition

#: Version of a ``results.jsonl`` line.
RESULTS_VERSION = 1


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One inducted item and its final disposition; times are simulated seconds of the run.

    ``status`` is the PLC's confirm status in lower case (``diverted``, ``no_answer``,
    ``lost_track``, ``aborted``), or None while the item is still on the belt.
    ``reply_ms`` (wall-clock ms) and ``reply_in_time`` (False: the reply was missing or came
    after the decision point; None before it) describe the first lap's request.
    """

    item_id: int
    seq: int
    labels: tuple[str, ...]
    weight_kg: float
    inducted_at: str  # UTC wall-clock time, ISO 8601
    inducted_s: float
    scanned_s: float | None = None
    frame_sent: bool = False
    weighed_s: float | None = None
    imaged_s: float | None = None
    image_published: bool = False
    chute: int | None = None
    status: str | None = None
    reason: int = 0
    answered: bool = False
    recirculations: int = 0
    finished_s: float | None = None
    reply_ms: float | None = None  # first lap: request posted -> edge reply in the ring, ms
    reply_in_time: bool | None = None  # first lap: reply held at the decision point

    @property
    def finished(self) -> bool:
        """Return True once the item has left the belt."""
        return self.status is not None

    def to_json(self) -> dict[str, Any]:
        """Return the ``results.jsonl`` line of this item."""
        return {"version": RESULTS_VERSION, **asdict(self), "labels": list(self.labels)}


class ResultBook:
    """Every item's result, updated from the loop and X-ray threads, read from any thread."""

    def __init__(self) -> None:
        """Start empty."""
        self._lock = threading.Lock()
        self._items: dict[int, ItemResult] = {}
        self._order: list[int] = []

    def inducted(
        self, item_id: int, seq: int, labels: tuple[str, ...], weight_kg: float, t: float
    ) -> None:
        """Record an item put on the belt at simulated second ``t``."""
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        result = ItemResult(item_id, seq, labels, weight_kg, at, round(t, 4))
        with self._lock:
            if item_id not in self._items:
                self._order.append(item_id)
            self._items[item_id] = result

    def update(self, item_id: int, **changes: Any) -> None:
        """Change fields of an item's result; first-pass times are kept on later laps."""
        with self._lock:
            current = self._items.get(item_id)
            if current is None:
                return
            for key in ("scanned_s", "weighed_s", "imaged_s", "reply_ms", "reply_in_time"):
                if key in changes and getattr(current, key) is not None:
                    del changes[key]
            self._items[item_id] = replace(current, **changes)

    def finished(self, disposition: Disposition, t: float) -> None:
        """Record where an item ended at simulated second ``t``."""
        status = ConfirmStatus(disposition.status).name.lower()
        self.update(
            disposition.item_id,
            chute=disposition.chute,
            status=status,
            reason=disposition.reason,
            answered=disposition.answered,
            recirculations=disposition.laps,
            finished_s=round(t, 4),
        )

    def all(self) -> list[ItemResult]:
        """Return every item's result in induction order."""
        with self._lock:
            return [self._items[i] for i in self._order]

    def __len__(self) -> int:
        """Return the number of inducted items."""
        with self._lock:
            return len(self._order)

    def write(self, path: Path) -> int:
        """Write ``results.jsonl`` (one item per line, induction order); return the lines."""
        items = self.all()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            for item in items:
                out.write(json.dumps(item.to_json(), ensure_ascii=False) + "\n")
        tmp.replace(path)
        return len(items)
