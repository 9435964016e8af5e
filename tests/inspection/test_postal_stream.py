"""Streaming and robustness of the postal readers: chunking, endless sources, fuzzed input."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO, cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspection.formats.jsonstream import JsonValue, dump_json, iter_json_items
from inspection.formats.postal import read_postal_csv, read_postal_json
from inspection.model import Declaration, FormatError, ParsedRecord, Receipt, RecordError

DATA = Path(__file__).parent / "data" / "postal"
Reader = Callable[..., Iterator[ParsedRecord]]
ITEM = (
    '{"item_id": "RR123456785CN", "category": "gift", "addressee": {"name": "Li Lei"}, '
    '"total_gross_weight_kg": 1.5, "total_value": 100, "currency": "CNY", '
    '"contents": [{"description": "Tea", "quantity": 1, "value": 100}]}'
)


class EndlessItems(io.RawIOBase):
    """A JSON array of items that never ends, produced on demand; counts the bytes read."""

    def __init__(self) -> None:
        self.sent = 0
        self._pending = b"["
        self._n = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while len(self._pending) < len(buffer):
            self._n += 1
            self._pending += (("," if self._n > 1 else "") + ITEM + "\n").encode()
        size = len(buffer)
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        self.sent += size
        return size


def test_json_reader_streams_from_an_endless_source() -> None:
    source = EndlessItems()
    stream: BinaryIO = io.BufferedReader(source)
    records = read_postal_json(stream, source="endless")
    first = [next(records) for _ in range(3)]
    keys = [r.item.business_key for r in first if isinstance(r.item, Declaration)]
    assert keys == ["RR123456785CN"] * 3
    assert source.sent < 1_000_000


def split(text: str, cuts: list[int]) -> list[str]:
    """Cut text into chunks at the given positions."""
    points = sorted({c % (len(text) + 1) for c in cuts})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


def decode_all(chunks: list[str]) -> tuple[list[JsonValue], str]:
    """Every value decoded from chunks, and the FormatError message that ended it (or "")."""
    got: list[JsonValue] = []
    try:
        got.extend(iter_json_items(chunks, "chunks"))
    except FormatError as err:
        return got, str(err)
    return got, ""


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(["items.json", "wrapped.json", "items.jsonl", "broken.json"]),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_json_values_and_positions_do_not_depend_on_chunking(name: str, cuts: list[int]) -> None:
    text = (DATA / name).read_text(encoding="utf-8")
    assert decode_all(split(text, cuts)) == decode_all([text])


def test_json_one_character_chunks_decode_numbers_whole() -> None:
    text = '[12345, 6.5e2, true, "x", {"a": -7}]\n'
    values = [v.value for v in iter_json_items(list(text), "t")]
    assert values == [Decimal(12345), Decimal("6.5e2"), True, "x", {"a": Decimal(-7)}]


def test_dump_json_writes_exact_decimals_and_unicode() -> None:
    text = dump_json({"v": Decimal("1E+2"), "w": Decimal("0.00001"), "名": ["张", None, True]})
    assert text == '{"v": 100, "w": 0.00001, "名": ["张", null, true]}'
    (value,) = iter_json_items([text], "t")
    assert value.value == {"v": Decimal(100), "w": Decimal("0.00001"), "名": ["张", None, True]}


class Trickle(io.RawIOBase):
    """A stream that hands out at most seven bytes per read, splitting characters and lines."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        size = min(7, len(buffer), len(self._data))
        buffer[:size] = self._data[:size]
        self._data = self._data[size:]
        return size


def test_readers_give_the_same_records_from_a_trickling_stream() -> None:
    for name, reader in (("items.json", read_postal_json), ("items.csv", read_postal_csv)):
        data = (DATA / name).read_bytes()
        whole = list(reader(io.BytesIO(data), source=name))
        trickled = list(reader(cast(BinaryIO, Trickle(data)), source=name))
        assert trickled == whole
        assert len(whole) > 5


# --- robustness (property tests) --------------------------------------------------------------

FIXTURES = {name: (DATA / name).read_bytes() for name in ("items.json", "items.jsonl", "items.csv")}
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def only_format_errors(reader: Reader, data: bytes) -> None:
    """Read everything; the only exception allowed is FormatError."""
    try:
        for record in reader(io.BytesIO(data), source="fuzz"):
            assert isinstance(record.item, Declaration | Receipt | RecordError)
    except FormatError:
        pass


@FUZZ
@given(data=st.binary(max_size=400) | st.text(max_size=200).map(str.encode))
def test_random_input_raises_nothing_but_format_error(data: bytes) -> None:
    only_format_errors(read_postal_json, data)
    only_format_errors(read_postal_csv, b"item_id,return_status\n" + data)


@FUZZ
@given(
    name=st.sampled_from(sorted(FIXTURES)),
    at=st.integers(min_value=0, max_value=5000),
    cut=st.integers(min_value=0, max_value=40),
    insert=st.binary(max_size=8) | st.sampled_from([b'"', b",", b"\n", b"{", b"]", b"-1", b"\xe4"]),
)
def test_mutated_fixtures_raise_nothing_but_format_error(
    name: str, at: int, cut: int, insert: bytes
) -> None:
    original = FIXTURES[name]
    at %= len(original)
    data = original[:at] + insert + original[at + cut :]
    reader = read_postal_csv if name.endswith(".csv") else read_postal_json
    only_format_errors(reader, data)


class CountingDecoder:
    """Wraps a decoder's ``raw_decode`` to add up the characters each attempt had to scan."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.attempts = 0
        self.scanned = 0

    def raw_decode(self, text: str, start: int) -> tuple[object, int]:
        self.attempts += 1
        self.scanned += len(text) - start
        return self.inner.raw_decode(text, start)  # type: ignore[attr-defined, no-any-return]


def _decode_counting(chunks: Iterator[str], monkeypatch: object) -> tuple[CountingDecoder, str]:
    import inspection.formats.jsonstream as js

    made: list[CountingDecoder] = []
    original = js._Buffer.__init__

    def init(self: js._Buffer, chunks: Iterator[str], source: str) -> None:
        original(self, chunks, source)
        made.append(CountingDecoder(self._decoder))
        self._decoder = made[-1]  # type: ignore[assignment]

    monkeypatch.setattr(js._Buffer, "__init__", init)  # type: ignore[attr-defined]
    try:
        list(iter_json_items(chunks, "big"))
        message = ""
    except FormatError as err:
        message = str(err)
    return made[0], message


def test_an_endless_string_is_refused_at_the_cap_after_linear_work(monkeypatch: object) -> None:
    """An unterminated string of 20 MB: refused past the cap, each byte scanned a few times."""
    from inspection.formats.jsonstream import MAX_VALUE_CHARS

    sent = [0]

    def chunks() -> Iterator[str]:
        yield '[{"item_id": "'
        for _ in range(20 * 1024 * 1024 // 8192):
            sent[0] += 8192
            yield "x" * 8192

    decoder, message = _decode_counting(chunks(), monkeypatch)
    assert "longer than" in message and "line 1 column 2" in message
    assert sent[0] <= MAX_VALUE_CHARS + 8192 * 2
    assert decoder.scanned <= 4 * sent[0]
    assert decoder.attempts < 40


def test_a_large_item_split_in_small_chunks_is_read_with_linear_work(monkeypatch: object) -> None:
    """An item of ~1 MB in 1 kB chunks decodes whole, with work proportional to its size."""
    item = '{"item_id": "RR123456785CN", "note": "' + "y" * 1_000_000 + '"}'
    text = "[" + item + "]"
    pieces = [text[i : i + 1024] for i in range(0, len(text), 1024)]
    decoder, message = _decode_counting(iter(pieces), monkeypatch)
    assert message == ""
    assert decoder.scanned <= 4 * len(text)
