"""A simulated inspector for the demo: reviews every image the pre-screen did not clear.

It looks at each ``imaged`` edge event; when the pre-screen left the image waiting or raised an
alarm, it reads
the parcel's ground truth from the scenario (what the X-ray simulator really put in the parcel)
and posts the verdict a careful inspector would give through the hub's verdict API, so the
verdict takes the real path: hub → audit log → MQTT → edge.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from pathlib import Path

import httpx

from contracts.topics import edge_event_filter
from devices.mqtt_link import LinkSettings, Message, MqttLink
from inspection.identity import normalise

log = logging.getLogger(__name__)


def load_threats(scenario: Path) -> dict[str, bool]:
    """Return label code → whether a parcel carrying it really holds an X-ray threat."""
    out: dict[str, bool] = {}
    with (scenario / "parcels.jsonl").open(encoding="utf-8") as f:
        for line in f:
            truth = json.loads(line)
            for label in truth.get("labels", []):
                code = normalise(label)
                out[code] = out.get(code, False) or bool(truth.get("xray_threat"))
    return out


class InspectorBot:
    """Listens to edge events on the broker; posts verdicts to the hub with an inspector key."""

    def __init__(
        self,
        *,
        broker_url: str,
        site: str,
        hub_url: str,
        api_key: str,
        threats: dict[str, bool],
    ) -> None:
        self._threats = threats
        self._codes: dict[tuple[str, int], list[str]] = {}
        self._http = httpx.Client(base_url=hub_url, headers={"X-API-Key": api_key}, timeout=10)
        self._link = MqttLink(
            LinkSettings(url=broker_url, site=site, kind="inspector", device_id="demo-inspector")
        )
        self._site = site
        self._work: queue.Queue[tuple[str, int] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="inspector-bot", daemon=True)
        self.verdicts = 0
        self.failed = 0
        self.late = 0
        self.skipped = 0

    def start(self) -> InspectorBot:
        """Connect and start answering."""
        self._link.start()
        self._link.subscribe(edge_event_filter(self._site), self._on_event)
        self._thread.start()
        self._link.wait_connected(15)
        return self

    def stop(self) -> None:
        """Stop answering."""
        self._work.put(None)
        self._thread.join(10)
        self._link.stop()
        self._http.close()

    def _on_event(self, msg: Message) -> None:
        try:
            event = json.loads(msg.payload)
        except ValueError:
            return
        kind, item = event.get("kind"), (event.get("edge_id", ""), event.get("item_id") or 0)
        if kind == "code_read":
            self._codes.setdefault(item, []).extend(event.get("data", {}).get("codes", []))
        elif kind == "imaged" and event.get("data", {}).get("state") in ("PENDING", "SUSPECT"):
            self._work.put(item)

    def _run(self) -> None:
        while True:
            work = self._work.get()
            if work is None:
                return
            item_id = work[1]
            codes = [normalise(c) for c in self._codes.pop(work, [])]
            if not codes:  # never read: the desk deals with it, a verdict names a real code
                self.skipped += 1
                log.debug("demo inspector: item %s has no code read; not reviewed", item_id)
                continue
            known = [self._threats[c] for c in codes if c in self._threats]
            threat = any(known) if known else True  # nothing known: a careful inspector suspects
            label = next((c for c in codes if c in self._threats), codes[0])
            body = {
                "parcel_code": label,
                "item_id": item_id,
                "verdict": "suspect" if threat else "clear",
                "category": "threat" if threat else "",
                "why": "demo inspector: reviewed the image",
            }
            try:
                reply = self._http.post("/api/v1/verdicts", json=body)
                if reply.status_code == 409:  # the parcel left before the review: a late review
                    self.late += 1
                    log.info("demo inspector: item %s reviewed too late", item_id)
                    continue
                reply.raise_for_status()
                self.verdicts += 1
            except httpx.HTTPError as err:
                self.failed += 1
                log.warning("demo inspector: verdict for item %s not posted: %s", item_id, err)
