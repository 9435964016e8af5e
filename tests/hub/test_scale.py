"""Three hub processes on PostgreSQL and Mosquitto under a fleet of 50 edges; one killed and
restarted.

Afterwards every event the fleet sent is stored exactly once (signed by its enrolled edge),
every X-ray image is served by every process, and every review deadline that passed with no
verdict fired exactly once (one ``review_deadline`` row and one audit record per image),
whichever process ran the job and though one of them died.
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
from hub.db.audit_models import AuditEntry
from hub.db.auth_models import Role
from hub.db.engine import make_engine
from hub.db.event_models import EVENT
from hub.db.site_models import REVIEW_DEADLINE
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
EDGES = 50
PARCELS = 3  # per edge: 50 × 3 parcels × 7 events
IMAGES = 8
REVIEWED = (0, 1)  # images given a verdict as soon as they are stored
BUDGET_S = 4.0


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
    keys = enrol_fleet(engine, site, EDGES)
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
        CLEARLINE_REVIEW_BUDGET_S=str(BUDGET_S),
        CLEARLINE_REVIEW_DEADLINE_EVERY_S="0.5",
    )
    cmd = [sys.executable, "-m", "clearline", "--log-level", "WARNING", "hub", "serve", "--dev"]
    cmd += ["--workers", str(PROCESSES), "--port", str(port), "--db", pg_database]
    parent = subprocess.Popen(cmd, env=env)
    ports = [port + i for i in range(PROCESSES)]
    spools = tmp_path / "data" / "spool" / site
    fleet = Fleet(MOSQUITTO, site, keys, parcels_per_s=1.0)
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
        runner = threading.Thread(target=lambda: report_box.append(fleet.run(PARCELS)), daemon=True)
        runner.start()
        for n in range(IMAGES):  # their deadlines pass while a process dies and comes back
            link.publish(xray_image_topic(site, "xr1", 500 + n), sample_png("blade", seed=n), qos=1)
        reviewed = _review_as_stored(engine, site)
        time.sleep(1.5)
        victims = _children(parent.pid)
        assert len(victims) == PROCESSES
        os.kill(victims[0], signal.SIGKILL)  # mid-batch: its unacknowledged events come again
        runner.join(120)
        assert report_box, "the fleet did not finish"
        report = report_box[0]
        sent = {i for ids in report.sent.values() for i in ids}
        assert len(sent) == EDGES * PARCELS * 7
        until(lambda: all(_healthy(p) for p in ports), "the restarted process", 60)
        assert len(set(_children(parent.pid)) - set(victims)) == 1  # the killed one came back
        until(lambda: _count(engine, EVENT) >= len(sent) + probes, "every event stored", 90)
        until(lambda: _count(engine, XRAY_IMAGE) == IMAGES, "every image stored", 60)
        reviewed.join(30)
        unreviewed = IMAGES - len(REVIEWED)
        until(lambda: _count(engine, REVIEW_DEADLINE) >= unreviewed, "every deadline fired", 60)
        time.sleep(1.5)  # three more runs of the job: nothing may fire twice
        _assert_deadlines_fired_once(engine)
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


def _review_as_stored(engine: Engine, site: str) -> threading.Thread:
    """Give the images of REVIEWED a verdict as soon as each is stored (before its deadline)."""

    def review() -> None:
        wanted = {500 + n for n in REVIEWED}
        stop = time.monotonic() + 60
        while wanted and time.monotonic() < stop:
            with engine.begin() as conn:
                done = conn.execute(
                    XRAY_IMAGE.update()
                    .where(
                        XRAY_IMAGE.c.site == site,
                        XRAY_IMAGE.c.item_id.in_(sorted(wanted)),
                        XRAY_IMAGE.c.verdict.is_(None),
                    )
                    .values(verdict="clear", reviewed_by="ins1", reviewed_at=_now())
                    .returning(XRAY_IMAGE.c.item_id)
                ).scalars()
                wanted -= set(done)
            time.sleep(0.05)

    thread = threading.Thread(target=review, daemon=True)
    thread.start()
    return thread


def _assert_deadlines_fired_once(engine: Engine) -> None:
    """Each image past its deadline with no verdict fired once (row and audit); no other did."""
    audit_table = AuditEntry.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        images = conn.execute(
            select(
                XRAY_IMAGE.c.image_id,
                XRAY_IMAGE.c.received_at,
                XRAY_IMAGE.c.verdict,
                XRAY_IMAGE.c.reviewed_at,
            )
        ).all()
        rows = conn.execute(
            select(REVIEW_DEADLINE.c.image_id, func.count()).group_by(REVIEW_DEADLINE.c.image_id)
        ).all()
        audited = conn.execute(
            select(audit_table.c.subject, func.count())
            .where(audit_table.c.action == "review_deadline")
            .group_by(audit_table.c.subject)
        ).all()
    fired = {str(i): int(n) for i, n in rows}
    recorded = {str(s): int(n) for s, n in audited}
    assert set(fired.values()) == {1} and recorded == fired
    unreviewed = {str(i.image_id) for i in images if i.verdict is None}
    late = {  # reviewed about when the deadline passed: either way is right, once at most
        str(i.image_id)
        for i in images
        if i.verdict is not None
        and (i.reviewed_at - i.received_at).total_seconds() > BUDGET_S - 1.0
    }
    assert len(unreviewed) == IMAGES - len(REVIEWED)
    assert set(fired) - late == unreviewed, "deadlines fired ≠ images past it with no verdict"
