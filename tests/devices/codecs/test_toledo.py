"""Toledo continuous output: golden bytes, checksum, parity bits, split frames, random input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.codecs import Garbled, drain, toledo
from devices.codecs.toledo import HostCommand, ToledoCodec, ToledoFrame, checksum, frame_for

# 1.234 kg gross, stable, XXX.XXX, increment x1:
#   A = 0x20 | 1<<3 | 5 = 0x2D '-', B = 0x20 | kg 0x10 = 0x30 '0', C = 0x20 ' '
#   7-bit sum = 2 + 45 + 48 + 32 + ("001234" = 298) + ("000000" = 288) + 13 = 726
#   726 mod 128 = 86, two's complement 128 - 86 = 42 = '*'
GOLDEN_1234 = b"\x02-0 001234000000\r*"
FRAME_1234 = ToledoFrame(weight_counts=1234)

# 0.50 lb net, negative, in motion, 2 decimals, tare 0.25 lb:
#   A = 0x20 | 1<<3 | 4 = 0x2C ',', B = 0x20 | net 1 | negative 2 | motion 8 = 0x2B '+', C = ' '
#   7-bit sum = 2 + 44 + 43 + 32 + ("000050" = 293) + ("000025" = 295) + 13 = 722
#   722 mod 128 = 82, two's complement 46 = '.'
GOLDEN_LB = b"\x02,+ 000050000025\r."
FRAME_LB = ToledoFrame(50, 25, 4, 1, "lb", net=True, negative=True, motion=True)


@pytest.mark.parametrize(("wire", "frame"), [(GOLDEN_1234, FRAME_1234), (GOLDEN_LB, FRAME_LB)])
def test_golden_frames_decode_and_encode(wire: bytes, frame: ToledoFrame) -> None:
    assert toledo.decode(wire) == (18, frame)
    assert toledo.encode(frame) == wire
    assert sum(b & 0x7F for b in wire) % 128 == 0


def test_weights_scale_by_the_decimal_code() -> None:
    assert FRAME_1234.weight == Decimal("1.234")
    assert FRAME_LB.weight == Decimal("-0.50")
    assert FRAME_LB.tare == Decimal("0.25")
    assert ToledoFrame(12, decimal_code=0).weight == Decimal(1200)
    assert ToledoFrame(12345, decimal_code=7).weight == Decimal("0.12345")


def test_frame_for_builds_what_an_indicator_shows() -> None:
    assert frame_for(Decimal("1.234")) == FRAME_1234
    assert frame_for(Decimal("-0.5"), "lb", 2, tare=Decimal("0.25"), motion=True, net=True) == (
        FRAME_LB
    )
    over = frame_for(Decimal(5000))
    assert over.out_of_range
    assert over.weight_counts == toledo.MAX_COUNTS


def test_checksum_is_two_complement_of_seven_bit_sum() -> None:
    assert checksum(GOLDEN_1234[:17]) == ord("*")
    assert checksum(b"") == 0


def test_bad_checksum_is_garbled_and_consumed_whole() -> None:
    wire = GOLDEN_1234[:-1] + b"+"
    used, frame = toledo.decode(wire)
    assert used == 18
    assert isinstance(frame, Garbled)
    assert frame.reason == "bad checksum"


def test_parity_in_bit_seven_is_ignored() -> None:
    def even_parity(byte: int) -> int:
        return byte | (0x80 if bin(byte).count("1") % 2 else 0)

    wire = bytes(even_parity(b) for b in GOLDEN_1234)
    assert toledo.decode(wire) == (18, FRAME_1234)


def test_frames_without_checksum() -> None:
    codec = ToledoCodec(with_checksum=False)
    assert codec.encode(FRAME_1234) == GOLDEN_1234[:17]
    buffer = bytearray(GOLDEN_1234[:17] * 2)
    assert drain(codec.decode, buffer) == [FRAME_1234, FRAME_1234]


def test_leading_spaces_stand_for_zeros() -> None:
    body = b"\x02-0 " + b"  1234" + b"     0" + b"\r"
    assert toledo.decode(body + bytes([checksum(body)])) == (18, FRAME_1234)
    inner = b"\x02-0 0012 4000000\r"
    used, frame = toledo.decode(inner + bytes([checksum(inner)]))
    assert isinstance(frame, Garbled)
    assert used == 18


@pytest.mark.parametrize(("code", "unit"), [(1, "g"), (2, "t"), (3, "oz")])
def test_unit_from_status_c(code: int, unit: str) -> None:
    frame = ToledoFrame(1000, unit=unit)
    wire = toledo.encode(frame)
    assert wire[3] & 0x07 == code
    assert toledo.decode(wire) == (18, frame)


def test_unsupported_unit_code_is_garbled() -> None:
    body = b"\x02-0%001234000000\r"
    assert isinstance(toledo.decode(body + bytes([checksum(body)]))[1], Garbled)


def test_junk_between_frames_and_a_truncated_frame_are_skipped() -> None:
    buffer = bytearray(b"#@!xyz0123" + GOLDEN_1234 + b"?!" + GOLDEN_1234[:9] + GOLDEN_LB)
    frames = drain(toledo.decode, buffer)
    assert frames[0] == FRAME_1234
    assert all(isinstance(f, Garbled) for f in frames[1:-1])
    assert frames[-1] == FRAME_LB
    assert buffer == b""


@pytest.mark.parametrize("cut", range(1, 18))
def test_a_frame_split_anywhere_is_reassembled(cut: int) -> None:
    buffer = bytearray(GOLDEN_1234[:cut])
    assert drain(toledo.decode, buffer) == []
    buffer.extend(GOLDEN_1234[cut:])
    assert drain(toledo.decode, buffer) == [FRAME_1234]


@pytest.mark.parametrize(
    "frame",
    [
        ToledoFrame(1_000_000),
        ToledoFrame(1, tare_counts=-1),
        ToledoFrame(1, decimal_code=8),
        ToledoFrame(1, unit="stone"),
    ],
)
def test_encode_refuses_frames_that_do_not_fit(frame: ToledoFrame) -> None:
    with pytest.raises(ValueError, match="Toledo frame"):
        toledo.encode(frame)


def test_host_commands_are_single_bytes() -> None:
    assert [c.value for c in HostCommand] == ["P", "T", "Z", "C"]


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_nor_overconsume(data: bytes) -> None:
    used, _ = toledo.decode(data)
    assert 0 <= used <= len(data)
    buffer = bytearray(data)
    drain(toledo.decode, buffer)
    assert bytes(buffer) == data[len(data) - len(buffer) :]


@settings(max_examples=200)
@given(
    st.builds(
        ToledoFrame,
        weight_counts=st.integers(0, toledo.MAX_COUNTS),
        tare_counts=st.integers(0, toledo.MAX_COUNTS),
        decimal_code=st.integers(0, 7),
        increment_code=st.integers(0, 3),
        unit=st.sampled_from(["kg", "lb", "g", "t", "oz"]),
        net=st.booleans(),
        negative=st.booleans(),
        out_of_range=st.booleans(),
        motion=st.booleans(),
        print_request=st.booleans(),
    )
)
def test_frames_round_trip(frame: ToledoFrame) -> None:
    assert toledo.decode(toledo.encode(frame)) == (18, frame)
