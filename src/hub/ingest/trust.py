"""The hub's side of the trust boundary: signed verdicts out, signed events in, trust alarms.

* ``VerdictSigner`` fills in a verdict's edge, issue and expiry times and signs it with the
  hub's key before it is published.
* ``EventTrust`` checks that each event is signed by the enrolled key of the edge it names
  (and, for MQTT, that it came on that edge's topic); an event that fails is refused, never
  stored, and leaves a row in ``trust_alarm``.
* ``screen_decided`` refuses a second, different ``decided`` for a parcel pass: the first
  decision stands and the conflict is an alarm.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from contracts.events import EdgeEvent, EventKind
from contracts.messages import Verdict
from contracts.statuses import ConfirmStatus
from devices.signing import (
    KeyFileError,
    SignatureError,
    load_or_create_private_key,
    public_from_text,
    sign_verdict,
    verify_event,
)
from hub.db.event_models import EVENT, PARCEL
from hub.db.trust_models import EDGE_REGISTRY, TRUST_ALARM

logger = logging.getLogger(__name__)

#: How long a verdict stays valid after the hub signs it, by default, in seconds.
DEFAULT_VERDICT_TTL_S = 300
#: How often the event check re-reads the registry of enrolled edges, in seconds.
REGISTRY_REFRESH_S = 5.0


@dataclass(frozen=True, slots=True)
class TrustAlarm:
    """One message refused at the trust boundary."""

    at: datetime
    site: str
    edge_id: str
    kind: str  # unsigned | forged | foreign | unenrolled | revoked | conflict
    event_id: str | None
    detail: str

    def row(self) -> dict[str, Any]:
        """The ``trust_alarm`` row of this alarm."""
        return {
            "alarm_id": uuid.uuid4(),
            "at": self.at,
            "site": self.site[:64],
            "edge_id": self.edge_id[:64],
            "kind": self.kind,
            "event_id": self.event_id,
            "detail": self.detail[:1000],
        }


def record_alarms(engine: Engine, alarms: Sequence[TrustAlarm]) -> None:
    """Log each alarm and store it in ``trust_alarm`` (a failure to store is logged only)."""
    if not alarms:
        return
    for a in alarms:
        logger.error(
            "TRUST ALARM %s: edge %r event %s: %s", a.kind, a.edge_id, a.event_id, a.detail
        )
    try:
        with engine.begin() as conn:
            conn.execute(insert(TRUST_ALARM), [a.row() for a in alarms])
    except SQLAlchemyError as err:
        logger.error("trust alarms could not be stored: %s", str(err)[:300])


def load_hub_key(path: str | Path) -> Ed25519PrivateKey:
    """The hub's signing key at ``path``, generated there (mode 0600) on first use."""
    return load_or_create_private_key(Path(path))


class VerdictSigner:
    """Signs verdicts with the hub's key, naming the edge that holds the item."""

    def __init__(
        self, engine: Engine, key: Ed25519PrivateKey, ttl_s: int = DEFAULT_VERDICT_TTL_S
    ) -> None:
        """Sign with ``key``; verdicts expire ``ttl_s`` seconds after they are signed."""
        self.engine, self.key, self.ttl = engine, key, timedelta(seconds=ttl_s)

    def edge_of(self, verdict: Verdict) -> str | None:
        """The edge whose pass the verdict is about: the newest pass of its item and code."""
        if verdict.edge_id:
            return verdict.edge_id
        if verdict.item_id is None:
            return None
        query = (
            select(PARCEL.c.edge_id, PARCEL.c.parcel_code)
            .where(
                PARCEL.c.site == verdict.site,
                PARCEL.c.item_id == verdict.item_id,
                PARCEL.c.edge_id != "",
            )
            .order_by(PARCEL.c.last_event_at.desc())
            .limit(20)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        for edge_id, code in rows:
            if code == verdict.parcel_code:
                return str(edge_id)
        return str(rows[0][0]) if rows else None

    def sign(self, verdict: Verdict, now: datetime) -> Verdict:
        """Return ``verdict`` with its edge, issue and expiry times, and the hub's signature."""
        stamped = verdict.model_copy(
            update={
                "edge_id": self.edge_of(verdict),
                "issued_at": now,
                "expires_at": now + self.ttl,
                "sig": None,
            }
        )
        return sign_verdict(self.key, stamped)


@dataclass(frozen=True, slots=True)
class _Enrolled:
    """What the event check needs of one enrolled edge."""

    site: str
    keys: tuple[Ed25519PublicKey, ...]
    previous: Ed25519PublicKey | None
    previous_until: datetime | None
    revoked: bool


class EventTrust:
    """Checks edge events against the registry of enrolled edges (thread-safe)."""

    def __init__(self, engine: Engine, *, require_enrolled: bool = True) -> None:
        """Check against ``engine``'s registry; ``require_enrolled`` refuses unknown edges."""
        self.engine = engine
        self.require_enrolled = require_enrolled
        self._lock = threading.Lock()
        self._edges: dict[str, _Enrolled] = {}
        self._loaded_at = float("-inf")
        self.refused = 0

    def _load(self) -> None:
        """Re-read the registry."""
        edges: dict[str, _Enrolled] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(select(EDGE_REGISTRY)).mappings():
                try:
                    key = public_from_text(row["public_key"])
                    prev = public_from_text(row["previous_key"]) if row["previous_key"] else None
                except KeyFileError as err:
                    logger.error(
                        "edge %s has a broken key in the registry: %s", row["edge_id"], err
                    )
                    continue
                edges[row["edge_id"]] = _Enrolled(
                    row["site"], (key,), prev, row["previous_until"], row["revoked_at"] is not None
                )
        self._edges = edges

    def _enrolled(self, edge_id: str) -> _Enrolled | None:
        """The registry entry of ``edge_id``, re-reading the registry when due or unknown."""
        with self._lock:
            now = time.monotonic()
            stale = now - self._loaded_at > REGISTRY_REFRESH_S
            if stale or (edge_id not in self._edges and now - self._loaded_at > 0.5):
                self._load()
                self._loaded_at = now
            return self._edges.get(edge_id)

    def check(self, event: EdgeEvent, now: datetime) -> TrustAlarm | None:
        """Return the alarm that refuses ``event``, or None when it may be stored."""
        entry = self._enrolled(event.edge_id)

        def alarm(kind: str, detail: str) -> TrustAlarm:
            self.refused += 1
            return TrustAlarm(now, event.site, event.edge_id, kind, str(event.event_id), detail)

        if entry is None:
            if not self.require_enrolled and event.sig is None:
                return None
            return alarm("unenrolled", f"edge {event.edge_id!r} is not enrolled at this hub")
        if entry.revoked:
            return alarm("revoked", f"edge {event.edge_id!r} was revoked")
        if entry.site != event.site:
            return alarm("foreign", f"edge {event.edge_id!r} belongs to site {entry.site!r}")
        keys = list(entry.keys)
        if entry.previous is not None and entry.previous_until and now < entry.previous_until:
            keys.append(entry.previous)
        try:
            verify_event(keys, event)
        except SignatureError as err:
            return alarm("unsigned" if event.sig is None else "forged", str(err))
        return None


def _decision(data: dict[str, Any]) -> tuple[object, object]:
    """What two ``decided`` events must agree on: the outcome and the chute."""
    return data.get("outcome"), data.get("chute")


def screen_decided(
    conn: Connection, rows: list[dict[str, Any]], now: datetime
) -> tuple[list[dict[str, Any]], list[TrustAlarm]]:
    """Drop every ``decided`` row that contradicts the decision its pass holds; alarm each.

    A pass is answered once: the first decision stands (redeliveries of it are not
    conflicts), and only a recirculation (confirm status 1, lane full: the parcel comes round
    again) opens the pass to a new decision. A second, different ``decided`` without one is
    never stored, so it can never replace the first in the projection.
    """
    decided = [r for r in rows if r["kind"] == EventKind.DECIDED.value and r["parcel_key"]]
    if not decided:
        return rows, []
    keys = sorted({r["parcel_key"] for r in decided})
    # (at, event id, kind, data, the batch row or None for a stored event), per pass
    timeline: dict[str, list[tuple[Any, str, str, Any, dict[str, Any] | None]]] = {}
    kinds = (EventKind.DECIDED.value, EventKind.CONFIRMED.value)
    query = select(
        EVENT.c.parcel_key, EVENT.c.at, EVENT.c.event_id, EVENT.c.kind, EVENT.c.data
    ).where(EVENT.c.parcel_key.in_(keys), EVENT.c.kind.in_(kinds))
    for key, at, event_id, kind, data in conn.execute(query):
        timeline.setdefault(key, []).append((at, str(event_id), kind, data, None))
    wanted = set(keys)
    for r in rows:
        if r["kind"] in kinds and r["parcel_key"] in wanted:
            entry = (r["at"], str(r["event_id"]), r["kind"], r["data"], r)
            timeline.setdefault(r["parcel_key"], []).append(entry)
    alarms: list[TrustAlarm] = []
    dropped: set[int] = set()
    for key, events in timeline.items():
        last: tuple[object, object] | None = None
        seen: set[str] = set()
        for _at, event_id, kind, data, item in sorted(events, key=lambda e: (_utc(e[0]), e[1])):
            if event_id in seen:
                continue
            seen.add(event_id)
            if kind == EventKind.CONFIRMED.value:
                if _recirculated(data):
                    last = None  # the parcel comes round again: a new decision may follow
                continue
            decision = _decision(data)
            if last is None or decision == last:
                last = decision
                continue
            if item is not None:  # a row of this batch: refuse it
                dropped.add(id(item))
                alarms.append(
                    TrustAlarm(
                        now,
                        item["site"],
                        item["edge_id"],
                        "conflict",
                        event_id,
                        f"a second, different decision {decision} for {key}; "
                        f"the first, {last}, stands",
                    )
                )
    return [r for r in rows if id(r) not in dropped], alarms


def _recirculated(data: Any) -> bool:
    """True for a confirmation that sends the parcel round again (lane full)."""
    status = data.get("status") if isinstance(data, dict) else None
    return status in (ConfirmStatus.LANE_FULL.value, "recirculated")


def _utc(at: Any) -> Any:
    """A stored or incoming time comparable with the others (naive times are UTC)."""
    if isinstance(at, datetime) and at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    return at


def refused_events(alarms: Iterable[TrustAlarm]) -> int:
    """How many of ``alarms`` refused an event."""
    return sum(1 for a in alarms if a.event_id is not None)
