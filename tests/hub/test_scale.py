"""Three hub processes on PostgreSQL and Mosquitto under a fleet; one killed and restarted.

Afterwards every event the fleet sent is stored exactly once (signed by its enrolled edge),
and every X-ray image is served by every process.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Table, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from clearline.fleet import enrol_fleet
from contracts.topics import edge_event_topic, xray_image_topic
from devices.mqtt_link import LinkSettings, MqttLink
from devices.signing import sign_event
from hub.db import migrate
from hub.db.auth_models import Role
from hub.db.engine import make_engine
from hub.db.event_models import EVENT
from hub.db.xray_models import XRAY_IMAGE
from hub.ingest.trust import load_hub_key
from hub.services import users
from simulators.fleet import Fleet, FleetReport, parcel_events, publish_until_acked
from tests.conftest import require_service
from tests.hub.helpers_review import sample_png
from tests.hub.test_workers import ROOT, _children, _healthy, pg_database
from tests.hub.waits import until

__all__ = ["pg_database"]

MOSQUITTO = "mqtt://127.0.0.1:1883"
PROCESSES = 3


def _free_ports(count: int) -> int:
    """A port P with P..P+count-1 free right now."""
    for base in range(20_000 + os.getpid() % 20_000, 60_000, 97):
        socks = []
        try:
            for i in range(count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free ports")


def _now() -> datetime:
    return datetime.now(UTC)


def _count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_three_hubs_one_killed_store_everything_once(tmp_path: Path, pg_database: str) -> None:
    """The fleet runs while one of three hub processes is SIGKILLed; nothing lost, nothing twice."""
    require_service("Mosquitto", "127.0.0.1", 1883)
    site = f"t{uuid.uuid4().hex[:10]}"
    engine = make_engine(pg_database)
    migrate.upgrade(engine)
    keys = enrol_fleet(engine, site, 4)
    with Session(engine) as session:
        _, api_key = users.create_api_key(session, "scale-test", Role.SUPERVISOR, _now())
    key_path = tmp_path / "hub-signing.key"
    load_hub_key(key_path)
    port = _free_ports(PROCESSES)
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT / "src"),
        CLEARLINE_DATA_DIR=str(tmp_path / "data"),
        CLEARLINE_SITE_ID=site,
        CLEARLINE_MQTT_URL=MOSQUITTO,
        CLEARLINE_MQTT_SHARE_GROUP=f"g{uuid.uuid4().hex[:8]}",
        CLEARLINE_XRAY_STORE="database",
        CLEARLINE_SIGNING_KEY_PATH=str(key_path),
        CLEARLINE_REQUIRE_ENROLLED_EDGES="true",
    )
    cmd = [sys.executable, "-m", "clearline", "--log-level", "WARNING", "hub", "serve", "--dev"]
    cmd += ["--workers", str(PROCESSES), "--port", str(port), "--db", pg_database]
    parent = subprocess.Popen(cmd, env=env)
    ports = [port + i for i in range(PROCESSES)]
    spools = tmp_path / "data" / "spool" / site
    fleet = Fleet(MOSQUITTO, site, keys, parcels_per_s=3.0)
    try:
        until(lambda: all(_healthy(p) for p in ports), "three hub processes", 60)
        until(lambda: len(list(spools.glob("event-spool-*.db"))) == PROCESSES, "three spools", 30)
        # a probe proves the group is subscribed before the fleet starts
        probe_edge, probe_key = next(iter(keys.items()))
        link = MqttLink(LinkSettings(url=MOSQUITTO, site=site, kind="edge", device_id="probe"))
        link.start().wait_connected(10)
        probes = 0

        def probe() -> bool:
            nonlocal probes
            rng = random.Random(probes)
            event = parcel_events(site, probe_edge, 10_000 + probes, _now(), rng)[0]
            topic = edge_event_topic(site, probe_edge)
            publish_until_acked(
                link, topic, sign_event(probe_key, event).model_dump_json().encode()
            )
            probes += 1
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                if _count(engine, EVENT) > 0:
                    return True
                time.sleep(0.05)
            return False

        until(probe, "the share group to be subscribed", 30)
        report_box: list[FleetReport] = []
        runner = threading.Thread(target=lambda: report_box.append(fleet.run(12)), daemon=True)
        runner.start()
        time.sleep(1.5)
        victims = _children(parent.pid)
        assert len(victims) == PROCESSES
        os.kill(victims[0], signal.SIGKILL)  # mid-batch: its unacknowledged events come again
        runner.join(60)
        assert report_box, "the fleet did not finish"
        report = report_box[0]
        sent = {i for ids in report.sent.values() for i in ids}
        assert len(sent) == 4 * 12 * 7
        for n in range(3):
            link.publish(xray_image_topic(site, "xr1", 500 + n), sample_png("blade", seed=n), qos=1)
        until(lambda: all(_healthy(p) for p in ports), "the restarted process", 60)
        assert len(set(_children(parent.pid)) - set(victims)) == 1  # the killed one came back
        until(lambda: _count(engine, EVENT) >= len(sent) + probes, "every event stored", 60)
        until(lambda: _count(engine, XRAY_IMAGE) == 3, "three images stored", 30)
        with engine.connect() as conn:
            stored = set(conn.execute(select(EVENT.c.event_id)).scalars())
            images = list(conn.execute(select(XRAY_IMAGE.c.image_id)).scalars())
        assert sent <= {uuid.UUID(str(s)) for s in stored}
        assert _count(engine, EVENT) == len(stored) == len(sent) + probes
        for image_id in images:
            for p in ports:
                url = f"http://127.0.0.1:{p}/api/v1/review/{image_id}/image?view=grey"
                request = urllib.request.Request(url, headers={"X-API-Key": api_key})
                with urllib.request.urlopen(request, timeout=10) as reply:
                    assert reply.read().startswith(b"\x89PNG")
        link.stop()
    finally:
        fleet.stop.set()
        parent.send_signal(signal.SIGTERM)
        try:
            parent.wait(30)
        except subprocess.TimeoutExpired:
            parent.kill()
            parent.wait()
        engine.dispose()
