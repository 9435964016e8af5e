"""A short soak: 30 s at 20 parcels/s, the active edge SIGKILLed once; the spare takes over.

At 20 parcels/s the PLC's 16-entry confirm ring covers 0.8 s: a cold restart of the edge
(3-8 s) loses confirmations, the warm spare must not. The rate is the one the shared 2-core
test machine keeps in real time with 512 px X-ray images; the full soak (50 parcels/s,
10 minutes, a kill every 2 minutes) is ``scripts/soak.py``, figures in ``docs/invariants.md``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.e2e.soak import SoakOptions, run_soak

pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)
RATE = 20.0
SECONDS = 30.0  # one kill half-way; scripts/soak.py runs the long soaks


def test_short_soak_with_one_edge_kill(tmp_path: Path) -> None:
    """No wrong release, every parcel accounted for and confirmed, every event at the hub."""
    figures = run_soak(
        SoakOptions(workdir=tmp_path, seconds=SECONDS, rate=RATE, kill_every_s=SECONDS / 2)
    )
    log.info("soak figures: %s", {k: v for k, v in figures.items() if k != "samples"})
    parcels = figures["parcels"]
    assert parcels["inducted"] == parcels["accounted"] == SECONDS * RATE
    # the line ran the rate asked (a belt that cannot carry it once gave 29 of 50 a second)
    assert parcels["induction_rate_per_s"] == pytest.approx(RATE, rel=0.1), parcels
    assert figures["wrong_releases"] == 0, figures["wrong_release_seqs"]
    assert figures["events"]["lost"] == 0
    assert figures["events"]["duplicate_ids"] == 0
    assert figures["answered_without_decided_at_hub"] == 0
    assert figures["contradicting_decisions"] == 0
    [takeover] = figures["takeovers"]
    assert takeover["new_pid"] not in (None, takeover["killed_pid"]), takeover
    assert figures["unconfirmed_parcels"] == 0, (
        f"{figures['unconfirmed_parcels']} answered parcels never confirmed; takeover {takeover}, "
        f"lost_confirms alarms {figures['lost_confirms_alarms']}, simulator {figures['simulator']}"
    )
