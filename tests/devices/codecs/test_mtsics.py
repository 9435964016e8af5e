"""MT-SICS commands and replies: golden bytes, errors, truncation, noise, random input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.codecs import Garbled, drain, mtsics
from devices.codecs.mtsics import Command, ErrorCode, ErrorReply, StatusReply, WeightReply

GOLDEN = [
    (b"S S      1.234 kg\r\n", WeightReply("S", True, Decimal("1.234"), "kg")),
    (b"S D      1.230 kg\r\n", WeightReply("S", False, Decimal("1.230"), "kg")),
    (b"S S     -0.002 kg\r\n", WeightReply("S", True, Decimal("-0.002"), "kg")),
    (b"S S     125.67 g\r\n", WeightReply("S", True, Decimal("125.67"), "g")),
    (b"S I\r\n", StatusReply("S", "I")),
    (b"S +\r\n", StatusReply("S", "+")),
    (b"S -\r\n", StatusReply("S", "-")),
    (b"ES\r\n", ErrorReply(ErrorCode.ES)),
    (b"ET\r\n", ErrorReply(ErrorCode.ET)),
    (b"EL\r\n", ErrorReply(ErrorCode.EL)),
    (b"Z A\r\n", StatusReply("Z", "A")),
    (b"Z I\r\n", StatusReply("Z", "I")),
    (b"ZI S\r\n", StatusReply("ZI", "S")),
    (b"T S      0.500 kg\r\n", WeightReply("T", True, Decimal("0.500"), "kg")),
    (b"T I\r\n", StatusReply("T", "I")),
    (b"TAC A\r\n", StatusReply("TAC", "A")),
]


@pytest.mark.parametrize(("wire", "reply"), GOLDEN)
def test_golden_replies_decode_and_encode(wire: bytes, reply: mtsics.Reply) -> None:
    assert mtsics.decode(wire) == (len(wire), reply)
    assert mtsics.encode(reply) == wire


@pytest.mark.parametrize("command", list(Command))
def test_commands_encode_and_decode(command: Command) -> None:
    wire = mtsics.encode_command(command)
    assert wire == command.value.encode() + b"\r\n"
    assert mtsics.decode_command(wire) == (len(wire), command)


def test_unknown_command_is_garbled_for_the_simulator_to_answer_es() -> None:
    used, command = mtsics.decode_command(b"XYZ 1\r\n")
    assert used == 7
    assert isinstance(command, Garbled)
    assert "unknown command" in command.reason


def test_status_reply_executed() -> None:
    assert StatusReply("Z", "A").executed
    assert StatusReply("ZI", "D").executed
    assert not StatusReply("Z", "I").executed


def test_tolerant_reading_noise_lf_only_and_wide_spacing() -> None:
    buffer = bytearray(b"\x00\xffS S      1.234 kg\r\n\r\nS   D   2.5   lb\n")
    assert drain(mtsics.decode, buffer) == [
        WeightReply("S", True, Decimal("1.234"), "kg"),
        WeightReply("S", False, Decimal("2.5"), "lb"),
    ]


@pytest.mark.parametrize("wire", [b"", b"S S   1.2", b"S S      1.234 kg\r"[:-1]])
def test_empty_or_truncated_reply_waits(wire: bytes) -> None:
    assert mtsics.decode(wire) == (0, None)


@pytest.mark.parametrize("cut", range(1, len(GOLDEN[0][0])))
def test_a_reply_split_anywhere_is_reassembled(cut: int) -> None:
    wire, reply = GOLDEN[0]
    buffer = bytearray(wire[:cut])
    first = drain(mtsics.decode, buffer)
    buffer.extend(wire[cut:])
    assert first + drain(mtsics.decode, buffer) == [reply]


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        (b"S S abc kg\r\n", "not a number"),
        (b"S S 1.0 k9\r\n", "not a unit"),
        (b"s s 1.0 kg\r\n", "command echo"),
        (b"S Q\r\n", "no MT-SICS reply form"),
        (b"S S 1.0\r\n", "no MT-SICS reply form"),
        (b"S S 1.0 kg\x07\r\n", "control"),
    ],
)
def test_malformed_replies_are_garbled(wire: bytes, reason: str) -> None:
    used, reply = mtsics.decode(wire)
    assert used == len(wire)
    assert isinstance(reply, Garbled)
    assert reason in reply.reason


def test_overlong_line_is_dropped() -> None:
    used, reply = mtsics.decode(b"S" * (mtsics.MAX_LINE + 1))
    assert used == mtsics.MAX_LINE + 1
    assert isinstance(reply, Garbled)


@pytest.mark.parametrize(
    ("value", "unit", "kg"),
    [("1.234", "kg", 1.234), ("125.67", "g", 0.12567), ("1", "lb", 0.45359237), ("2", "t", 2000)],
)
def test_units_convert_to_kilograms(value: str, unit: str, kg: float) -> None:
    assert mtsics.to_kg(Decimal(value), unit) == pytest.approx(kg)
    assert WeightReply("S", True, Decimal(value), unit).kilograms() == pytest.approx(kg)


def test_unknown_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="not a known mass unit"):
        mtsics.to_kg(Decimal(1), "pcs")


@pytest.mark.parametrize(
    "reply",
    [
        WeightReply("S", True, Decimal("NaN"), "kg"),
        WeightReply("S", True, Decimal(1), "k g"),
        StatusReply("S", "Q"),
        StatusReply("s", "I"),
    ],
)
def test_encode_refuses_replies_that_cannot_be_sent(reply: mtsics.Reply) -> None:
    with pytest.raises(ValueError, match="MT-SICS"):
        mtsics.encode(reply)


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_nor_overconsume(data: bytes) -> None:
    for decode in (mtsics.decode, mtsics.decode_command):
        used, _ = decode(data)
        assert 0 <= used <= len(data)
    buffer = bytearray(data)
    drain(mtsics.decode, buffer)
    assert bytes(buffer) == data[len(data) - len(buffer) :]


@settings(max_examples=200)
@given(
    st.decimals(min_value=-99999, max_value=99999, places=3, allow_nan=False),
    st.booleans(),
    st.sampled_from(["kg", "g", "lb"]),
)
def test_weight_replies_round_trip(value: Decimal, stable: bool, unit: str) -> None:
    reply = WeightReply("S", stable, value, unit)
    assert mtsics.decode(mtsics.encode(reply))[1] == reply


# level-0 identification, in the reply forms of the MT-SICS reference manual ----------------

IDENTIFICATION = [
    (b'I4 A "B021002593"\r\n', mtsics.InfoReply("I4", "A", ("B021002593",))),
    (
        b'I2 A "WMS404C-L/10 410.0090 g"\r\n',
        mtsics.InfoReply("I2", "A", ("WMS404C-L/10 410.0090 g",)),
    ),
    (b'I3 A "1.10 18.6.4.1361.772"\r\n', mtsics.InfoReply("I3", "A", ("1.10 18.6.4.1361.772",))),
    (
        b'I1 A "0123" "2.00" "2.20" "1.00" "1.50"\r\n',
        mtsics.InfoReply("I1", "A", ("0123", "2.00", "2.20", "1.00", "1.50")),
    ),
    (b'I0 B 0 "I0"\r\n', mtsics.InfoReply("I0", "B", (0, "I0"))),
    (b'I0 A 1 "TAC"\r\n', mtsics.InfoReply("I0", "A", (1, "TAC"))),
]


@pytest.mark.parametrize(("wire", "reply"), IDENTIFICATION)
def test_identification_replies_decode_and_encode(wire: bytes, reply: mtsics.Reply) -> None:
    assert mtsics.decode(wire) == (len(wire), reply)
    assert mtsics.encode(reply) == wire


def test_identification_not_executable_is_a_status_reply() -> None:
    assert mtsics.decode(b"I4 I\r\n") == (6, StatusReply("I4", "I"))


@pytest.mark.parametrize(
    ("wire", "reason"),
    [(b'I4 A "B0210\r\n', "unterminated"), (b'S S "1.0" kg\r\n', "quoted text")],
)
def test_bad_quoting_is_garbled(wire: bytes, reason: str) -> None:
    _, reply = mtsics.decode(wire)
    assert isinstance(reply, Garbled) and reason in reply.reason


def test_text_that_cannot_be_quoted_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be sent"):
        mtsics.encode(mtsics.InfoReply("I4", "A", ('say "hi"',)))
