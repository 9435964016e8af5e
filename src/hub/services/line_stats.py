"""The line page's live summary: per line (edge) throughput, breakdowns, latency, devices, alarms.

The figures come from the grouped queries of :mod:`hub.services.line_queries`; this module
holds the thresholds, the response models and the alarm rules. Times are UTC, latencies in
milliseconds, windows in minutes, rates in percent.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlmodel import Session

from hub.services.errors import Invalid
from hub.services.line_queries import Key, LineQueries

logger = logging.getLogger(__name__)

#: Longest chart window one summary may cover, in minutes (one day).
MAX_WINDOW_MIN = 1440
#: Alarm names (from the edge or worked out here) that mean a broken invariant.
CRITICAL_ALARMS = frozenset({"release_without_decision", "contradicting_decisions"})
#: Plain words for every alarm name the page knows; others are shown by name.
ALARM_TITLES: dict[str, str] = {
    "late_reply": "Late or missing answers to the sorter",
    "confirm_mismatch": "Parcel went to another chute than answered",
    "release_without_decision": "Parcel reached a release chute without a RELEASE decision",
    "contradicting_decisions": "The sorter was told two different things about one parcel",
    "lost_confirms": "Divert confirmations lost while the edge was away",
    "no_read_rate": "No-read rate above the threshold",
    "device_offline": "Device offline",
    "lost_track": "The sorter lost track of a parcel",
    "aborted": "A divert was aborted",
    "recirculation_limit": "A parcel recirculated too often",
    "unknown_status": "The sorter sent an unknown confirmation status",
    "no_answer": "No answer in time: parcel sent to the reject chute",
    "verdict_refused": "The edge refused a verdict (signature, time or parcel wrong)",
    "verdict_flood": "Many verdicts refused: someone may be sending forged ones",
    "verdict_late": "A verdict came after its parcel was decided (a late review)",
}


class _Thresholds(BaseModel):
    """The alarm thresholds and refresh period of the line page."""

    no_read_threshold_pct: float = Field(
        default=5.0, ge=0, le=100, description="No-read rate above which the alarm opens, %."
    )
    no_read_window_min: int = Field(
        default=10, ge=1, le=MAX_WINDOW_MIN, description="Window of the no-read rate, minutes."
    )
    no_read_min_parcels: int = Field(
        default=20, ge=1, description="Parcels read in that window before the rate counts."
    )
    deadline_ms: float = Field(
        default=50.0, gt=0, description="Decision deadline when a decision names none, ms."
    )
    alarm_window_min: int = Field(
        default=10,
        ge=1,
        le=MAX_WINDOW_MIN,
        description="An event alarm stays open while it happened this recently, minutes.",
    )
    poll_interval_s: float = Field(
        default=2.0, ge=0.5, le=60, description="How often the page refreshes, seconds."
    )


class Thresholds(_Thresholds):
    """The thresholds a summary was computed with (as returned to the page)."""

    model_config = ConfigDict(frozen=True)


class LinePageSettings(_Thresholds, BaseSettings):
    """Line page thresholds; each can be set as ``CLEARLINE_LINE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CLEARLINE_LINE_", extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Count(_Out):
    """One group of a breakdown: its key (chute, reason or outcome) and parcels."""

    key: str = Field(description="Chute number, reason code or outcome.")
    count: int = Field(description="Parcels in the group.")


class MinuteCount(_Out):
    """Parcels first seen during one UTC minute."""

    minute: datetime = Field(description="Start of the minute (UTC).")
    parcels: int = Field(description="Parcels first seen in that minute.")


class Latency(_Out):
    """Decision latency over the window, in milliseconds (nearest-rank percentiles)."""

    count: int = Field(0, description="Decisions with a latency.")
    p50_ms: float | None = Field(None, description="Median, ms.")
    p95_ms: float | None = Field(None, description="95th percentile, ms.")
    p99_ms: float | None = Field(None, description="99th percentile, ms.")
    max_ms: float | None = Field(None, description="Largest, ms.")


class NoRead(_Out):
    """The no-read rate over the last ``window_min`` minutes."""

    window_min: int = Field(description="Window of the rate, minutes.")
    parcels_read: int = Field(description="Parcels with a read result.")
    no_reads: int = Field(description="Of them, parcels whose latest read was NOREAD.")
    rate_pct: float | None = Field(description="no_reads / parcels_read, % (None: no reads).")


class DeviceState(_Out):
    """The latest reported state of one device of a line."""

    device_id: str = Field(description="Device id.")
    device_kind: str = Field(description="scanner, scale, checkweigher, xray, plc, ...")
    online: bool = Field(description="Whether its latest report was online.")
    since: datetime = Field(description="When it reported this state (UTC).")
    detail: str = Field("", description="Why, in words.")


class LineAlarm(_Out):
    """One open alarm of a line."""

    code: str = Field(description="late_reply, confirm_mismatch, no_read_rate, ...")
    severity: str = Field(description="critical or warning.")
    title: str = Field(description="The alarm in words.")
    count: int = Field(description="Occurrences in the alarm window (1 for a state).")
    last_at: datetime | None = Field(description="Latest occurrence (UTC).")
    detail: str = Field(description="What happened, in words.")


class LineStats(_Out):
    """Everything the line page shows for one line (one edge)."""

    site: str = Field(description="Site id.")
    edge_id: str = Field(description="Edge (line) id.")
    parcels: int = Field(description="Parcels first seen in the window.")
    decided: int = Field(description="Of them, parcels with a decision.")
    per_minute: list[MinuteCount] = Field(description="Parcels per minute, oldest first.")
    by_outcome: list[Count] = Field(description="Parcels per outcome, largest first.")
    by_chute: list[Count] = Field(description="Decided parcels per chute, by chute number.")
    by_reason: list[Count] = Field(description="Parcels per reason, largest first.")
    latency: Latency
    no_read: NoRead
    devices: list[DeviceState]
    alarms: list[LineAlarm] = Field(description="Open alarms, critical first, newest first.")


class LineSummary(_Out):
    """The line page's data: one entry per line, over a window ending now."""

    generated_at: datetime = Field(description="The hub's time of the summary (UTC).")
    window_min: int = Field(description="Chart window, minutes.")
    window_start: datetime = Field(description="Start of the first minute shown (UTC).")
    thresholds: Thresholds
    lines: list[LineStats]


def _counts(rows: list[tuple[str, int]], numeric: bool = False) -> list[Count]:
    """Counts largest first (or by chute number when ``numeric``)."""
    if numeric:
        ordered = sorted(rows, key=lambda r: (int(r[0]) if r[0].isdigit() else 1 << 30, r[0]))
    else:
        ordered = sorted(rows, key=lambda r: (-r[1], r[0]))
    return [Count(key=k, count=n) for k, n in ordered]


def _alarm(code: str, count: int, last_at: datetime | None, detail: str) -> LineAlarm:
    """One alarm with its severity and title."""
    return LineAlarm(
        code=code,
        severity="critical" if code in CRITICAL_ALARMS else "warning",
        title=ALARM_TITLES.get(code, code.replace("_", " ")),
        count=count,
        last_at=last_at,
        detail=detail,
    )


def _parcels(n: int) -> str:
    """``1 parcel`` / ``n parcels``."""
    return f"{n} parcel" if n == 1 else f"{n} parcels"


def _no_read(read: tuple[int, int] | None, t: _Thresholds) -> NoRead:
    """The no-read figure of one line."""
    n, bad = read or (0, 0)
    rate = round(100.0 * bad / n, 2) if n else None
    return NoRead(window_min=t.no_read_window_min, parcels_read=n, no_reads=bad, rate_pct=rate)


class _Alarms:
    """The alarm inputs of every line, queried once per summary."""

    def __init__(self, q: LineQueries, now: datetime, t: _Thresholds) -> None:
        since = now - timedelta(minutes=t.alarm_window_min)
        self.t = t
        self.late = q.late_replies(since, t.deadline_ms)
        self.mismatch = q.mismatches(since)
        self.edge = q.edge_alarms(since)
        self.no_read = q.no_reads(now - timedelta(minutes=t.no_read_window_min))

    def keys(self) -> set[Key]:
        """Lines that have an alarm input."""
        return set(self.late) | set(self.mismatch) | set(self.edge) | set(self.no_read)

    def for_line(self, key: Key, devices: list[DeviceState]) -> list[LineAlarm]:
        """The open alarms of one line, critical first, then newest first."""
        t, w = self.t, self.t.alarm_window_min
        out: list[LineAlarm] = []
        if key in self.late:
            n, at = self.late[key]
            out.append(
                _alarm(
                    "late_reply",
                    n,
                    at,
                    f"{_parcels(n)} in the last {w} min (deadline {t.deadline_ms:g} ms)",
                )
            )
        if key in self.mismatch:
            n, at = self.mismatch[key]
            out.append(
                _alarm(
                    "confirm_mismatch",
                    n,
                    at,
                    f"{_parcels(n)} in the last {w} min",
                )
            )
        for name, n, at, detail in self.edge.get(key, []):
            out.append(_alarm(name, n, at, f"{n}× in the last {w} min; latest: {detail}"))
        nr = _no_read(self.no_read.get(key), t)
        if (
            nr.rate_pct is not None
            and nr.parcels_read >= t.no_read_min_parcels
            and nr.rate_pct > t.no_read_threshold_pct
        ):
            out.append(
                _alarm(
                    "no_read_rate",
                    nr.no_reads,
                    None,
                    (
                        f"{nr.rate_pct:.1f} % over the last {nr.window_min} min "
                        f"({nr.no_reads} of {nr.parcels_read} parcels; threshold "
                        f"{t.no_read_threshold_pct:g} %)"
                    ),
                )
            )
        for dev in devices:
            if not dev.online:
                words = f"{dev.device_kind} {dev.device_id} since {dev.since:%H:%M:%S} UTC"
                detail = f"{words}: {dev.detail}" if dev.detail else words
                out.append(_alarm("device_offline", 1, dev.since, detail))
        out.sort(key=lambda a: a.last_at.timestamp() if a.last_at else float("inf"), reverse=True)
        out.sort(key=lambda a: a.severity != "critical")
        return out


def line_summary(
    session: Session,
    now: datetime,
    *,
    window_min: int = 60,
    thresholds: _Thresholds | None = None,
    site: str | None = None,
) -> LineSummary:
    """Summarise every line of ``site`` (all sites when None) over the last ``window_min`` min.

    The window is whole UTC minutes ending with the current (partial) minute of ``now``.
    Raises Invalid when ``window_min`` is outside 1..MAX_WINDOW_MIN.
    """
    if not 1 <= window_min <= MAX_WINDOW_MIN:
        raise Invalid(f"window_min must be 1..{MAX_WINDOW_MIN} minutes", field="window_min")
    t = thresholds if thresholds is not None else LinePageSettings()
    first = now.replace(second=0, microsecond=0) - timedelta(minutes=window_min - 1)
    q = LineQueries(session.connection(), first, site)
    totals, minutes = q.totals(), q.per_minute()
    outcomes, chutes, reasons = q.by_outcome(), q.by_chute(), q.by_reason()
    latency, devices = q.latency(), q.devices()
    alarms = _Alarms(q, now, t)
    labels = [first + timedelta(minutes=i) for i in range(window_min)]
    lines = []
    for key in sorted(set(totals) | set(devices) | alarms.keys()):
        parcels, decided = totals.get(key, (0, 0))
        per = minutes.get(key, {})
        states = sorted(
            (DeviceState(**d) for d in devices.get(key, [])),
            key=lambda d: (d.device_kind, d.device_id),
        )
        lines.append(
            LineStats(
                site=key[0],
                edge_id=key[1],
                parcels=parcels,
                decided=decided,
                per_minute=[
                    MinuteCount(minute=m, parcels=per.get(m.strftime("%Y-%m-%d %H:%M"), 0))
                    for m in labels
                ],
                by_outcome=_counts(outcomes.get(key, [])),
                by_chute=_counts(chutes.get(key, []), numeric=True),
                by_reason=_counts(reasons.get(key, [])),
                latency=Latency(**latency.get(key, {})),
                no_read=_no_read(alarms.no_read.get(key), t),
                devices=states,
                alarms=alarms.for_line(key, states),
            )
        )
    logger.debug("line summary: %s lines over %s min", len(lines), window_min)
    return LineSummary(
        generated_at=now,
        window_min=window_min,
        window_start=first,
        thresholds=Thresholds(**t.model_dump()),
        lines=lines,
    )
