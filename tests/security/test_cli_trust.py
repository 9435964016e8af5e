"""`clearline hub edge enrol|list|revoke` and `clearline hub broker-config`."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearline.cli import app
from devices.signing import load_private_key, load_public_key
from hub.services.broker import check_password, password_hash


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A hub database and key path of the test's own."""
    monkeypatch.setenv("CLEARLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    monkeypatch.setenv("CLEARLINE_SIGNING_KEY_PATH", str(tmp_path / "hub.key"))
    monkeypatch.setenv("CLEARLINE_SITE_ID", "s9")
    return tmp_path


def run(*args: str) -> str:
    """Run ``clearline ARGS``; return its output, failing on a non-zero exit."""
    result = CliRunner().invoke(app, ["--log-level", "WARNING", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_enrol_writes_private_files_and_the_hub_key(env: Path) -> None:
    out = env / "enrol-e1"
    run("hub", "edge", "enrol", "e1", "--out", str(out), "--device", "xr1")
    for name in ("edge-signing.key", "broker.password", "api.key"):
        assert (out / name).stat().st_mode & 0o777 == 0o600, name
    assert (env / "hub.key").stat().st_mode & 0o777 == 0o600
    hub_pub = load_public_key(out / "hub-signing.pub")
    assert hub_pub == load_private_key(env / "hub.key").public_key()
    snippet = (out / "site-snippet.yaml").read_text()
    assert "mqtts://edge-e1@127.0.0.1:8883" in snippet and "broker_password_file" in snippet
    again = CliRunner().invoke(app, ["hub", "edge", "enrol", "e1", "--out", str(out)])
    assert again.exit_code != 0 and "enrolled already" in again.output
    old = (out / "edge-signing.key").read_bytes()
    run("hub", "edge", "enrol", "e1", "--rotate", "--out", str(out))
    assert (out / "edge-signing.key").read_bytes() != old
    assert json.loads(run("hub", "edge", "alarms", "--json")) == []
    (listed,) = json.loads(run("hub", "edge", "list", "--json"))
    assert listed["edge_id"] == "e1" and listed["rotating"] and not listed["revoked"]


def test_broker_config_from_the_registry(env: Path) -> None:
    run("hub", "edge", "enrol", "e1", "--out", str(env / "e1"), "--device", "xr1")
    run("hub", "edge", "enrol", "e2", "--out", str(env / "e2"))
    run("hub", "edge", "revoke", "e2")
    run("hub", "broker-config", "--out", str(env / "broker"), "--port", "18883")
    broker = env / "broker"
    passwd = dict(line.split(":", 1) for line in (broker / "passwd").read_text().splitlines())
    assert set(passwd) == {"clearline-hub", "edge-e1"}  # the revoked edge is gone
    assert check_password((env / "e1" / "broker.password").read_text().strip(), passwd["edge-e1"])
    hub_pw = (broker / "hub.password").read_text().strip()
    assert check_password(hub_pw, passwd["clearline-hub"])
    acl = (broker / "acl").read_text()
    assert "user edge-e1\ntopic read clearline/s9/hub/#" in acl
    assert "topic write clearline/s9/edge/e1/#" in acl
    assert "topic write clearline/s9/xray/xr1/image/+" in acl
    assert "edge-e2" not in acl
    conf = (broker / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "listener 18883" in conf
    # a second run keeps the hub's password when told where it is
    run(
        "hub",
        "broker-config",
        "--out",
        str(broker),
        "--hub-password-file",
        str(broker / "hub.password"),
    )
    assert (broker / "hub.password").read_text().strip() == hub_pw


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="needs mosquitto_passwd")
def test_our_hashes_and_mosquitto_passwd_agree(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", "-H", "sha512-pbkdf2", str(path), "u", "s3cret"],
        check=True,
        capture_output=True,
    )
    theirs = path.read_text().strip().split(":", 1)[1]
    assert check_password("s3cret", theirs) and not check_password("s3creT", theirs)
    assert theirs.startswith("$7$101$") and password_hash("s3cret").startswith("$7$101$")


def test_alarms_lists_what_the_hub_refused(env: Path) -> None:
    from contracts.events import Alarm, edge_event
    from hub.db.engine import make_engine
    from hub.ingest.events import ingest
    from hub.ingest.trust import EventTrust

    run("hub", "edge", "enrol", "e1", "--out", str(env / "e1"))
    engine = make_engine(f"sqlite:///{env / 'hub.db'}")
    try:
        forged = edge_event(Alarm(alarm="x"), site="s9", edge_id="e1", at=datetime.now(UTC))
        assert ingest(engine, [forged], trust=EventTrust(engine)).stored == 0
    finally:
        engine.dispose()
    (alarm,) = json.loads(run("hub", "edge", "alarms", "--json"))
    assert alarm["kind"] == "unsigned" and alarm["edge_id"] == "e1"
    assert alarm["event_id"] == str(forged.event_id)
