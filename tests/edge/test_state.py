"""The edge's safety facts survive a restart: holds, duplicates, answers, confirm cursor."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from contracts import registers as reg
from contracts.clock import ManualClock
from contracts.events import EdgeEvent, EventKind, VerdictKind
from contracts.messages import Verdict
from contracts.reasons import REASON_INDEX, Reason
from contracts.statuses import ConfirmStatus, PlcState, ReadStatus, XrayState
from devices import modbus_maps as mm
from devices.adapters.plc import PlcAdapter
from devices.events import (
    BarcodeRead,
    DestinationRequested,
    DivertConfirmed,
    SendToChute,
    WeightMeasured,
)
from devices.modbus_maps import RegisterWrite
from edge.line.engine import InboxCheck, LineEngine, XrayScreened
from edge.state import Answer, SafetyState
from inspection.index import DeclarationIndex
from inspection.model import DocKind
from inspection.rules import RuleSet
from sorting.chutes import ChutePlan
from tests.inspection.builders import T0, inventory, order, payment, waybill

PLAN = ChutePlan.model_validate(
    {"release_by_route": {"*": 1}, "inspect": 5, "hold": 6, "return": 7, "reject": 9}
)
CODE = "YT0000000001"


def _index() -> DeclarationIndex:
    idx = DeclarationIndex()
    idx.add_all([order(1), payment(1), waybill(1), inventory(1)])
    idx.set_status(DocKind.INVENTORY, "AG001:COP00000001", 800)
    return idx


class Edge:
    """One engine on a safety store file; ``restart()`` builds a new one on the same file."""

    def __init__(self, rules: RuleSet, path: Path) -> None:
        self.rules, self.path = rules, path
        self.clock = ManualClock(T0)
        self.replies: list[SendToChute] = []
        self.events: list[EdgeEvent] = []
        self.index = _index()
        self.restart()

    def restart(self) -> None:
        """Lose every memory of the engine (as a killed process does) and start again."""
        self.state = SafetyState(self.path)
        self.engine = LineEngine(
            site="s1", edge_id="e1", index=self.index, rules=self.rules, plan=PLAN,
            reply=self.replies.append, emit=self.events.append, clock=self.clock,
            state=self.state,
        )  # fmt: skip

    def facts(self, item: int, codes: Sequence[str] = (CODE,)) -> None:
        e, now = self.engine, self.clock.now()
        e.handle(BarcodeRead("tunnel", item, ReadStatus.OK, tuple(codes), now))
        e.handle(WeightMeasured("cw", item, 1.2, True, now))
        e.handle(XrayScreened(item, XrayState.CLEARED))

    def ask(self, item: int) -> SendToChute:
        before = len(self.replies)
        self.engine.handle(DestinationRequested("plc", item, 500, self.clock.now()))
        if len(self.replies) == before:
            due = self.engine.due_in_s()
            assert due is not None
            self.clock.advance(due)
            self.engine.answer_due()
        return self.replies[-1]


def _verdict(kind: VerdictKind) -> Verdict:
    return Verdict(
        verdict_id=uuid.uuid4(), site="s1", parcel_code=CODE, verdict=kind,
        inspector="insp", at=T0,
    )  # fmt: skip


def test_hold_survives_a_restart(rules: RuleSet, tmp_path: Path) -> None:
    """A HOLD verdict given before a restart still holds the parcel after it."""
    edge = Edge(rules, tmp_path / "state.db")
    edge.engine.handle(_verdict(VerdictKind.HOLD))
    edge.restart()
    edge.facts(7)
    assert edge.ask(7).chute == PLAN.hold
    assert SafetyState(tmp_path / "state.db").holds == {CODE}


def test_redelivered_verdict_changes_nothing(rules: RuleSet, tmp_path: Path) -> None:
    """The same verdict twice (QoS 1 redelivery, sync) is applied and reported once."""
    edge = Edge(rules, tmp_path / "state.db")
    v = _verdict(VerdictKind.HOLD)
    edge.engine.handle(v)
    edge.restart()
    edge.engine.handle(v)
    applied = [e for e in edge.events if e.kind is EventKind.VERDICT_APPLIED]
    assert len(applied) == 1


def test_duplicate_caught_after_a_restart(rules: RuleSet, tmp_path: Path) -> None:
    """A second copy of a label released before a restart is a duplicate after it."""
    edge = Edge(rules, tmp_path / "state.db")
    edge.facts(1)
    assert edge.ask(1) == SendToChute(1, 1, 0)
    edge.restart()
    edge.facts(2)
    reply = edge.ask(2)
    assert reply.chute != 1
    assert reply.reason == REASON_INDEX[Reason.DUPLICATE_PARCEL]


def test_released_keys_not_trimmed_by_count(tmp_path: Path) -> None:
    """Released keys are kept for their lifetime however many there are, then pruned."""
    state = SafetyState(tmp_path / "state.db", released_retain_s=3600)
    for n in range(100_001):
        if n % 20_000 == 0 or n == 100_000:
            state.record_answer(Answer(n, 1, 0, "RELEASE", T0, ()), f"inventory:K{n}")
    state.record_answer(Answer(5, 1, 0, "RELEASE", T0 + timedelta(hours=2), ()), "inventory:new")
    assert state.released_item("inventory:K0") == 0
    assert state.prune(T0 + timedelta(hours=2, minutes=30)) == (6, 7)
    assert state.released_item("inventory:K0") is None
    assert state.released_item("inventory:new") == 5


def test_restart_repeats_an_open_answer(rules: RuleSet, tmp_path: Path) -> None:
    """Asked again after a restart, the edge gives the same answer and the same events."""
    edge = Edge(rules, tmp_path / "state.db")
    edge.facts(3)
    first = edge.ask(3)
    decided = [e for e in edge.events if e.kind is EventKind.DECIDED]
    edge.restart()  # no facts about item 3 any more: deciding again would reject it
    again = edge.ask(3)
    assert again == first == SendToChute(3, 1, 0)
    decided_after = [e for e in edge.events if e.kind is EventKind.DECIDED]
    assert {e.event_id for e in decided_after} == {e.event_id for e in decided}
    assert len(decided_after) == 2  # sent again with the same id: the hub keeps one


def test_confirmed_item_is_decided_afresh(rules: RuleSet, tmp_path: Path) -> None:
    """Once the PLC confirmed an item (a recirculation), a new request is decided again."""
    edge = Edge(rules, tmp_path / "state.db")
    edge.facts(4)
    edge.ask(4)
    edge.engine.handle(DivertConfirmed("plc", 4, 1, ConfirmStatus.LANE_FULL, T0, seq=0))
    assert edge.state.open_answer(4, T0) is None
    assert edge.state.confirm_cursor() == 1
    edge.engine.handle(_verdict(VerdictKind.HOLD))
    assert edge.ask(4).chute == PLAN.hold


def test_confirmation_read_twice_is_one_event(rules: RuleSet, tmp_path: Path) -> None:
    """The same ring entry read again after a restart makes an event with the same id."""
    edge = Edge(rules, tmp_path / "state.db")
    edge.facts(6)
    edge.ask(6)
    c = DivertConfirmed("plc", 6, 1, ConfirmStatus.DIVERTED, T0, seq=41)
    edge.engine.handle(c)
    edge.restart()
    edge.engine.handle(c)
    ids = [e.event_id for e in edge.events if e.kind is EventKind.CONFIRMED]
    assert len(ids) == 2 and len(set(ids)) == 1


def test_restored_answer_guards_a_release_confirmation(rules: RuleSet, tmp_path: Path) -> None:
    """After a restart the reconciler knows the answers given before it: no false alarm."""
    edge = Edge(rules, tmp_path / "state.db")
    edge.facts(8)
    edge.ask(8)
    edge.restart()
    edge.engine.handle(DivertConfirmed("plc", 8, 1, ConfirmStatus.DIVERTED, T0, seq=0))
    assert not [e for e in edge.events if e.kind is EventKind.ALARM]
    edge.engine.handle(DivertConfirmed("plc", 99, 1, ConfirmStatus.DIVERTED, T0, seq=1))
    alarms = [e for e in edge.events if e.kind is EventKind.ALARM]
    assert [a.data["alarm"] for a in alarms] == ["release_without_decision"]


# --- the PLC adapter's confirm cursor ------------------------------------------------------


class FakePlc:
    """A PLC register map in memory, served as the adapter's endpoint."""

    device_id = "plc"
    online = True

    def __init__(self) -> None:
        self.regs = [0] * reg.PLC_REGISTER_COUNT
        self.regs[reg.PLC_STATE.address] = int(PlcState.RUNNING)
        self.confirm_head = 0

    def read_holding(self, address: int, count: int) -> list[int]:
        self.regs[reg.PLC_HEARTBEAT.address] = (self.regs[reg.PLC_HEARTBEAT.address] + 1) % 65536
        return self.regs[address : address + count]

    def write_registers(self, address: int, values: Sequence[int]) -> None:
        self.regs[address : address + len(values)] = list(values)

    def write_many(self, writes: Sequence[RegisterWrite]) -> None:
        for w in writes:
            self.write_registers(w.address, w.values)

    def confirm(self, *rows: tuple[int, int, int]) -> None:
        writes, self.confirm_head = mm.post_writes(reg.CONFIRM_RING, self.confirm_head, rows)
        self.write_many(writes)

    def close(self) -> None:
        pass


def _confirms(adapter: PlcAdapter) -> list[tuple[int, int | None]]:
    return [(e.item_id, e.seq) for e in adapter.cycle() if isinstance(e, DivertConfirmed)]


def test_plc_confirms_posted_while_away_are_read() -> None:
    """A restarted adapter resumes the confirm ring at the kept cursor, not at the head."""
    plc = FakePlc()
    first = PlcAdapter(plc, confirm_from=None)  # type: ignore[arg-type]
    first.cycle()
    plc.confirm((1, 1, 0), (2, 9, 1))
    assert _confirms(first) == [(1, 0), (2, 1)]
    plc.confirm((3, 1, 0), (4, 1, 0), (5, 9, 1))  # posted while the edge is down
    again = PlcAdapter(plc, confirm_from=2)  # type: ignore[arg-type]
    assert _confirms(again) == [(3, 2), (4, 3), (5, 4)]
    fresh = PlcAdapter(plc)  # type: ignore[arg-type]
    assert _confirms(fresh) == []  # no cursor kept: starts at the head


def test_plc_confirm_cursor_after_a_reset_plc() -> None:
    """A cursor far from the head (the PLC's rings were reset) adopts the head."""
    plc = FakePlc()
    plc.confirm((1, 1, 0))
    adapter = PlcAdapter(plc, confirm_from=40_000)  # type: ignore[arg-type]
    assert _confirms(adapter) == []
    plc.confirm((2, 1, 0))
    assert _confirms(adapter) == [(2, 1)]


def test_same_item_id_after_a_restart_is_a_duplicate(rules: RuleSet, tmp_path: Path) -> None:
    """PLC item ids start over: a kept id alone does not make a second copy the same parcel."""
    edge = Edge(rules, tmp_path / "state.db")
    edge.facts(1)
    assert edge.ask(1).chute == 1
    edge.engine.handle(DivertConfirmed("plc", 1, 1, ConfirmStatus.DIVERTED, T0, seq=0))
    edge.restart()
    edge.facts(1)
    assert edge.ask(1).reason == REASON_INDEX[Reason.DUPLICATE_PARCEL]


def test_recirculated_item_is_released_again(rules: RuleSet, tmp_path: Path) -> None:
    """The same parcel sent round again (lane full) is no duplicate of itself."""
    edge = Edge(rules, tmp_path / "state.db")
    edge.facts(2)
    assert edge.ask(2).chute == 1
    edge.engine.handle(DivertConfirmed("plc", 2, 1, ConfirmStatus.LANE_FULL, T0, seq=0))
    assert edge.ask(2) == SendToChute(2, 1, 0)


def test_overwritten_confirmations_raise_an_alarm(rules: RuleSet, tmp_path: Path) -> None:
    """A gap in the confirm ring's entry numbers (the ring wrapped while away) is an alarm."""
    edge = Edge(rules, tmp_path / "state.db")
    edge.engine.handle(DivertConfirmed("plc", 1, 9, ConfirmStatus.NO_ANSWER, T0, seq=0))
    edge.restart()
    edge.engine.handle(DivertConfirmed("plc", 5, 9, ConfirmStatus.NO_ANSWER, T0, seq=4))
    edge.engine.handle(DivertConfirmed("plc", 6, 9, ConfirmStatus.NO_ANSWER, T0, seq=5))
    lost = [e.data for e in edge.events if e.kind is EventKind.ALARM]
    lost = [d for d in lost if d["alarm"] == "lost_confirms"]
    assert [d["detail"].split()[0] for d in lost] == ["3"]


def _two_answered_and_diverted(edge: Edge) -> list[DivertConfirmed]:
    """Answer items 7 and 8 with the link journaling; return their confirmations (seq 100, 101)."""
    edge.engine.journaling = True
    chutes = {}
    for item in (7, 8):
        edge.facts(item)
        chutes[item] = edge.ask(item).chute
    return [
        DivertConfirmed("plc", item, chutes[item], ConfirmStatus.DIVERTED, T0, seq=seq)
        for item, seq in ((7, 100), (8, 101))
    ]


def test_confirmations_read_but_not_handled_survive_a_kill(rules: RuleSet, tmp_path: Path) -> None:
    """The PLC link journals what it read; a kill before the engine handled it loses nothing:
    the restarted engine handles the inbox first and the PLC is read on from past it."""
    edge = Edge(rules, tmp_path / "state.db")
    read = _two_answered_and_diverted(edge)
    edge.engine.state.journal_read(read)  # on the link's thread; the engine is far behind
    assert edge.state.confirm_cursor() == 102  # the ring is read on from here
    edge.engine.handle(read[0])  # one handled, then the kill
    assert edge.state.confirm_cursor() == 102  # handling never moves the cursor back
    edge.restart()
    edge.engine.journaling = True
    replay = edge.engine.replay_inbox()
    assert [(c.item_id, c.seq) for c in replay] == [(8, 101)]
    for confirm in replay:
        edge.engine.handle(confirm)
    assert edge.state.inbox() == [] and edge.state.open_answer(8, T0) is None
    confirmed = [e.item_id for e in edge.events if e.kind is EventKind.CONFIRMED]
    assert confirmed == [7, 8]
    alarms = [e.data for e in edge.events if e.kind is EventKind.ALARM]
    assert alarms == []  # nothing overwritten, nothing released without its decision
    edge.restart()
    assert edge.engine.replay_inbox() == []


def test_confirmations_journaled_but_never_passed_on_are_handled_on_a_check(
    rules: RuleSet, tmp_path: Path
) -> None:
    """A PLC link process that dies after its journal commit loses the confirmation in the pipe;
    the check the link queues behind it has the engine handle it from the inbox, once."""
    edge = Edge(rules, tmp_path / "state.db")
    read = _two_answered_and_diverted(edge)
    edge.engine.state.journal_read(read)  # in the link's process
    edge.engine.handle(read[0])  # passed on; the process died before passing on the second
    check = InboxCheck()
    edge.engine.handle(check)
    assert check.done.is_set()
    assert edge.state.inbox() == [] and edge.state.open_answer(8, T0) is None
    confirmed = [e.item_id for e in edge.events if e.kind is EventKind.CONFIRMED]
    assert confirmed == [7, 8]
    edge.engine.handle(InboxCheck())  # nothing left: nothing handled twice
    assert [e.item_id for e in edge.events if e.kind is EventKind.CONFIRMED] == [7, 8]
    assert [e.data for e in edge.events if e.kind is EventKind.ALARM] == []
