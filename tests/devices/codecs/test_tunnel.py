"""Tunnel scanner frames: golden bytes, split frames, garbage, bad frames, random input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.statuses import ReadStatus
from devices.codecs import Garbled, drain, tunnel
from devices.codecs.tunnel import TunnelFrame

OK, NOREAD, MULTI = ReadStatus.OK, ReadStatus.NOREAD, ReadStatus.MULTI

GOLDEN = [
    (b"\x02000123;OK;]C1RR123456785CN\x03", TunnelFrame(123, OK, ("]C1RR123456785CN",))),
    (b"\x02000124;NOREAD;\x03", TunnelFrame(124, NOREAD)),
    (
        b"\x02000125;MULTI;]C1RR123456785CN,]C0HA100000017CN\x03",
        TunnelFrame(125, MULTI, ("]C1RR123456785CN", "]C0HA100000017CN")),
    ),
    (b"\x024294967295;OK;LABEL-7\x03", TunnelFrame(4294967295, OK, ("LABEL-7",))),
]


@pytest.mark.parametrize(("wire", "frame"), GOLDEN)
def test_golden_frames_decode_and_encode(wire: bytes, frame: TunnelFrame) -> None:
    assert tunnel.decode(wire) == (len(wire), frame)
    assert tunnel.encode(frame) == wire


def test_item_id_width_is_configurable() -> None:
    frame = TunnelFrame(7, OK, ("X",))
    assert tunnel.encode(frame, item_width=10) == b"\x020000000007;OK;X\x03"
    assert tunnel.decode(b"\x027;OK;X\x03") == (8, frame)


def test_garbage_before_between_and_after_frames_is_skipped() -> None:
    first, second = GOLDEN[0][0], GOLDEN[1][0]
    buffer = bytearray(b"#@!xyz\r\n" + first + b"noise 123" + second + b"\xff\x00tail")
    assert drain(tunnel.decode, buffer) == [GOLDEN[0][1], GOLDEN[1][1]]
    # the tail has no STX: it is garbage and consumed too
    assert buffer == b""


@pytest.mark.parametrize("cut", range(1, len(GOLDEN[2][0])))
def test_a_frame_split_anywhere_is_reassembled(cut: int) -> None:
    wire, frame = GOLDEN[2]
    buffer = bytearray(wire[:cut])
    assert drain(tunnel.decode, buffer) == []
    buffer.extend(wire[cut:])
    assert drain(tunnel.decode, buffer) == [frame]
    assert buffer == b""


def test_partial_frame_waits_without_consuming_it() -> None:
    assert tunnel.decode(b"junk\x02000001;OK;]C1") == (4, None)
    assert tunnel.decode(b"\x02000001;OK;]C1") == (0, None)
    assert tunnel.decode(b"") == (0, None)


BAD = [
    (b"\x02abc;OK;X\x03", "not a decimal"),
    (b"\x02000001;MAYBE;X\x03", "unknown status"),
    (b"\x02000001;OK;\x03", "exactly one code"),
    (b"\x02000001;OK;A,B\x03", "exactly one code"),
    (b"\x02000001;NOREAD;X\x03", "NOREAD carries"),
    (b"\x02000001;MULTI;X\x03", "two or more"),
    (b"\x02000001;OK\x03", "3 fields"),
    (b"\x02000001;OK;A\xffB\x03", "non-ASCII"),
    (b"\x02000001;OK;A\x07B\x03", "control character"),
    (b"\x024294967296;OK;X\x03", "outside"),
]


@pytest.mark.parametrize(("wire", "reason"), BAD)
def test_bad_frames_are_consumed_as_garbled(wire: bytes, reason: str) -> None:
    used, frame = tunnel.decode(wire)
    assert used == len(wire)
    assert isinstance(frame, Garbled)
    assert reason in frame.reason
    assert frame.raw == wire


def test_frame_cut_short_by_a_new_stx_is_garbled_and_the_next_one_read() -> None:
    buffer = bytearray(b"\x02000001;OK;]C1RR12" + GOLDEN[0][0])
    frames = drain(tunnel.decode, buffer)
    assert isinstance(frames[0], Garbled)
    assert "cut short" in frames[0].reason
    assert frames[1:] == [GOLDEN[0][1]]


def test_run_without_etx_is_dropped_at_the_size_limit() -> None:
    wire = b"\x02" + b"A" * tunnel.MAX_FRAME
    used, frame = tunnel.decode(wire)
    assert used == len(wire)
    assert isinstance(frame, Garbled)


@pytest.mark.parametrize(
    "frame",
    [
        TunnelFrame(1, OK, ("A;B",)),
        TunnelFrame(1, OK, ("A,B",)),
        TunnelFrame(1, OK, ("",)),
        TunnelFrame(1, OK, ("é",)),
        TunnelFrame(1, OK, ()),
        TunnelFrame(-1, NOREAD),
        TunnelFrame(1, MULTI, ("A",)),
    ],
)
def test_encode_refuses_frames_that_cannot_be_sent(frame: TunnelFrame) -> None:
    with pytest.raises(ValueError, match="tunnel frame"):
        tunnel.encode(frame)


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_nor_overconsume(data: bytes) -> None:
    used, _ = tunnel.decode(data)
    assert 0 <= used <= len(data)
    buffer = bytearray(data)
    drain(tunnel.decode, buffer)
    assert bytes(buffer) == data[len(data) - len(buffer) :]


_code = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=";,"),
    min_size=1,
    max_size=20,
)


@settings(max_examples=200)
@given(
    st.integers(0, tunnel.MAX_ITEM_ID),
    st.lists(_code, min_size=0, max_size=4, unique=True),
    st.binary(max_size=20).map(lambda b: b.replace(b"\x02", b"")),
)
def test_encode_then_decode_round_trips(item_id: int, codes: list[str], junk: bytes) -> None:
    status = NOREAD if not codes else OK if len(codes) == 1 else MULTI
    frame = TunnelFrame(item_id, status, tuple(codes))
    assert drain(tunnel.decode, bytearray(junk + tunnel.encode(frame))) == [frame]
