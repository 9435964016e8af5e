"""One sorting line run end to end in one process: simulators, edge, and (optionally) hub.

Used by ``clearline demo`` and by the end-to-end tests, so both exercise the same wiring.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from clearline.bench.core import percentile
from contracts.reasons import Outcome
from devices.profiles import TunnelScannerProfile
from edge.cache import DeclarationCache
from edge.config import DecisionSettings, EdgeConfig, ModbusDevice, XrayDevice
from hub.db.event_models import EVENT
from inspection.formats import detect_format, read_records
from inspection.formats.detect import HEAD_BYTES
from inspection.model import Declaration, DocKind, Notice, Receipt
from simulators.line.config import LineConfig, check_line
from sorting.chutes import ChutePlan

log = logging.getLogger(__name__)

#: Chute per outcome on the example line (see examples/site.yaml).
PLAN = ChutePlan.model_validate(
    {
        "release_by_route": {
            "*": 1,
            "import-9610": 1,
            "import-1210": 2,
            "export-9610": 3,
            "postal": 4,
        },
        "inspect": 10,
        "hold": 20,
        "return": 30,
        "reject": 99,
    }
)


def carried(line: LineConfig) -> LineConfig:
    """Return ``line`` checked, its least gap between parcels made half the mean spacing where
    the belt could not carry the induction rate at the gap it has (else the rate asked would
    not be the rate run). Raises ``LineConfigError`` when it still does not hold together."""
    data = line.model_dump()
    spacing_m = line.belt_speed_m_s * 3600.0 / line.induction.rate_per_h
    if line.induction.min_gap_m >= spacing_m:
        data["induction"]["min_gap_m"] = spacing_m / 2
    return check_line(data)


def free_line(line: LineConfig, rate_per_s: float, xray_width_px: int) -> LineConfig:
    """Return the line with every server on a free port, the given rate and image width
    (the least gap between parcels narrowed where the belt needs it, see :func:`carried`)."""
    induction = line.induction.model_copy(update={"rate_per_h": rate_per_s * 3600.0})
    return carried(
        line.model_copy(
            update={
                "plc": line.plc.model_copy(update={"port": 0}),
                "checkweigher": line.checkweigher.model_copy(update={"port": 0}),
                "scanner": line.scanner.model_copy(update={"port": 0}),
                "xray": line.xray.model_copy(update={"width_px": xray_width_px}),
                "induction": induction,
            }
        )
    )


def edge_config(
    line: LineConfig,
    *,
    plc_port: int,
    checkweigher_port: int,
    scanner_url: str,
    broker_url: str,
    store_dir: Path,
    hub_url: str | None = None,
    edge_id: str = "edge-1",
    xray_calibration: Path | None = None,
) -> EdgeConfig:
    """Return the edge configuration for a simulated line whose servers are already up."""
    return EdgeConfig(
        edge_id=edge_id,
        line=line.name,
        broker_url=broker_url,
        hub_url=hub_url,
        store_dir=store_dir,
        plc=ModbusDevice(device_id="plc1", port=plc_port),
        checkweigher=ModbusDevice(device_id="cw1", port=checkweigher_port),
        tunnel_scanner=TunnelScannerProfile.model_validate(
            {"kind": "tunnel_scanner", "device_id": "tunnel1", "serial": {"port": scanner_url}}
        ),
        xray=XrayDevice(
            device_id=line.xray.device_id,
            prescreen_workers=1,
            pixel_mm=line.xray.scan_width_mm / line.xray.width_px,
            calibration=xray_calibration,
        ),
        chutes=PLAN,
        decision=DecisionSettings(),
    )


def scenario_records(folder: Path) -> Iterator[Declaration | Receipt | Notice]:
    """Yield every declaration, receipt and notice of a scenario folder (the real readers)."""
    for path in sorted((folder / "declarations").iterdir()) + sorted(
        (folder / "receipts").iterdir()
    ):
        with path.open("rb") as f:
            fmt = detect_format(f.read(HEAD_BYTES), str(path))
            f.seek(0)
            for rec in read_records(f, fmt, str(path)):
                if isinstance(rec.item, Declaration | Receipt | Notice):
                    yield rec.item


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _when(r: Receipt) -> datetime:
    return r.return_time or _EPOCH


def preload(cache: DeclarationCache, folder: Path) -> int:
    """Store a scenario's declarations, latest statuses and notices in an edge cache (no hub).

    Notices (cancellations, consumer returns and their receipts) are applied after the
    statuses, as the hub's own index applies them.
    """
    decls: list[Declaration] = []
    notices: list[Notice] = []
    latest: dict[tuple[DocKind, str], Receipt] = {}
    for item in scenario_records(folder):
        if isinstance(item, Declaration):
            decls.append(item)
        elif isinstance(item, Notice):
            notices.append(item)
        else:
            key = (item.kind, item.business_key)
            old = latest.get(key)
            if old is None or _when(item) >= _when(old):
                latest[key] = item
    statuses = [(k, key, r.return_status) for (k, key), r in latest.items()]
    cache.store(decls, statuses, notices=notices)
    return len(decls)


OUTCOME_OF_CHUTE = {
    **{chute: Outcome.RELEASE for chute in PLAN.release_chutes},
    PLAN.inspect: Outcome.INSPECT,
    PLAN.hold: Outcome.HOLD,
    PLAN.return_: Outcome.RETURN,
    PLAN.reject: Outcome.REJECT,
}


#: Reasons that come from a fact missing at the deadline (a loaded machine), not from the rules.
TIMING_REASONS = frozenset(
    {"LATE_DECISION", "NO_WEIGHT", "UNSTABLE_WEIGHT", "XRAY_PENDING", "DEVICE_FAULT"}
)


def timing_caused(mismatch: dict[str, Any], expected_reasons: list[str]) -> bool:
    """Whether a mismatch came from timing: no reply in time, no divert, or a timing reason
    the scenario does not expect (the decision itself was right on what it had)."""
    if mismatch.get("reply_in_time") is False or mismatch.get("status") != "diverted":
        return True
    return bool(set(mismatch.get("reasons", ())) & TIMING_REASONS - set(expected_reasons))


@dataclass(frozen=True, slots=True)
class Comparison:
    """How a run's dispositions compare with what the scenario says each parcel must get."""

    parcels: int
    accounted: int
    wrong_releases: list[int]
    mismatches: list[dict[str, Any]]
    by_outcome: dict[str, int]
    timing: int = 0  # mismatches caused by timing (see timing_caused)

    def as_json(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "parcels": self.parcels,
            "accounted": self.accounted,
            "unaccounted": self.parcels - self.accounted,
            "wrong_releases": len(self.wrong_releases),
            "by_outcome": self.by_outcome,
            "mismatches": len(self.mismatches),
            "mismatches_by_cause": {
                "timing": self.timing,
                "decision": len(self.mismatches) - self.timing,
            },
        }


def compare(
    results: list[Any],
    expected_path: Path,
    reasons_of: dict[int, list[str]] | None = None,
) -> Comparison:
    """Compare simulator dispositions (by seq) with ``expected.jsonl``.

    A wrong release is a parcel released that the scenario does not release. The
    scenario's duplicate copy expects HOLD because its original is released first; when
    the original was not released in this run (sent to reject because the line was
    overloaded, say), the copy's release is that declaration's only release: a mismatch,
    not a wrong release. ``reasons_of`` (item_id → the decision's reasons) lets each
    mismatch carry its reasons and be counted as timing-caused or decision-caused.
    """
    expected = {}
    for line in expected_path.read_text(encoding="utf-8").splitlines():
        e = json.loads(line)
        expected[int(e["seq"])] = e
    released: dict[str, int] = {}  # releases per parcel code in this run
    for r in results:
        want = expected.get(r.seq)
        if want is None or r.chute is None or r.status is None:
            continue
        if OUTCOME_OF_CHUTE.get(r.chute, Outcome.REJECT) is Outcome.RELEASE:
            released[want["code"]] = released.get(want["code"], 0) + 1
    wrong, mismatches = [], []
    timing = 0
    by_outcome: dict[str, int] = {}
    accounted = 0
    for r in results:
        if r.status is None or r.chute is None:
            continue
        accounted += 1
        got = OUTCOME_OF_CHUTE.get(r.chute, Outcome.REJECT)
        by_outcome[got.value] = by_outcome.get(got.value, 0) + 1
        want = expected.get(r.seq)
        if want is None:
            continue
        if got is Outcome.RELEASE and want["outcome"] != "RELEASE":
            copy = want.get("reasons") == ["DUPLICATE_PARCEL"]
            if not copy or released.get(want["code"], 0) > 1:
                wrong.append(r.seq)
        if got.value != want["outcome"]:
            mismatch = {
                "seq": r.seq,
                "expected": want["outcome"],
                "got": got.value,
                "case": want.get("case"),
                "chute": r.chute,
                "status": r.status,
                "reply_in_time": r.reply_in_time,
                "frame_sent": r.frame_sent,
                "reasons": (reasons_of or {}).get(getattr(r, "item_id", -1), []),
            }
            mismatch["timing"] = timing_caused(mismatch, want.get("reasons", []))
            timing += bool(mismatch["timing"])
            mismatches.append(mismatch)
    return Comparison(len(expected), accounted, wrong, mismatches, by_outcome, timing)


def latency_summary(latencies_ms: list[float]) -> dict[str, float]:
    """Return p50/p95/p99/max of decision latencies in ms."""
    if not latencies_ms:
        return {}
    return {
        "p50_ms": round(percentile(latencies_ms, 50), 3),
        "p95_ms": round(percentile(latencies_ms, 95), 3),
        "p99_ms": round(percentile(latencies_ms, 99), 3),
        "max_ms": round(max(latencies_ms), 3),
    }


def wait_until(predicate: Any, timeout_s: float, step_s: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true or ``timeout_s`` passes."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step_s)
    return bool(predicate())


def pass_times(conn: Connection) -> tuple[list[float], list[float]]:
    """Per line pass, from the hub's events: scan → reply, and the wait for the X-ray (ms).

    Scan → reply runs from the first ``code_read`` to the ``decided`` event; the X-ray wait
    from the PLC's request (``requested``, sent only when the edge had to wait) to the reply.
    """
    ev = EVENT
    first: dict[str, dict[str, Any]] = {}
    stmt = select(ev.c.parcel_key, ev.c.kind, ev.c.at).where(
        ev.c.kind.in_(("code_read", "requested", "decided")), ev.c.item_id.is_not(None)
    )
    for key, kind, at in conn.execute(stmt.order_by(ev.c.at)):
        first.setdefault(key, {}).setdefault(kind, at)
    reply, wait = [], []
    for times in first.values():
        done = times.get("decided")
        if done is None:
            continue
        if "code_read" in times:
            reply.append(max(0.0, (done - times["code_read"]).total_seconds() * 1000.0))
        if "requested" in times:
            wait.append(max(0.0, (done - times["requested"]).total_seconds() * 1000.0))
    return reply, wait
