"""Hand scanner lines and AIM identifiers: golden bytes, no-read strings, noise, random input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.codes import strip_aim
from contracts.statuses import ReadStatus
from devices.codecs import Garbled, drain, handscan
from devices.codecs.aim import split_aim
from devices.codecs.handscan import HandScanCodec, ScanLine

OK, NOREAD = ReadStatus.OK, ReadStatus.NOREAD

GOLDEN = [
    (b"]C1RR123456785CN\r\n", ScanLine(OK, "]C1RR123456785CN")),
    (b"RR123456785CN\r\n", ScanLine(OK, "RR123456785CN")),
    (b"]C1\x1d0112345678901231\r\n", ScanLine(OK, "]C1\x1d0112345678901231")),
    (b"NOREAD\r\n", ScanLine(NOREAD)),
]


@pytest.mark.parametrize(("wire", "line"), GOLDEN)
def test_golden_lines_decode_and_encode(wire: bytes, line: ScanLine) -> None:
    assert drain(handscan.decode, bytearray(wire)) == [line]
    assert handscan.encode(line) == wire


@pytest.mark.parametrize("wire", [b"]E05012345678900\n", b"]E05012345678900\r"])
def test_lf_only_and_cr_only_lines_are_accepted(wire: bytes) -> None:
    assert drain(handscan.decode, bytearray(wire)) == [ScanLine(OK, "]E05012345678900")]


@pytest.mark.parametrize(
    ("wire", "expected"),
    [(b"ERROR\r\n", NOREAD), (b"NR\r\n", NOREAD), (b"]C0NR\r\n", NOREAD), (b"NOREAD\r\n", OK)],
)
def test_vendor_no_read_strings_are_configurable(wire: bytes, expected: ReadStatus) -> None:
    codec = HandScanCodec(no_read=("ERROR", "NR"))
    [line] = drain(codec.decode, bytearray(wire))
    assert isinstance(line, ScanLine)
    assert line.status is expected
    assert codec.encode(ScanLine(NOREAD)) == b"ERROR\r\n"


def test_noise_and_blank_lines_between_lines_are_skipped() -> None:
    buffer = bytearray(b"\x00\xff\x11]C1A1\r\n\r\n   \r\n\x7f\x80]C1B2\r\n")
    assert drain(handscan.decode, buffer) == [ScanLine(OK, "]C1A1"), ScanLine(OK, "]C1B2")]
    assert buffer == b""


@pytest.mark.parametrize("cut", range(1, len(GOLDEN[0][0])))
def test_a_line_split_anywhere_is_reassembled(cut: int) -> None:
    wire, line = GOLDEN[0]
    buffer = bytearray(wire[:cut])
    first = drain(handscan.decode, buffer)
    buffer.extend(wire[cut:])
    # a cut between CR and LF already ends the line at CR; the LF is then skipped
    assert first + drain(handscan.decode, buffer) == [line]
    assert buffer == b""


def test_control_bytes_inside_a_line_make_it_garbled() -> None:
    [line] = drain(handscan.decode, bytearray(b"]C1RR12\x07?\x07\r\n"))
    assert isinstance(line, Garbled)
    assert "control" in line.reason


def test_overlong_line_without_end_is_dropped() -> None:
    codec = HandScanCodec(max_line=16)
    used, line = codec.decode(b"A" * 40)
    assert used == 40
    assert isinstance(line, Garbled)
    assert codec.decode(b"A" * 10) == (0, None)


@pytest.mark.parametrize(
    "line", [ScanLine(OK, "A\r\nB"), ScanLine(OK, ""), ScanLine(OK, "NOREAD"), ScanLine(OK, "é")]
)
def test_encode_refuses_lines_that_cannot_be_sent(line: ScanLine) -> None:
    with pytest.raises(ValueError, match="hand scan"):
        handscan.encode(line)


def test_aim_identifier_split_and_symbology() -> None:
    code = split_aim("]C1RR123456785CN")
    assert (code.aim, code.data, code.symbology) == ("]C1", "RR123456785CN", "Code 128")
    assert code.text() == "]C1RR123456785CN"
    assert split_aim("]d2010123").symbology == "Data Matrix"
    assert split_aim("RR123456785CN").aim is None
    assert split_aim("RR123456785CN").symbology == "unknown"
    assert split_aim("]C").aim is None  # too short to be an identifier
    assert strip_aim("]Q3ABC") == "ABC"
    assert strip_aim("]x") == "]x"


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_nor_overconsume(data: bytes) -> None:
    used, _ = handscan.decode(data)
    assert 0 <= used <= len(data)
    buffer = bytearray(data)
    drain(handscan.decode, buffer)
    assert bytes(buffer) == data[len(data) - len(buffer) :]


@settings(max_examples=200)
@given(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40))
def test_encode_then_decode_round_trips(code: str) -> None:
    if strip_aim(code) == "NOREAD":
        return
    assert drain(handscan.decode, bytearray(handscan.encode(ScanLine(OK, code)))) == [
        ScanLine(OK, code)
    ]
