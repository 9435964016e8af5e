"""Hub scale: events/s stored by 1, 2 and 4 hub processes on PostgreSQL sharing one site's ingest.

Each hub process is a fresh Python process running the hub's MQTT side
(``python -m clearline.bench.hub_scale GROUP``: shared ingest, enrolled-edge signature check,
its own spool slot). A fleet of signed edges publishes flat out; the figure is events stored
per second, from the fleet's start until the last event is in the database. The floor is a
bare ``executemany`` of the very same rows into the same (emptied) table. Mosquitto queues
about 1000 messages per subscriber, so the fleet's whole run stays below that.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from clearline.bench.core import BenchContext, BenchResult
from clearline.fleet import enrol_fleet
from hub.db import migrate
from hub.db.engine import make_engine
from hub.db.event_models import EVENT
from simulators.broker import MOSQUITTO_HOST, MOSQUITTO_PORT
from simulators.fleet import EVENTS_PER_PARCEL, Fleet

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MQTT = f"mqtt://{MOSQUITTO_HOST}:{MOSQUITTO_PORT}"
EDGES = 4
FULL_PARCELS = 25  # per edge: 4 x 25 x 7 = 700 events, below Mosquitto's queue per client
PROCESS_COUNTS = (1, 2, 4)
_WAIT_S = 120.0


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(EVENT)).scalar_one())


def _worker(group: str) -> None:
    """One hub process: the MQTT side only, until SIGTERM."""
    from hub.ingest.mqtt import start_hub_mqtt
    from hub.ingest.trust import EventTrust

    engine = make_engine(os.environ["CLEARLINE_DATABASE_URL"])
    site = os.environ["CLEARLINE_SITE_ID"]
    ingest = start_hub_mqtt(
        engine,
        url=MQTT,
        site=site,
        spool_path=Path(os.environ["CLEARLINE_DATA_DIR"]) / "event-spool.db",
        trust=EventTrust(engine, require_enrolled=True),
        share_group=group,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    ingest.stop()
    engine.dispose()


def _measure(url: str, workdir: Path, processes: int, parcels: int) -> tuple[float, float, int]:
    """Events/s with ``processes`` hub processes, and the bare floor on the same rows."""
    site = f"b{uuid.uuid4().hex[:10]}"
    engine = make_engine(url)
    keys = enrol_fleet(engine, site, EDGES)
    spools = workdir / site
    env = dict(
        os.environ,
        CLEARLINE_DATABASE_URL=url,
        CLEARLINE_SITE_ID=site,
        CLEARLINE_DATA_DIR=str(spools),
    )
    cmd = [sys.executable, "-m", "clearline.bench.hub_scale", f"g{site}"]
    procs = [subprocess.Popen(cmd, env=env) for _ in range(processes)]
    try:
        deadline = time.monotonic() + _WAIT_S
        while len(list(spools.glob("event-spool-*.db"))) < processes:
            if time.monotonic() > deadline:
                raise RuntimeError("hub processes did not start")
            time.sleep(0.1)
        probe = Fleet(MQTT, site, dict(list(keys.items())[:1]), parcels_per_s=0)
        while _count(engine) == 0:  # the group is subscribed once a probe parcel lands
            probe.run(1)
            time.sleep(0.3)
            if time.monotonic() > deadline:
                raise RuntimeError("the share group never subscribed")
        before = -1
        while before != _count(engine):  # every probe stored, none still on its way
            before = _count(engine)
            time.sleep(0.5)
        fleet = Fleet(MQTT, site, keys, parcels_per_s=0, seed=processes)
        started = time.perf_counter()
        report = fleet.run(parcels)
        need = before + report.events
        while _count(engine) < need:
            if time.monotonic() > deadline + _WAIT_S:
                raise RuntimeError(f"only {_count(engine)} of {need} events stored")
            time.sleep(0.02)
        rate = report.events / (time.perf_counter() - started)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(EVENT).where(EVENT.c.site == site)).mappings()]
    with engine.begin() as conn:
        conn.execute(EVENT.delete().where(EVENT.c.site == site))
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(EVENT.insert(), rows)
    floor = len(rows) / (time.perf_counter() - t0)
    engine.dispose()
    return rate, floor, report.events


def run(ctx: BenchContext) -> list[BenchResult]:
    """Measure 1, 2 and 4 hub processes on a throw-away PostgreSQL database."""
    name = f"bench_scale_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    parcels = ctx.n(FULL_PARCELS, minimum=2)
    results = []
    try:
        schema = make_engine(url)
        migrate.upgrade(schema)
        schema.dispose()
        for processes in PROCESS_COUNTS:
            ctx.progress(f"hub_scale: {processes} hub processes")
            rate, floor, events = _measure(url, ctx.workdir, processes, parcels)
            results.append(
                BenchResult(
                    name=f"hub_scale_{processes}p",
                    value=round(rate, 1),
                    unit="events/s",
                    floor_name="bare executemany of the same rows (PostgreSQL)",
                    floor_value=round(floor, 1),
                    target="report",
                    meets_target=True,
                    details={
                        "processes": processes,
                        "edges": EDGES,
                        "events": events,
                        "events_per_parcel": EVENTS_PER_PARCEL,
                        "cpus": os.cpu_count(),
                    },
                )
            )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return results


if __name__ == "__main__":
    _worker(sys.argv[1])
