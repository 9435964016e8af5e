"""AIM identifiers come off scanned text in one place, for drivers and identity alike."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from contracts.codes import strip_aim
from devices.codecs.aim import split_aim
from inspection.identity import normalise


def test_strip_aim_golden() -> None:
    assert strip_aim("]C1RR123456785CN") == "RR123456785CN"
    assert strip_aim("]d2010123") == "010123"
    assert strip_aim("RR123456785CN") == "RR123456785CN"
    assert strip_aim("]x") == "]x"
    assert strip_aim("]C") == "]C"
    assert strip_aim("x]C1A") == "x]C1A"
    assert strip_aim("]C1]C1A") == "]C1A"  # only the leading identifier


@given(st.text(max_size=40))
def test_codec_split_and_identity_agree(text: str) -> None:
    """The driver's split, the shared strip and the lookup normalisation see one prefix."""
    assert split_aim(text).data == strip_aim(text)


def test_identity_normalises_with_the_shared_strip() -> None:
    assert normalise("  ]C1rr123 456785cn ") == "RR123456785CN"
    assert normalise("]Q3]C1abc") == "]C1ABC"
