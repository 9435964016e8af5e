"""Parts of the demo that must hold up: the port check, the accounts, the latency figures."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from sqlmodel import Session, select

from clearline.demo.accounts import create_accounts
from clearline.demo.command import check_port
from clearline.demo.site_run import pass_times
from contracts.events import EventKind
from hub.db.auth_models import User
from hub.db.engine import make_engine
from hub.db.event_models import create_event_tables
from hub.db.migrate import upgrade
from hub.ingest.events import ingest
from hub.services.users import login
from tests.hub.helpers_events import T0, file_declarations, make_event


def test_port_in_use_or_out_of_range_is_refused_in_words() -> None:
    """A taken port and a port out of range stop the demo before anything starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        with pytest.raises(typer.BadParameter, match=f"port {taken} is in use"):
            check_port(taken)
    with pytest.raises(typer.BadParameter, match="not a TCP port"):
        check_port(70000)
    check_port(0)  # any free port


def test_one_account_per_role_that_can_log_in(tmp_path: Path) -> None:
    """Operator, inspector, supervisor and filer (with an enterprise of the data) log in."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(url)
    upgrade(engine)
    (ps,) = file_declarations(engine, 1)
    accounts = create_accounts(url)
    roles = {a.role for a in accounts}
    assert {"operator", "inspector", "supervisor", "filer"} <= roles
    filer = next(a for a in accounts if a.role == "filer")
    assert filer.enterprise == ps.inventory.ebc_code
    with Session(engine) as session:
        for a in accounts:
            token, _ = login(session, a.name, a.password, T0, 600)
            assert token
        assert len(session.exec(select(User)).all()) == len(accounts)
    engine.dispose()


def test_scan_to_reply_and_the_xray_wait_come_from_the_events(tmp_path: Path) -> None:
    """Scan → reply from the first read to the decision; the X-ray wait from the request on;
    a desk decision (no item, no latency) is left out instead of breaking the summary."""
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    create_event_tables(engine)
    read = {"device_id": "t1", "status": "OK", "codes": ["RR1"]}
    decided = {"outcome": "RELEASE", "reasons": [], "rule_set_version": "1", "chute": 1}
    events = [
        make_event(EventKind.CODE_READ, read, item_id=1, at_s=0.0),
        make_event(EventKind.REQUESTED, {"deadline_ms": 900}, item_id=1, at_s=0.5),
        make_event(EventKind.DECIDED, {**decided, "latency_ms": 0.2}, item_id=1, at_s=0.75),
        make_event(EventKind.CODE_READ, read | {"codes": ["RR2"]}, item_id=2, at_s=1.0),
        make_event(EventKind.DECIDED, {**decided, "latency_ms": 0.3}, item_id=2, at_s=1.1),
        make_event(EventKind.DECIDED, {**decided, "desk": True}, item_id=None, parcel_code="RR3"),
    ]
    assert not ingest(engine, events).rejected
    with engine.connect() as conn:
        reply, wait = pass_times(conn)
    assert sorted(reply) == pytest.approx([100.0, 750.0])
    assert wait == pytest.approx([250.0])
    assert timedelta(milliseconds=wait[0]) < timedelta(seconds=1)
    engine.dispose()
