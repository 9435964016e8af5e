"""What the line engine tells the hub: its event builder, counters and small types."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from contracts import events as ev
from contracts.clock import Clock
from contracts.events import EdgeEvent
from contracts.statuses import XrayState
from inspection.model import Declaration, DocKind

log = logging.getLogger(__name__)

EventSink = Callable[[EdgeEvent], None]


@dataclass(frozen=True, slots=True)
class XrayScreened:
    """The pre-screen (or an inspector) gave an item's image a state."""

    item_id: int
    state: XrayState
    flags: tuple[str, ...] = ()
    score: float = 0.0
    device_id: str = "xray"


@dataclass(slots=True)
class EngineStats:
    """Counters for health and metrics."""

    requests: int = 0
    answered: int = 0
    late: int = 0
    failures: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    last_latency_ms: float = 0.0


def route_of(decl: Declaration) -> str:
    """The release route of a declaration: ``postal``, or direction and customs mode."""
    if decl.kind is DocKind.POSTAL:
        return "postal"
    direction = (
        "export" if decl.ie_flag == "E" or decl.kind is DocKind.EXPORT_INVENTORY else "import"
    )
    return f"{direction}-{decl.trade_mode or 'other'}"


class EventBuilder:
    """Builds the engine's events (site, edge, time) and hands them to the outbox's sink."""

    site: str
    edge_id: str
    clock: Clock
    _emit: EventSink

    def _event(
        self,
        build: Callable[[], ev.EventPayload],
        item_id: int | None,
        code: str | None,
        *,
        event_id: uuid.UUID | None = None,
    ) -> None:
        """Build one event and emit it; a payload that breaks the contract is dropped."""
        event = self._build(build, item_id, code, event_id=event_id)
        if event is not None:
            self._emit(event)

    def _build(
        self,
        build: Callable[[], ev.EventPayload],
        item_id: int | None,
        code: str | None,
        *,
        event_id: uuid.UUID | None = None,
    ) -> EdgeEvent | None:
        """Build one event; None when its payload breaks the contract.

        A device may report what the contract refuses (a negative weight, an unknown
        confirmation status): the fact still reaches the tracker and the decision, only the
        event is dropped, with a warning, as the hub would refuse it.
        """
        try:
            payload = build()
        except ValidationError as err:
            log.warning(
                "edge %s item %s: event not sent, it breaks the contract: %s",
                self.edge_id,
                item_id,
                ev.problems(err),
            )
            return None
        return ev.edge_event(
            payload,
            site=self.site,
            edge_id=self.edge_id,
            at=self.clock.now(),
            item_id=item_id,
            parcel_code=code,
            event_id=event_id,
        )
