"""A sorting line made of the peer devices, driven on a wall-clock timetable, in a child process.

Each parcel is inducted at a fixed pitch (``1 / rate``): it crosses the checkweigher
``weigh_before_scan_s`` before the scan tunnel, and at the scan the tunnel sends its frame
and the PLC posts a destination request whose ``deadline_ms`` is the time left to the
decision point (``scan_to_decision_s`` later), refreshed every few milliseconds while the
request is in the ring. The PLC takes the edge's reply by item_id the moment the edge moves
``reply_head``; at the decision point the parcel goes to the replied chute, or to the reject
chute with status "no answer" when no reply had arrived; either way a confirmation is posted.

When this process itself is held up (a busy machine), the rest of the timetable moves by the
delay, as a line that paused, instead of posting the overdue weighings and requests in one
burst: a burst of more than 16 would overwrite the rings faster than any host polls them,
which no real line does. ``timetable_shifted_ms`` reports the total shift.

The line runs in a child process of its own (``python -m clearline.bench.peers.line``,
started by ``clearline.bench.peers.process.PeerLineProcess``), as a PLC is a machine of its
own: it never competes with the edge for the parent's interpreter lock.

Development only: this module needs pyModbusTCP, a development dependency.
"""

from __future__ import annotations

import heapq
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any

from clearline.bench.peers.devices import (
    DIVERTED,
    NO_ANSWER,
    SLOTS,
    PeerCheckweigher,
    PeerPlc,
    PeerScanner,
)
from clearline.bench.peers.process import Geometry

#: Period of the PLC heartbeat and of the deadline refresh, seconds.
PLC_BEAT_S = 0.05
REFRESH_S = 0.005
#: A timetable step this late shifts the rest of the timetable instead of catching up, s.
SLIP_S = 0.01


@dataclass(slots=True)
class ParcelRun:
    """One parcel on the peer line and what became of it (times: monotonic seconds)."""

    seq: int
    item_id: int
    codes: list[str]
    weight_kg: float
    requested_t: float = 0.0
    reply_t: float | None = None
    reply_chute: int | None = None
    reply_reason: int = 0
    chute: int | None = None
    status: int | None = None
    slot: int = -1
    weighed: bool = False
    decide_t: float = 0.0  # the decision point on the timetable, before later shifts

    def result(self) -> dict[str, Any]:
        """Return the parcel's result: reply latency (ms), in time, chute, confirm status."""
        reply_ms = None if self.reply_t is None else (self.reply_t - self.requested_t) * 1000.0
        return {
            "seq": self.seq,
            "item_id": self.item_id,
            "reply_ms": reply_ms,
            "in_time": self.status == DIVERTED,
            "chute": self.chute,
            "reason": self.reply_reason,
            "status": self.status,
            "weighed": self.weighed,
        }


@dataclass(slots=True)
class PhaseStats:
    """What the peers saw during one phase."""

    replies_unmatched: int = 0
    replies_after_decision: int = 0
    edge_beat_max_gap_ms: float = 0.0
    edge_beats: int = 0
    late_starts_ms: list[float] = field(default_factory=list)
    shifted_s: float = 0.0


class PeerLine:
    """The three peers and the timetable that drives them (runs on the calling thread)."""

    def __init__(self, geometry: Geometry) -> None:
        self.geometry = geometry
        self.checkweigher = PeerCheckweigher()
        self.scanner = PeerScanner()
        self.plc = PeerPlc(self._on_reply)
        self._lock = threading.Lock()
        self._open: dict[int, ParcelRun] = {}  # requested, before the decision point
        self._stats = PhaseStats()
        self._stop = threading.Event()
        self._beat_thread = threading.Thread(target=self._beat, name="peer-plc-beat", daemon=True)
        self._beat_thread.start()

    def ports(self) -> dict[str, int]:
        """Return the ports of the PLC, the checkweigher and the scanner."""
        return {
            "plc": self.plc.port,
            "checkweigher": self.checkweigher.port,
            "scanner": self.scanner.port,
        }

    def _beat(self) -> None:
        while not self._stop.wait(PLC_BEAT_S):
            self.plc.tick_heartbeat()

    def _on_reply(self, item_id: int, chute: int, reason: int, t: float) -> None:
        """The edge posted a reply (server thread): keep the first one before the decision."""
        with self._lock:
            parcel = self._open.get(item_id)
            if parcel is None:
                self._stats.replies_after_decision += 1
                return
            if parcel.reply_t is None:
                parcel.reply_t, parcel.reply_chute, parcel.reply_reason = t, chute, reason

    def run(self, parcels: list[ParcelRun], rate_per_s: float) -> dict[str, Any]:
        """Run the parcels through the line at ``rate_per_s``; return results and stats."""
        geo = self.geometry
        with self._lock:
            self._stats = PhaseStats()
        self.plc.edge_beat_max_gap_s = 0.0
        beats0 = self.plc.edge_beats
        t0 = time.monotonic() + geo.weigh_before_scan_s + 0.05
        events: list[tuple[float, int, int, ParcelRun]] = []  # (t, kind, seq, parcel)
        for i, p in enumerate(parcels):
            scan_t = t0 + i / rate_per_s
            events.append((scan_t - geo.weigh_before_scan_s, 0, p.seq, p))
            events.append((scan_t, 1, p.seq, p))
            events.append((scan_t + geo.scan_to_decision_s, 2, p.seq, p))
        heapq.heapify(events)
        ring: list[ParcelRun | None] = [None] * SLOTS
        next_refresh = time.monotonic()
        stats = self._stats
        while events:
            now = time.monotonic()
            t, kind, _, parcel = events[0]
            t += stats.shifted_s
            if t <= now:
                heapq.heappop(events)
                slip = now - t
                stats.late_starts_ms.append(slip * 1000.0)
                if slip > SLIP_S:
                    stats.shifted_s += slip
                    t = now
                self._step(kind, parcel, t, ring)
                continue
            if now >= next_refresh:
                self._refresh(ring, now)
                next_refresh = now + REFRESH_S
            time.sleep(max(0.0, min(t, next_refresh) - time.monotonic()))
        lates = sorted(stats.late_starts_ms)
        return {
            "parcels": [p.result() for p in parcels],
            "replies_after_decision": stats.replies_after_decision,
            "replies_lost_in_ring": self.plc.replies_lost,
            "edge_beats": self.plc.edge_beats - beats0,
            "edge_beat_max_gap_ms": round(self.plc.edge_beat_max_gap_s * 1000.0, 1),
            "timetable_slip_p99_ms": round(lates[int(0.99 * (len(lates) - 1))], 2) if lates else 0,
            "timetable_shifted_ms": round(stats.shifted_s * 1000.0, 1),
        }

    def _step(self, kind: int, parcel: ParcelRun, t: float, ring: list[ParcelRun | None]) -> None:
        """Weigh (0), scan and request (1) or decide (2) one parcel at timetable time ``t``."""
        geo = self.geometry
        if kind == 0:
            self.checkweigher.weigh(parcel.item_id, parcel.weight_kg)
            parcel.weighed = True
        elif kind == 1:
            self.scanner.read(parcel.item_id, parcel.codes)
            with self._lock:
                self._open[parcel.item_id] = parcel
                parcel.requested_t = time.monotonic()
            parcel.decide_t = t + geo.scan_to_decision_s - self._stats.shifted_s
            left_ms = int((t + geo.scan_to_decision_s - time.monotonic()) * 1000.0)
            parcel.slot = self.plc.request(parcel.item_id, left_ms)
            ring[parcel.slot] = parcel
        else:
            with self._lock:
                self._open.pop(parcel.item_id, None)
                answered = parcel.reply_t is not None and parcel.reply_chute is not None
            if answered and parcel.reply_chute is not None:
                parcel.chute, parcel.status = parcel.reply_chute, DIVERTED
            else:
                parcel.chute, parcel.status = geo.reject_chute, NO_ANSWER
            self.plc.confirm(parcel.item_id, parcel.chute, parcel.status)

    def _refresh(self, ring: list[ParcelRun | None], now: float) -> None:
        """Rewrite the time left of every request still in the ring and before its decision."""
        shift = self._stats.shifted_s
        for slot, parcel in enumerate(ring):
            if parcel is None or parcel.status is not None:
                continue
            self.plc.refresh_deadline(slot, int((parcel.decide_t + shift - now) * 1000.0))

    def stop(self) -> None:
        """Stop the heartbeat and every server."""
        self._stop.set()
        self._beat_thread.join(2.0)
        self.plc.stop()
        self.checkweigher.stop()
        self.scanner.stop()


def serve(geometry: Geometry, inp: IO[str], out: IO[str]) -> None:
    """Serve the peers; answer JSON-line commands from ``inp`` on ``out`` until ``stop``.

    Commands: ``["clients"]`` (connected scanner clients), ``["run", rows, rate]`` (rows of
    ``[seq, item_id, codes, weight_kg]``; answers the phase's results), ``["stop"]``.
    """
    line = PeerLine(geometry)

    def say(value: Any) -> None:
        out.write(json.dumps(value) + "\n")
        out.flush()

    say(line.ports())
    try:
        for raw in inp:
            msg = json.loads(raw)
            if msg[0] == "stop":
                break
            if msg[0] == "clients":
                say(line.scanner.clients)
            elif msg[0] == "run":
                _, rows, rate = msg
                parcels = [ParcelRun(seq, item, list(codes), w) for seq, item, codes, w in rows]
                say(line.run(parcels, rate))
    finally:
        line.stop()


if __name__ == "__main__":
    serve(Geometry(**json.loads(sys.argv[1])), sys.stdin, sys.stdout)
