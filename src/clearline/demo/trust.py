"""The demo's trust set-up: its edges enrolled, and a user and password for every client.

The demo runs as a real site would: the embedded broker admits only the users made here,
the hub signs every verdict, and each edge signs its events and checks the hub's verdicts
with the keys its enrolment wrote.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from edge.config import EdgeConfig
from edge.trust import EdgeTrust
from hub.db import migrate
from hub.db.engine import make_engine
from hub.ingest.trust import load_hub_key
from hub.services import edges
from hub.services.broker import HUB_USER
from hub.services.enrol_files import EnrolFiles, write_enrolment
from simulators.broker import EmbeddedBroker

#: Broker users of the demo's simulators and inspector.
SIM_USER = "demo-sim"
INSPECTOR_USER = "demo-inspector"


@dataclass
class DemoTrust:
    """Every demo credential: broker passwords by user, and each edge's enrolment files."""

    workdir: Path
    hub_key_path: Path
    passwords: dict[str, str] = field(default_factory=dict)
    files: dict[str, EnrolFiles] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)  # edge id -> broker user

    def url(self, broker: EmbeddedBroker, user: str) -> str:
        """The broker URL of ``user`` with its password."""
        return broker.url_for(user, self.passwords[user])

    def hub_url(self, broker: EmbeddedBroker) -> str:
        """The hub's broker URL."""
        return self.url(broker, HUB_USER)

    def edge(self, cfg: EdgeConfig, broker: EmbeddedBroker) -> EdgeConfig:
        """``cfg`` with the edge's broker user, its keys and its bound API key's variable."""
        files = self.files[cfg.edge_id]
        user = self.users[cfg.edge_id]
        return cfg.model_copy(
            update={
                "broker_url": f"mqtt://{user}@{broker.host}:{broker.port}",
                "trust": EdgeTrust(
                    signing_key=files.signing_key,
                    hub_public_keys=[files.hub_public_key],
                    broker_password_file=files.broker_password,
                ),
                "hub_api_key_env": api_key_env(cfg.edge_id),
            }
        )


def api_key_env(edge_id: str) -> str:
    """The environment variable holding a demo edge's bound API key."""
    return "CLEARLINE_DEMO_KEY_" + "".join(c if c.isalnum() else "_" for c in edge_id).upper()


def enrol_demo(db_url: str, site: str, edge_ids: list[str], workdir: Path) -> DemoTrust:
    """Migrate the hub database, enrol ``edge_ids`` and make the other clients' passwords."""
    trust = DemoTrust(workdir, workdir / "hub-signing.key")
    hub_key = load_hub_key(trust.hub_key_path)
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine)
        with Session(engine) as session:
            for edge_id in edge_ids:
                done = edges.enrol(session, edge_id, site, datetime.now(UTC), devices=[])
                trust.files[edge_id] = write_enrolment(
                    done, workdir / f"enrol-{edge_id}", hub_key, "mqtt://127.0.0.1:1883"
                )
                trust.passwords[done.broker_user] = done.broker_password
                trust.users[edge_id] = done.broker_user
                if done.api_key is not None:
                    trust.api_keys[edge_id] = done.api_key
    finally:
        engine.dispose()
    for user in (HUB_USER, SIM_USER, INSPECTOR_USER):
        trust.passwords[user] = secrets.token_urlsafe(18)
    return trust
