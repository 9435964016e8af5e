"""A hub and an edge over a real broker, and an attacker with the real Mosquitto clients.

The hub is the real MQTT side (``start_hub_mqtt``: event ingest with the trust check, the
verdict signer); the edge is the real ``EdgeRuntime`` with its engine loop, verdict gate,
outbox and publisher running (its PLC and devices stay off: the test plays the devices and
collects the engine's replies instead of writing them to a PLC).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.clock import SystemClock
from contracts.messages import Verdict, VerdictKind
from contracts.statuses import ReadStatus, XrayState
from contracts.topics import verdict_topic
from devices.events import BarcodeRead, DestinationRequested, SendToChute, WeightMeasured
from devices.signing import load_or_create_private_key
from edge.config import EdgeConfig, ModbusDevice, XrayDevice
from edge.line.engine import XrayScreened
from edge.line.runtime import EdgeRuntime
from edge.trust import EdgeTrust
from hub.db import migrate
from hub.db.engine import make_engine
from hub.db.event_models import EVENT, PARCEL
from hub.db.trust_models import TRUST_ALARM
from hub.ingest.mqtt import MqttIngest, start_hub_mqtt
from hub.ingest.trust import EventTrust, VerdictSigner
from hub.services import edges
from hub.services.enrol_files import EnrolFiles, write_enrolment
from inspection.model import DocKind
from inspection.rules import RuleSet
from sorting.chutes import ChutePlan
from tests.inspection.builders import inventory, order, payment, waybill
from tests.waiting import wait_until

MOSQUITTO_PUB = "/usr/bin/mosquitto_pub"
PLAN = ChutePlan.model_validate(
    {"release_by_route": {"*": 1}, "inspect": 5, "hold": 6, "return": 7, "reject": 9}
)
#: The codes of declaration sets 1 and 2 of ``tests.inspection.builders`` (released by customs).
CODE = "YT0000000001"
CODE2 = "YT0000000002"
WAIT_S = 15.0


#: Events ``EdgeSide.suspect_parcel`` makes at the hub: code read, weighed, imaged, requested.
SUSPECT_EVENTS = 4


class HubSide:
    """A migrated hub database, its key, enrolled edges and the running MQTT side."""

    def __init__(self, workdir: Path, site: str) -> None:
        self.workdir, self.site = workdir, site
        self.engine: Engine = make_engine(f"sqlite:///{workdir / 'hub.db'}")
        migrate.upgrade(self.engine)
        self.key = load_or_create_private_key(workdir / "hub.key")
        self.enrolled: dict[str, edges.Enrolment] = {}
        self.files: dict[str, EnrolFiles] = {}
        self.mqtt: MqttIngest | None = None

    def enrol(self, edge_id: str) -> edges.Enrolment:
        """Enrol one edge and write its files."""
        with Session(self.engine) as session:
            done = edges.enrol(session, edge_id, self.site, datetime.now(UTC))
        self.enrolled[edge_id] = done
        self.files[edge_id] = write_enrolment(
            done, self.workdir / f"enrol-{edge_id}", self.key, "mqtt://127.0.0.1:1883"
        )
        return done

    def start(self, url: str) -> MqttIngest:
        """Start the hub's MQTT side on ``url``."""
        self.mqtt = start_hub_mqtt(
            self.engine,
            url=url,
            site=self.site,
            spool_path=self.workdir / "spool.db",
            trust=EventTrust(self.engine),
            signer=VerdictSigner(self.engine, self.key, ttl_s=120),
        )
        self.mqtt.link.wait_connected(WAIT_S)
        return self.mqtt

    def verdict(self, item_id: int, kind: VerdictKind, code: str = CODE) -> Verdict:
        """Publish a genuine verdict, signed by the hub; return it as recorded."""
        assert self.mqtt is not None
        v = Verdict(
            verdict_id=uuid.uuid4(),
            site=self.site,
            parcel_code=code,
            item_id=item_id,
            verdict=kind,
            category="weapon" if kind is VerdictKind.SUSPECT else "",
            inspector="ines",
            at=datetime.now(UTC),
        )
        self.mqtt.publish_verdict(v)
        return v

    def parcel(self, edge_id: str, item_id: int) -> dict[str, Any] | None:
        """The hub's record of one pass (without its refresh time)."""
        key = f"{self.site}/{edge_id}/{item_id}"
        with self.engine.connect() as conn:
            row = conn.execute(select(PARCEL).where(PARCEL.c.parcel_key == key)).mappings().first()
        if row is None:
            return None
        out = dict(row)
        out.pop("updated_at")
        return out

    def count(self, table: Any, **where: Any) -> int:
        """Rows of ``table`` matching ``where``."""
        q = select(func.count()).select_from(table)
        for col, value in where.items():
            q = q.where(table.c[col] == value)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def alarms(self) -> int:
        """Trust alarms the hub raised."""
        return self.count(TRUST_ALARM)

    def edge_alarms(self, edge_id: str) -> int:
        """Alarm events the edge sent and the hub stored."""
        return self.count(EVENT, kind="alarm", edge_id=edge_id)

    def stop(self) -> None:
        """Stop the MQTT side and close the database."""
        if self.mqtt is not None:
            self.mqtt.stop()
        self.engine.dispose()


class EdgeSide:
    """A real edge runtime with the engine, the verdict gate and the outbox publisher on."""

    def __init__(
        self, workdir: Path, site: str, edge_id: str, files: EnrolFiles, url: str, rules: RuleSet
    ) -> None:
        cfg = EdgeConfig(
            edge_id=edge_id,
            line="L1",
            broker_url=url,
            store_dir=workdir / f"edge-{edge_id}",
            plc=ModbusDevice(device_id="plc1", port=1),
            xray=XrayDevice(device_id="xr1", prescreen_workers=0),
            chutes=PLAN,
            trust=EdgeTrust(
                signing_key=files.signing_key,
                hub_public_keys=[files.hub_public_key],
                broker_password_file=files.broker_password if "@" in url else None,
            ),
        )
        self.rt = EdgeRuntime(site, cfg, rules, clock=SystemClock())
        self.replies: list[SendToChute] = []
        self.rt.engine._reply = self.replies.append  # the test plays the PLC
        # the edge's index is read from its store: declarations go in through the cache's writer
        self.rt.cache.store(
            [d for n in (1, 2) for d in (order(n), payment(n), waybill(n), inventory(n))],
            [(DocKind.INVENTORY, f"AG001:COP{n:08d}", 800) for n in (1, 2)],
        )

    def start(self) -> EdgeSide:
        """Start the engine loop, the broker link with the verdict subscription, the publisher."""
        rt = self.rt
        rt.loop.start()
        rt.link.start()
        rt.link.subscribe(verdict_topic(rt.site), rt._on_verdict, qos=1)
        rt.publisher.start()
        rt.link.wait_connected(WAIT_S)
        return self

    def suspect_parcel(self, item_id: int, code: str = CODE) -> None:
        """An item whose image the pre-screen flagged: it waits for an inspector (60 s)."""
        now = datetime.now(UTC)
        self.rt.loop.submit(BarcodeRead("tunnel1", item_id, ReadStatus.OK, (code,), now))
        self.rt.loop.submit(WeightMeasured("cw1", item_id, 1.2, True, now))
        self.rt.loop.submit(XrayScreened(item_id, XrayState.SUSPECT, device_id="xr1"))
        self.rt.loop.submit(DestinationRequested("plc1", item_id, 60_000, now))

    def replies_for(self, item_id: int) -> list[SendToChute]:
        """What the engine answered the PLC for one item."""
        return [r for r in list(self.replies) if r.item_id == item_id]

    def waiting(self, item_id: int) -> bool:
        """Whether the item still waits for its decision."""
        return self.rt._item_waiting(item_id) and not self.replies_for(item_id)

    def stop(self) -> None:
        """Stop the threads this side started and close its stores."""
        rt = self.rt
        rt.stop_event.set()
        rt.loop.join()
        rt.publisher.join()
        rt.link.stop()
        rt.outbox.close()
        rt.cache.close()


def mosquitto_pub(
    port: int,
    topic: str,
    payloads: Sequence[bytes],
    *,
    user: str | None = None,
    password: str | None = None,
    extra: Sequence[str] = (),
) -> int:
    """Publish each payload with the real ``mosquitto_pub`` (QoS 1); return its exit code."""
    code = 0
    for payload in payloads:
        cmd = [MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic, "-s"]
        if user is not None:
            cmd += ["-u", user, "-P", password or ""]
        done = subprocess.run(
            [*cmd, *extra], check=False, input=payload, capture_output=True, timeout=20
        )
        code = code or done.returncode
    return code


def suspect_at_hub(hub: HubSide, edge_id: str, item_id: int) -> dict[str, Any]:
    """Wait until the hub holds every event ``EdgeSide.suspect_parcel`` sent for the item (code,
    weight, image, request) and return its record: a record taken earlier may still change."""

    def whole() -> bool:
        p = hub.parcel(edge_id, item_id)
        return (
            p is not None
            and p["xray"] == "suspect"
            and p["weight_kg"] is not None
            and (p["event_count"] >= SUSPECT_EVENTS)
        )

    wait(whole, f"item {item_id} of {edge_id} whole at the hub")
    record = hub.parcel(edge_id, item_id)
    assert record is not None
    return record


def wait(condition: Any, what: str, timeout_s: float = WAIT_S) -> None:
    """Wait for ``condition()``; fail with ``what`` when it does not come."""
    wait_until(condition, timeout_s, what)
