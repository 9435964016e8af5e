"""The stacked 16-bit PNG codec: round trips, layout and every kind of bad input."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from devices.xray_image import (
    DualEnergyImage,
    ImageLimits,
    XrayImageError,
    check_header,
    decode_png,
    encode_png,
    read_header,
)


def _pair(h: int, w: int, seed: int = 0) -> DualEnergyImage:
    rng = np.random.default_rng(seed)
    low = rng.integers(0, 65536, (h, w), dtype=np.uint16)
    high = rng.integers(0, 65536, (h, w), dtype=np.uint16)
    return DualEnergyImage(low=low, high=high)


def test_round_trip_is_exact_and_low_energy_is_on_top() -> None:
    image = _pair(40, 64)
    png = encode_png(image)
    back = decode_png(png)
    assert np.array_equal(back.low, image.low)
    assert np.array_equal(back.high, image.high)
    raw = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert raw is not None
    assert raw.dtype == np.uint16
    assert raw.shape == (80, 64)
    assert np.array_equal(raw[:40], image.low)
    assert np.array_equal(raw[40:], image.high)
    header = read_header(png)
    assert (header.width, header.height, header.bit_depth, header.colour_type) == (64, 80, 16, 0)


@settings(max_examples=60, deadline=None)
@given(
    low=hnp.arrays(np.uint16, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=24)),
    compression=st.integers(0, 9),
)
def test_round_trip_property(low: np.ndarray, compression: int) -> None:
    image = DualEnergyImage(low=low, high=(65535 - low).astype(np.uint16))
    back = decode_png(encode_png(image, compression))
    assert np.array_equal(back.low, image.low)
    assert np.array_equal(back.high, image.high)


def _png(arr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", arr)
    assert ok
    return bytes(buf.tobytes())


def test_not_a_png_is_refused() -> None:
    with pytest.raises(XrayImageError, match="not a PNG"):
        decode_png(b"GIF89a" + b"\x00" * 64)
    with pytest.raises(XrayImageError, match="not a PNG"):
        decode_png(b"")


def test_eight_bit_png_is_refused() -> None:
    with pytest.raises(XrayImageError, match="16-bit"):
        decode_png(_png(np.zeros((8, 8), np.uint8)))


def test_colour_png_is_refused() -> None:
    with pytest.raises(XrayImageError, match="greyscale"):
        decode_png(_png(np.zeros((8, 8, 3), np.uint16)))


def test_odd_height_is_refused() -> None:
    with pytest.raises(XrayImageError, match="odd"):
        decode_png(_png(np.zeros((7, 8), np.uint16)))


def _forged_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", zlib.crc32(chunk[4:]))


def test_oversized_image_is_refused_from_its_header_alone() -> None:
    # a header claiming 100000 x 100000 px is refused before any pixel is inflated
    with pytest.raises(XrayImageError, match="larger than the limit"):
        check_header(_forged_header(100_000, 100_000))
    with pytest.raises(XrayImageError, match="larger than the limit"):
        decode_png(encode_png(_pair(10, 40)), ImageLimits(max_width_px=32))


def test_oversized_payload_is_refused() -> None:
    png = encode_png(_pair(20, 20))
    with pytest.raises(XrayImageError, match="over the limit"):
        decode_png(png, ImageLimits(max_png_bytes=len(png) - 1))


def test_truncated_png_is_refused() -> None:
    png = encode_png(_pair(32, 32))
    with pytest.raises(XrayImageError, match="corrupt or truncated"):
        decode_png(png[: len(png) // 2])


def test_header_without_ihdr_is_refused() -> None:
    bad = bytearray(_forged_header(8, 8))
    bad[12:16] = b"IDAT"
    with pytest.raises(XrayImageError, match="IHDR"):
        read_header(bytes(bad))


def test_image_pair_must_match_and_be_uint16() -> None:
    with pytest.raises(XrayImageError, match="differ in shape"):
        DualEnergyImage(low=np.zeros((4, 4), np.uint16), high=np.zeros((4, 5), np.uint16))
    with pytest.raises(XrayImageError, match="uint16"):
        DualEnergyImage(low=np.zeros((4, 4), np.float32), high=np.zeros((4, 4), np.uint16))
    with pytest.raises(XrayImageError, match="empty"):
        DualEnergyImage(low=np.zeros((0, 4), np.uint16), high=np.zeros((0, 4), np.uint16))
    with pytest.raises(XrayImageError, match="compression"):
        encode_png(_pair(2, 2), compression=11)
