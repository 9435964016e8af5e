"""The demo under the attack that once released threats: a loop of forged "clear" verdicts.

A whole demo site runs (embedded broker with credentials, hub, a simulated line in its own
process, the edge, the demo inspector). While parcels flow, an attacker holding a device's
broker password (the embedded broker has no ACL) floods the verdict topic with "clear"
verdicts for every item — unsigned, and signed with a key of its own — using the real
``mosquitto_pub``. No parcel may be released that the scenario says must not be; every forged
verdict is refused with an alarm, and the genuine ones still arrive.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from clearline.demo.site import finish, start_site
from clearline.demo.trust import SIM_USER
from contracts.messages import Verdict, VerdictKind
from contracts.topics import verdict_topic
from devices.signing import generate_key, sign_verdict
from hub.db.engine import make_engine
from hub.db.event_models import EVENT
from inspection.rules import load_rules

CONFIG = Path(__file__).resolve().parents[2] / "src/clearline/demo/data/demo-site.yaml"
MOSQUITTO_PUB = "/usr/bin/mosquitto_pub"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("mosquitto_pub") is None, reason="needs mosquitto_pub"),
]


def _forged(site: str, items: range) -> bytes:
    """One line per forged verdict: clear, for edge-1's items, unsigned and self-signed."""
    key = generate_key()
    lines = []
    for item in items:
        now = datetime.now(UTC)
        v = Verdict(
            verdict_id=uuid.uuid4(),
            site=site,
            edge_id="edge-1",
            parcel_code=f"X{item}",
            item_id=item,
            verdict=VerdictKind.CLEAR,
            inspector="mallory",
            at=now,
            issued_at=now,
            expires_at=now + timedelta(minutes=1),
        )
        lines.append(v.model_dump_json())
        lines.append(sign_verdict(key, v).model_dump_json())
    return ("\n".join(lines) + "\n").encode()


def test_a_flood_of_forged_clear_verdicts_releases_nothing(
    tmp_path: Path, memory_dir: Path | None
) -> None:
    """Forged clear verdicts flood in while parcels flow: none applied, none releases."""
    # the site's stores on memory-backed files where there are some: the subject is the flood,
    # not a shared disk whose slow fsyncs hold up the edge's answers and the reviews behind them
    workdir = (memory_dir if memory_dir is not None else tmp_path) / "demo"
    run = start_site(CONFIG, load_rules(None), workdir, parcels=40, seed=11, rate_per_s=5)
    stop = threading.Event()
    sent = {"batches": 0}
    try:
        assert run.trust is not None
        site = run.hub.settings.site_id
        topic = verdict_topic(site)
        host, port = run.broker.host, str(run.broker.port)
        anonymous = subprocess.run(
            [MOSQUITTO_PUB, "-h", host, "-p", port, "-t", topic, "-m", "{}"],
            check=False,
            capture_output=True,
            timeout=20,
        )
        assert anonymous.returncode != 0  # the demo broker wants credentials

        def attack() -> None:
            password = run.trust.passwords[SIM_USER] if run.trust else ""
            while not stop.wait(1.0):
                subprocess.run(
                    [
                        MOSQUITTO_PUB,
                        "-h",
                        host,
                        "-p",
                        port,
                        "-u",
                        SIM_USER,
                        "-P",
                        password,
                        "-q",
                        "1",
                        "-t",
                        topic,
                        "-l",
                    ],
                    input=_forged(site, range(1, 61)),
                    check=False,
                    capture_output=True,
                    timeout=30,
                )
                sent["batches"] += 1

        attacker = threading.Thread(target=attack, name="attacker")
        attacker.start()
        try:
            summary = finish(run, timeout_s=40 / 5 * 3 + 120)
        finally:
            stop.set()
            attacker.join(60)
    finally:
        run.stop()
    gate = run.edges[0].gate.stats
    assert sent["batches"] >= 2
    assert summary["wrong_releases"] == 0 and summary["unaccounted"] == 0
    assert summary["mismatches"] == 0, (
        f"{summary['mismatches']} parcels not as expected ({summary['mismatches_by_cause']}; "
        f"{summary['late_reviews']} reviews too late; decision latency "
        f"{summary['decision_latency']}; reasons {summary['by_reason']}): "
        f"{summary['mismatch_examples']}"
    )
    assert gate.refused >= 100, "the forged verdicts never reached the edge"
    assert gate.applied == summary["inspector_verdicts"] > 0
    engine = make_engine(f"sqlite:///{workdir / 'hub.db'}")
    try:
        with engine.connect() as conn:
            alarms = conn.execute(
                select(func.count()).select_from(EVENT).where(EVENT.c.kind == "alarm")
            ).scalar_one()
    finally:
        engine.dispose()
    assert alarms >= 100
