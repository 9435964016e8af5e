"""The gate every inspector verdict passes before it reaches the line engine.

A verdict is applied only when it is signed by the hub, fresh, not applied before, names
this edge, and (for ``clear`` and ``suspect``) names an item of this line still waiting for
its decision. A verdict for another edge of the site is ignored (every edge hears every
verdict); anything else is dropped with an ``alarm`` event and the parcel stays held, as it
would be without the verdict. A ``hold`` needs no waiting item: it can only keep parcels
back.

A manual desk has no items: it applies verdicts by parcel code, whichever line's image they
judged, so its gate (``waiting=None``) checks signature, site, freshness and replay only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError

from contracts.clock import Clock
from contracts.events import VerdictKind
from contracts.messages import Verdict
from devices.signing import SignatureError, verify_verdict
from edge.trust import EdgeKeys, EdgeTrust

log = logging.getLogger(__name__)

#: Alarm names, as they appear in the ``alarm`` event.
ALARM = "verdict_refused"
FLOOD = "verdict_flood"
#: A genuine verdict (signed, fresh, for this edge) whose parcel is no longer waiting: the
#: inspector answered after the decision. Not applied, but no sign of an attack either.
LATE = "verdict_late"
#: Most ``verdict_refused`` alarm events per window; beyond, refusals are counted and
#: reported in one ``verdict_flood`` alarm when the next window opens (an attacker cannot
#: fill the outbox with alarms).
ALARMS_PER_WINDOW = 100
ALARM_WINDOW_S = 60.0

AlarmSink = Callable[[str, str], None]
ItemWaiting = Callable[[int], bool]


@dataclass(slots=True)
class GateStats:
    """What the gate did with the verdicts it heard."""

    applied: int = 0
    refused: int = 0
    ignored: int = 0  # verdicts for other edges of the site
    unreported: int = 0  # refusals counted but not sent as single alarms (a flood)
    late: int = 0  # genuine verdicts that came after their parcel's decision (not applied)


class VerdictGate:
    """Checks verdicts for one edge (thread-safe; called on the broker's network thread)."""

    def __init__(
        self,
        *,
        site: str,
        edge_id: str,
        keys: EdgeKeys | None,
        trust: EdgeTrust | None,
        clock: Clock,
        waiting: ItemWaiting | None,
        alarm: AlarmSink,
        decided: ItemWaiting | None = None,
    ) -> None:
        """Check against the hub ``keys`` (None: refuse every verdict); alarms go to ``alarm``.

        ``waiting`` tells whether an item of this line waits for its decision; None (a desk)
        accepts a verdict for any edge of the site and any parcel. ``decided`` tells whether
        this line holds the item, already decided: a genuine verdict for it came late (an item
        the line does not hold, as a replay after a restart names, is refused).
        """
        self.site, self.edge_id = site, edge_id
        self.keys, self.clock = keys, clock
        self.skew = timedelta(seconds=trust.max_skew_s if trust else 30.0)
        self.lifetime = timedelta(seconds=trust.max_lifetime_s if trust else 3600.0)
        self._waiting, self._alarm, self._decided = waiting, alarm, decided
        self._seen: dict[str, datetime] = {}  # verdict id -> when it expires
        self._lock = threading.Lock()
        self.stats = GateStats()
        self._window_start: datetime | None = None
        self._window_alarms = 0
        self._window_unreported = 0

    def check(self, payload: bytes) -> Verdict | None:
        """Return the verdict to apply, or None (ignored, or refused with an alarm)."""
        try:
            verdict = Verdict.model_validate_json(payload)
        except (ValidationError, ValueError) as err:
            return self._refuse(f"not a verdict: {str(err)[:200]}")
        if self.keys is None:
            return self._refuse(f"verdict {verdict.verdict_id}: this edge holds no hub key")
        try:
            verify_verdict(self.keys.hub, verdict)
        except SignatureError as err:
            return self._refuse(f"verdict {verdict.verdict_id}: {err}")
        if verdict.site != self.site:
            return self._refuse(f"verdict {verdict.verdict_id} names site {verdict.site!r}")
        if self._waiting is not None and verdict.edge_id != self.edge_id:
            with self._lock:
                self.stats.ignored += 1
            log.debug("verdict %s is for edge %r", verdict.verdict_id, verdict.edge_id)
            return None
        problem = self._stale(verdict)
        if problem:
            return self._refuse(f"verdict {verdict.verdict_id}: {problem}")
        with self._lock:  # claimed once, applied or not: a replay is refused as a replay
            key = str(verdict.verdict_id)
            replayed = key in self._seen
            if not replayed:
                assert verdict.expires_at is not None  # checked by _stale
                self._seen[key] = verdict.expires_at
        if replayed:
            return self._refuse(f"verdict {verdict.verdict_id} was seen before (replay)")
        waiting = self._waiting
        if (
            waiting is not None
            and verdict.verdict is not VerdictKind.HOLD
            and (verdict.item_id is None or not waiting(verdict.item_id))
        ):
            return self._refuse(
                f"verdict {verdict.verdict_id}: item {verdict.item_id} of edge "
                f"{self.edge_id} is not waiting for a decision",
                late=(
                    self._decided is not None
                    and verdict.item_id is not None
                    and self._decided(verdict.item_id)
                ),
            )
        with self._lock:
            self.stats.applied += 1
        return verdict

    def _stale(self, verdict: Verdict) -> str:
        """Why ``verdict`` is not fresh, or ``""`` when it is."""
        issued, expires = verdict.issued_at, verdict.expires_at
        if issued is None or expires is None:
            return "it carries no issue or expiry time"
        now = self.clock.now()
        self._prune(now)
        if issued - self.skew > now:
            return f"issued in the future ({issued.isoformat()})"
        if now >= expires + self.skew:
            return f"expired at {expires.isoformat()}"
        if expires - issued > self.lifetime:
            return "valid for longer than this edge accepts"
        return ""

    def _prune(self, now: datetime) -> None:
        """Forget applied verdicts that have expired (a replay of one is refused as stale)."""
        with self._lock:
            gone = [k for k, exp in self._seen.items() if now >= exp + self.skew]
            for k in gone:
                del self._seen[k]

    def _refuse(self, detail: str, *, late: bool = False) -> Verdict | None:
        """Count, log and raise an alarm for a verdict not applied (a flood is summarised).

        ``late``: a genuine verdict whose parcel was decided before it came (``verdict_late``,
        logged as information); any other is refused (``verdict_refused``, a warning).
        """
        now = self.clock.now()
        flood = 0
        with self._lock:
            if late:
                self.stats.late += 1
            else:
                self.stats.refused += 1
            start = self._window_start
            if start is None or (now - start).total_seconds() >= ALARM_WINDOW_S:
                flood, self._window_unreported = self._window_unreported, 0
                self._window_start, self._window_alarms = now, 0
            report = self._window_alarms < ALARMS_PER_WINDOW
            if report:
                self._window_alarms += 1
            else:
                self._window_unreported += 1
                self.stats.unreported += 1
        if flood:
            self._alarm(FLOOD, f"{flood} more verdicts refused in {ALARM_WINDOW_S:.0f} s")
        if report and late:
            log.info("edge %s: verdict came after the decision: %s", self.edge_id, detail)
            self._alarm(LATE, detail)
        elif report:
            log.warning("edge %s: VERDICT REFUSED: %s", self.edge_id, detail)
            self._alarm(ALARM, detail)
        return None
