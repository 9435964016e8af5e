"""Edge event batches over HTTP: the acknowledged path beside MQTT, for role ``edge``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import BaseModel, Field

from hub.db.engine import StoreError
from hub.deps import ClockDep, EdgeMachine, EngineDep, SessionDep, SettingsDep
from hub.ingest.events import ingest
from hub.services.edges import bound_edge

router = APIRouter(prefix="/api/v1/events", tags=["events"])

#: Most events in one request.
MAX_BATCH = 5000


class RejectionPublic(BaseModel):
    """One refused event: its 0-based position in the batch, its id when readable, why."""

    index: int
    event_id: str | None
    error: str


class IngestResult(BaseModel):
    """What happened to a batch: stored now, already held (duplicates), refused."""

    received: int
    stored: int
    duplicates: int
    rejected: int
    rejections: list[RejectionPublic] = Field(default_factory=list)


@router.post(
    "",
    response_model=IngestResult,
    summary="Store a batch of edge events (each exactly once)",
    responses={503: {"description": "The database is unavailable; send the batch again."}},
)
def post_events(
    *,
    _edge: EdgeMachine,
    request: Request,
    session: SessionDep,
    engine: EngineDep,
    clock: ClockDep,
    settings: SettingsDep,
    events: Annotated[
        list[dict[str, Any]],
        Body(
            min_length=1,
            max_length=MAX_BATCH,
            description="EdgeEvent objects (contracts.events.EdgeEvent); each is checked alone.",
        ),
    ],
) -> IngestResult:
    """Store every valid event not held yet; a bad event is refused alone, with its error.

    Sending the same batch again is safe: events already held count as duplicates. A key
    bound to an edge may send only that edge's events; every event must carry the signature
    of its enrolled edge (see docs/security.md).
    """
    edge_id = bound_edge(session, _edge)
    origins = [(settings.site_id, edge_id)] * len(events) if edge_id else None
    trust = getattr(request.app.state, "event_trust", None)
    try:
        report = ingest(
            engine, events, clock=clock, site=settings.site_id, origins=origins, trust=trust
        )
    except StoreError as err:
        raise HTTPException(503, "the event store is unavailable; send the batch again") from err
    return IngestResult(
        received=report.received,
        stored=report.stored,
        duplicates=report.duplicates,
        rejected=len(report.rejected),
        rejections=[RejectionPublic(**r.as_json()) for r in report.rejected],
    )
