"""Item tracking: joins what the scanner, scale and X-ray say about each PLC item id."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from contracts.facts import ParcelFacts
from contracts.reasons import Outcome, Reason
from contracts.statuses import XrayState


@dataclass(slots=True)
class TrackedItem:
    """Everything known about one item on the line (weights in kg)."""

    item_id: int
    first_seen: datetime
    codes: tuple[str, ...] = ()
    read_status: str = ""  # "" until a read cycle ends; OK | NOREAD | MULTI
    weight_kg: float | None = None
    weight_stable: bool = False
    xray: XrayState = XrayState.NONE
    faults: set[str] = field(default_factory=set)  # device kinds that failed for this item
    parcel_key: str | None = None
    outcome: Outcome | None = None
    chute: int | None = None
    recirculations: int = 0


class ItemTracker:
    """Items by PLC item id, bounded in number and age; pure and clocked by its callers."""

    def __init__(self, max_items: int = 20_000, max_age_s: float = 3600.0) -> None:
        self._items: OrderedDict[int, TrackedItem] = OrderedDict()
        self._released_keys: dict[str, int] = {}
        self._max_items = max_items
        self._max_age = timedelta(seconds=max_age_s)

    def __len__(self) -> int:
        """Return the number of items tracked."""
        return len(self._items)

    def item(self, item_id: int, at: datetime) -> TrackedItem:
        """Return the item, creating it when first seen at ``at``."""
        it = self._items.get(item_id)
        if it is None:
            it = TrackedItem(item_id, at)
            self._items[item_id] = it
            self._prune(at)
        return it

    def get(self, item_id: int) -> TrackedItem | None:
        """Return the item if tracked."""
        return self._items.get(item_id)

    def on_codes(self, item_id: int, status: str, codes: tuple[str, ...], at: datetime) -> None:
        """Record a read cycle (several cycles accumulate their codes)."""
        it = self.item(item_id, at)
        it.codes = tuple(dict.fromkeys(it.codes + codes))
        if status == "MULTI" or (it.read_status and it.read_status != status and it.codes):
            it.read_status = "MULTI" if len(it.codes) > 1 else "OK"
        else:
            it.read_status = status if it.codes or status != "OK" else "NOREAD"

    def on_weight(self, item_id: int, weight_kg: float | None, stable: bool, at: datetime) -> None:
        """Record a weighing; a later stable weight replaces an unstable one, not vice versa."""
        it = self.item(item_id, at)
        if it.weight_kg is not None and it.weight_stable and not stable:
            return
        it.weight_kg, it.weight_stable = weight_kg, stable

    def on_xray(self, item_id: int, state: XrayState, at: datetime) -> None:
        """Record the X-ray state of an item (image arrived, pre-screen or verdict)."""
        self.item(item_id, at).xray = state

    def on_fault(self, item_id: int, device_kind: str, at: datetime) -> None:
        """Record that a device failed while this item passed it."""
        self.item(item_id, at).faults.add(device_kind)

    def is_duplicate(self, item_id: int, parcel_key: str) -> bool:
        """Return True when another item with the same declaration was already released."""
        other = self._released_keys.get(parcel_key)
        return other is not None and other != item_id

    def facts(
        self,
        item_id: int,
        at: datetime,
        *,
        deadline: datetime | None,
        inspector_hold: bool,
        duplicate: bool,
    ) -> ParcelFacts:
        """Return the decision facts of an item as known at ``at``."""
        it = self.item(item_id, at)
        identity: frozenset[Reason] = frozenset()
        if not it.codes:
            identity = frozenset({Reason.NO_READ})
        return ParcelFacts(
            identity_reasons=identity,
            weight_kg=it.weight_kg,
            weight_stable=it.weight_stable,
            xray=it.xray,
            inspector_hold=inspector_hold,
            duplicate=duplicate,
            device_fault=bool(it.faults),
            deadline=deadline,
        )

    def decided(self, item_id: int, parcel_key: str | None, outcome: Outcome, chute: int) -> None:
        """Record the decision given for an item (a release reserves its declaration)."""
        it = self._items.get(item_id)
        if it is None:
            return
        it.parcel_key, it.outcome, it.chute = parcel_key, outcome, chute
        if parcel_key is not None and outcome is Outcome.RELEASE:
            self._released_keys.setdefault(parcel_key, item_id)

    def recirculated(self, item_id: int) -> int:
        """Count a recirculation of an item and return how many it has had."""
        it = self._items.get(item_id)
        if it is None:
            return 0
        it.recirculations += 1
        return it.recirculations

    def _prune(self, now: datetime) -> None:
        while self._items:
            oldest = next(iter(self._items.values()))
            if len(self._items) > self._max_items or now - oldest.first_seen > self._max_age:
                self._items.popitem(last=False)
            else:
                break
        if len(self._released_keys) > self._max_items * 4:
            for key in list(self._released_keys)[: self._max_items]:
                del self._released_keys[key]
