"""The outbox keeps events across a killed process and never starves live traffic."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from edge.outbox import Outbox


def test_put_ack_and_duplicates(tmp_path: Path) -> None:
    """Events are stored once per id and forgotten when acked."""
    ob = Outbox(tmp_path / "o.db")
    ob.put("e1", "t", b"1", now=100.0)
    ob.put("e1", "t", b"1-again", now=100.0)
    ob.put_many([("e2", "t", b"2"), ("e3", "t", b"3")], now=100.0)
    batch = ob.next_batch(10, now=100.0)
    assert [p.event_id for p in batch] == ["e1", "e2", "e3"]
    assert batch[0].payload == b"1"
    ob.ack([batch[0].seq, batch[1].seq])
    assert ob.pending() == 1
    ob.close()


def test_live_events_are_not_starved_by_backlog(tmp_path: Path) -> None:
    """With a large old backlog, new events still come in the next batch."""
    ob = Outbox(tmp_path / "o.db", live_window_s=2.0)
    ob.put_many([(f"old{i}", "t", b"x") for i in range(1000)], now=0.0)
    ob.put("live1", "t", b"y", now=500.0)
    batch = ob.next_batch(20, now=500.5)
    ids = [p.event_id for p in batch]
    assert "live1" in ids and ids[0] == "live1"
    assert len(ids) == 20 and ids[1:] == [f"old{i}" for i in range(19)]
    ob.close()


def test_survives_sigkill(tmp_path: Path) -> None:
    """Events put by a process that is then killed with SIGKILL are all there on reopen."""
    db = tmp_path / "o.db"
    prog = (
        "import sys, time; from edge.outbox import Outbox; ob = Outbox(sys.argv[1]);\n"
        "[ob.put(f'e{i}', 't', b'p') for i in range(500)]\n"
        "print('ready', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", prog, str(db)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    ob = Outbox(db)
    assert ob.pending() == 500
    ob.close()


def test_sent_events_wait_for_the_hub(tmp_path: Path) -> None:
    """A broker-acked event is only marked sent; it leaves after the hub confirms it."""
    ob = Outbox(tmp_path / "o.db")
    ob.put_many([("e1", "t", b"1"), ("e2", "t", b"2")], now=100.0)
    first = ob.next_batch(10, now=100.0)
    ob.mark_sent([first[0].seq], now=101.0)
    assert [p.event_id for p in ob.next_batch(10, now=101.0)] == ["e2"]
    assert (ob.pending(), ob.unsent()) == ob.counts() == (2, 1)
    assert ob.sent_batch(10, min_age_s=1.0, now=101.5) == []  # too fresh: MQTT may deliver it
    ready = ob.sent_batch(10, min_age_s=1.0, now=102.0)
    assert [p.event_id for p in ready] == ["e1"] and ready[0].payload == b"1"
    ob.ack([ready[0].seq])
    assert (ob.pending(), ob.unsent()) == ob.counts() == (1, 1)
    ob.close()


def test_store_without_sent_column_is_upgraded(tmp_path: Path) -> None:
    """An outbox file from before hub confirmation keeps its events, all unsent."""
    import sqlite3

    db = tmp_path / "o.db"
    con = sqlite3.connect(db)
    con.execute(
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL "
        "UNIQUE, topic TEXT NOT NULL, payload BLOB NOT NULL, created_at REAL NOT NULL)"
    )
    con.execute(
        "INSERT INTO outbox(event_id, topic, payload, created_at) VALUES ('e', 't', x'31', 1)"
    )
    con.commit()
    con.close()
    ob = Outbox(db)
    assert [p.event_id for p in ob.next_batch(5, now=2.0)] == ["e"]
    assert ob.unsent() == 1
    ob.close()
