"""An attacker on a real Mosquitto locked down with the files ``clearline`` writes.

The test writes the password file, ACL and TLS listener with ``write_broker_config`` (what
``clearline hub broker-config`` runs), makes a throw-away CA and server certificate, starts
``/usr/sbin/mosquitto -c mosquitto.conf`` on a free port, and attacks it with the real
``mosquitto_pub``: no credentials, a wrong password, plain TCP, another edge's credentials,
and an edge's stolen broker password without its signing key.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlmodel import Session

from contracts.events import Decided, edge_event
from contracts.messages import Verdict, VerdictKind
from contracts.reasons import Outcome
from contracts.topics import edge_event_topic, verdict_topic
from devices.signing import sign_verdict
from hub.db.event_models import EVENT
from hub.services.enrol_files import write_broker_config
from inspection.rules import RuleSet
from simulators.broker import free_port
from tests.security.harness import CODE, EdgeSide, HubSide, mosquitto_pub, suspect_at_hub, wait

MOSQUITTO = "/usr/sbin/mosquitto"
pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(
        not (Path(MOSQUITTO).exists() and shutil.which("mosquitto_pub")),
        reason="needs /usr/sbin/mosquitto and mosquitto_pub (apt install mosquitto-clients)",
    ),
]


def _certificates(folder: Path) -> None:
    """A CA and a server certificate for 127.0.0.1, as ca.crt, server.crt and server.key."""
    now = datetime.now(UTC)

    def cert(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Name,
        signer: ec.EllipticCurvePrivateKey,
        ca: bool,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clearline test CA")])
    ca_cert = cert("clearline test CA", ca_key, ca_name, ca_key, ca=True)
    server = cert("127.0.0.1", server_key, ca_name, ca_key, ca=False)
    pem = serialization.Encoding.PEM
    (folder / "ca.crt").write_bytes(ca_cert.public_bytes(pem))
    (folder / "server.crt").write_bytes(server.public_bytes(pem))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (folder / "server.key").chmod(0o600)


@dataclass
class Locked:
    """The locked broker and everything connected to it."""

    hub: HubSide
    edge: EdgeSide
    site: str
    port: int
    folder: Path
    log: Path

    @property
    def tls(self) -> list[str]:
        """mosquitto_pub options for the TLS listener."""
        return ["--cafile", str(self.folder / "ca.crt")]

    def url(self, user: str, password: str | None = None) -> str:
        """A client URL for ``user`` over TLS."""
        who = f"{user}:{password}" if password is not None else user
        return f"mqtts://{who}@127.0.0.1:{self.port}?ca={self.folder / 'ca.crt'}"

    def denied(self, client_id: str) -> int:
        """How many publishes the broker denied to ``client_id`` (its own alarm, in its log)."""
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        lines = text.splitlines()
        return sum(1 for line in lines if "Denied PUBLISH" in line and client_id in line)


@pytest.fixture
def locked(tmp_path: Path, rules: RuleSet) -> Iterator[Locked]:
    """Mosquitto with the generated passwd/ACL/TLS files; the hub and edge e1 connected."""
    site = f"lock-{uuid.uuid4().hex[:8]}"
    hub = HubSide(tmp_path, site)
    hub.enrol("e1")
    hub.enrol("e2")
    folder, port = tmp_path / "broker", free_port()
    with Session(hub.engine) as session:
        write_broker_config(session, folder, site, port=port)
    _certificates(folder)
    log = folder / "mosquitto.log"
    extra = [f"log_dest file {log}", "log_type all", "persistence false"]
    if os.geteuid() == 0:
        extra.append("user root")  # as root, Mosquitto would switch to the mosquitto user
    conf = folder / "mosquitto.conf"
    conf.write_text(conf.read_text(encoding="utf-8") + "\n".join(extra) + "\n", encoding="utf-8")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stderr=subprocess.PIPE)
    try:
        wait(lambda: log.exists() and "Opening ipv4 listen socket" in log.read_text(), "mosquitto")
        locked = Locked(hub, None, site, port, folder, log)  # type: ignore[arg-type]
        hub_password = (folder / "hub.password").read_text().strip()
        hub.start(locked.url("clearline-hub", hub_password))
        edge_url = locked.url(hub.enrolled["e1"].broker_user)
        locked.edge = EdgeSide(tmp_path, site, "e1", hub.files["e1"], edge_url, rules).start()
        try:
            yield locked
        finally:
            locked.edge.stop()
            hub.stop()
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_genuine_path_works_through_the_locked_broker(locked: Locked) -> None:
    hub, edge = locked.hub, locked.edge
    edge.suspect_parcel(1)
    wait(lambda: hub.parcel("e1", 1) is not None, "edge e1's signed events at the hub")
    hub.verdict(1, VerdictKind.CLEAR)
    wait(lambda: edge.replies_for(1), "the genuine verdict at the edge")
    assert [r.chute for r in edge.replies_for(1)] == [1]
    wait(lambda: (hub.parcel("e1", 1) or {}).get("outcome") == "RELEASE", "the decision")
    assert hub.alarms() == 0 and edge.rt.gate.stats.refused == 0


def test_outsiders_and_other_edges_cannot_publish(locked: Locked) -> None:
    hub, edge, site, port = locked.hub, locked.edge, locked.site, locked.port
    edge.suspect_parcel(1)
    before = suspect_at_hub(hub, "e1", 1)
    now = datetime.now(UTC)
    clear = Verdict(
        verdict_id=uuid.uuid4(),
        site=site,
        edge_id="e1",
        parcel_code=CODE,
        item_id=1,
        verdict=VerdictKind.CLEAR,
        inspector="mallory",
        at=now,
        issued_at=now,
        expires_at=now + timedelta(minutes=1),
    )
    # even a verdict signed with the hub's key (were it stolen) needs the hub's broker account
    payload = sign_verdict(hub.key, clear).model_dump_json().encode()
    topic = verdict_topic(site)
    assert mosquitto_pub(port, topic, [payload], extra=locked.tls) != 0  # anonymous
    e1 = hub.enrolled["e1"]
    assert (
        mosquitto_pub(
            port, topic, [payload], user=e1.broker_user, password="guess", extra=locked.tls
        )
        != 0
    )  # wrong password
    assert (
        mosquitto_pub(port, topic, [payload], user=e1.broker_user, password=e1.broker_password) != 0
    )  # plain TCP to the TLS listener
    e2 = hub.enrolled["e2"]
    release = Decided(outcome=Outcome.RELEASE, reasons=[], rule_set_version="x", chute=1)
    event = edge_event(release, site=site, edge_id="e1", at=now, item_id=1, parcel_code=CODE)
    for target, body in (
        (topic, payload),
        (edge_event_topic(site, "e1"), event.model_dump_json().encode()),
    ):
        assert (
            mosquitto_pub(
                port,
                target,
                [body],
                user=e2.broker_user,
                password=e2.broker_password,
                extra=[*locked.tls, "-i", "attacker-e2"],
            )
            == 0
        )
    wait(lambda: locked.denied("attacker-e2") >= 2, "the broker's denials of edge-e2")
    # edge e1's broker password without its signing key: the broker lets it through, the
    # hub's signature check does not
    assert (
        mosquitto_pub(
            port,
            edge_event_topic(site, "e1"),
            [event.model_dump_json().encode()],
            user=e1.broker_user,
            password=e1.broker_password,
            extra=locked.tls,
        )
        == 0
    )
    wait(lambda: hub.alarms() == 1, "the hub's trust alarm")
    # what the broker denied was dropped there: no verdict ever reached the edge
    assert (edge.rt.gate.stats.refused, edge.rt.gate.stats.applied) == (0, 0)
    assert edge.waiting(1) and hub.parcel("e1", 1) == before
    assert hub.count(EVENT, kind="decided") == 0
