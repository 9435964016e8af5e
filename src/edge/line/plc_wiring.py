"""The edge's PLC link as ``plc_link`` asks: a process of its own, or threads of the edge."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from contracts.clock import Clock
from devices.adapters.plc import PlcAdapter
from edge.config import EdgeConfig
from edge.line.heartbeat import BeatFigures, Heartbeat
from edge.line.plc_child import ChildSettings, endpoint_of
from edge.line.plc_link import PlcLink
from edge.line.plc_process import PlcProcessLink, WarmProcess
from edge.state import SafetyState


@dataclass(frozen=True, slots=True)
class PlcWiring:
    """The link; the adapter and heartbeat thread when they run in the edge; the beat figures."""

    link: PlcLink | PlcProcessLink
    adapter: PlcAdapter | None
    beat_thread: Heartbeat | None
    beat: BeatFigures


def wire_plc(
    cfg: EdgeConfig,
    state: SafetyState,
    steady: Clock,
    sink: Callable[[object], None],
    stop: threading.Event,
    *,
    alive: Callable[[], bool],
    warm: WarmProcess | None = None,
) -> PlcWiring:
    """Build the PLC link of ``cfg``; events go to ``sink``, ``alive()`` gates the heartbeat,
    and the confirmations read are journaled in ``state`` before the engine gets them.

    ``warm`` is a PLC link process started ahead (closed unused with ``plc_link: thread``).
    """
    if cfg.plc_link == "process":  # polls, replies, confirm journal and heartbeat there
        if state.path is None:
            raise ValueError("a PLC link process needs the safety store in a file")
        settings = ChildSettings(
            device=cfg.plc,
            state_path=str(state.path),
            anchor_at=steady.now(),
            anchor_mono=time.monotonic(),
            log_level=logging.getLogger().getEffectiveLevel(),
            nice=cfg.plc_link_nice,
        )
        link = PlcProcessLink(settings, sink, stop, alive=alive, warm=warm)
        return PlcWiring(link, None, None, link.beat)
    if warm is not None:
        warm.close()
    adapter = PlcAdapter(
        endpoint_of(cfg.plc),
        word_order=cfg.plc.word_order,
        clock=steady,
        beat_in_cycle=False,
        confirm_from=state.confirm_cursor(),
    )
    # the heartbeat has its own thread and connection: never late while the edge is busy
    beat = Heartbeat(endpoint_of(cfg.plc), stop, alive=alive)
    thread_link = PlcLink(adapter, sink, stop, journal=state.journal_read)
    return PlcWiring(thread_link, adapter, beat, beat)
