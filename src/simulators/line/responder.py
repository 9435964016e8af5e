"""A scripted stand-in for the edge in virtual-time runs: reads requests, writes replies.

It speaks only through the PLC's registers (request ring in, reply ring and heartbeat
out) with the same ring functions a real edge uses, so a fast run exercises the wire
contract end to end without sockets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from contracts import registers as reg
from devices import modbus_maps as mm
from devices.modbus_maps import RequestEntry
from simulators.line.model import LineModel


@dataclass(frozen=True, slots=True)
class Answer:
    """What the scripted edge replies for one request, and how long it takes (seconds)."""

    chute: int
    reason: int = 0
    delay_s: float = 0.0


Policy = Callable[[RequestEntry], Answer | None]


def round_robin(chutes: list[int], delay_s: float = 0.02) -> Policy:
    """Return a policy that sends items to ``chutes`` in turn after ``delay_s`` seconds."""
    state = {"i": 0}

    def policy(request: RequestEntry) -> Answer:
        chute = chutes[state["i"] % len(chutes)]
        state["i"] += 1
        return Answer(chute, 0, delay_s)

    return policy


class ScriptedEdge:
    """Answers the PLC's requests through its registers; ``None`` from the policy = no answer."""

    def __init__(self, model: LineModel, policy: Policy, *, poll_latency_s: float = 0.005) -> None:
        """Attach to ``model``: each posted request is read ``poll_latency_s`` later."""
        self.model = model
        self.policy = policy
        self.poll_latency_s = poll_latency_s
        self.word_order = model.plc.word_order
        self.seen = model.plc.request_head
        self.reply_head = model.plc.regs[reg.REPLY_RING.head_address]
        self.requests_seen = 0
        self.lost = 0
        self._poll_due = False
        model.on_request.append(self._request_posted)

    def _request_posted(self) -> None:
        """Schedule one read of the request ring (several posts share it)."""
        if not self._poll_due:
            self._poll_due = True
            self.model.core.after(self.poll_latency_s, self._poll)

    def _poll(self) -> None:
        """Read the request ring and schedule the replies."""
        self._poll_due = False
        start, count = reg.PLC_READ_BLOCKS[0]
        block = self.model.plc.read(start, count)
        got = mm.read_requests(block, start, self.seen, self.word_order)
        self.seen = got.head
        self.lost += got.lost
        for request in got.entries:
            self.requests_seen += 1
            answer = self.policy(request)
            if answer is not None:
                self.model.core.after(answer.delay_s, self._reply, request.item_id, answer)

    def _reply(self, item_id: int, answer: Answer) -> None:
        """Write one reply: slot first, reply_head last."""
        writes, self.reply_head = mm.reply_writes(
            self.reply_head, [(item_id, answer.chute, answer.reason)], self.word_order
        )
        for w in writes:
            self.model.plc.write(w.address, list(w.values))
