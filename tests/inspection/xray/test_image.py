"""Decoding the stacked PNG into attenuation planes, and refusing bad images."""

from __future__ import annotations

import math
import struct
import zlib

import cv2
import numpy as np
import pytest

from inspection.xray.image import (
    ImageConfig,
    XrayImageError,
    attenuation,
    check_attenuation,
    decode_attenuation,
    decode_counts,
)


def png(arr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", arr)
    assert ok
    return bytes(buf.tobytes())


def test_stacked_png_splits_into_low_above_high() -> None:
    low = np.full((10, 12), 60000, np.uint16)
    high = np.full((10, 12), 22073, np.uint16)  # 60000 / e
    lo, hi = decode_attenuation(png(np.vstack((low, high))))
    assert lo.shape == hi.shape == (10, 12)
    assert lo.dtype == np.float32
    assert np.allclose(lo, 0.0, atol=1e-6)
    assert np.allclose(hi, 1.0, atol=1e-4)


def test_zero_counts_are_clamped_not_infinite() -> None:
    a = attenuation(np.zeros((2, 2), np.uint16), 60000.0)
    assert np.allclose(a, math.log(60000.0))


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "not a PNG"),
        (b"GIF89a" + b"\0" * 40, "not a PNG"),
        (png(np.zeros((20, 16), np.uint8)), "16-bit"),
        (png(np.zeros((20, 16, 3), np.uint16)), "greyscale"),
        (png(np.zeros((21, 16), np.uint16)), "odd"),
        (png(np.zeros((8, 16), np.uint16)), "too small"),
    ],
)
def test_bad_pngs_are_refused_with_the_reason(data: bytes, words: str) -> None:
    with pytest.raises(XrayImageError, match=words):
        decode_counts(data)


def test_truncated_png_is_refused() -> None:
    data = png(np.arange(64 * 40, dtype=np.uint16).reshape(64, 40))
    with pytest.raises(XrayImageError, match="corrupt or truncated"):
        decode_counts(data[: len(data) // 2])


def test_limits_are_checked_before_inflating() -> None:
    # a header that claims a huge image, followed by nothing
    ihdr = struct.pack(">IIBBBBB", 5000, 20000, 16, 0, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr
    data = b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    with pytest.raises(XrayImageError, match="over the limit"):
        decode_counts(data)
    small = ImageConfig(max_png_bytes=1024)
    with pytest.raises(XrayImageError, match="bytes, over the limit"):
        decode_counts(png(np.random.default_rng(1).integers(0, 65535, (64, 64), np.uint16)), small)


def test_attenuation_planes_are_validated() -> None:
    good = np.zeros((16, 16), np.float32)
    with pytest.raises(XrayImageError, match="differ in shape"):
        check_attenuation(good, np.zeros((16, 17), np.float32))
    with pytest.raises(XrayImageError, match="float32"):
        check_attenuation(good, np.zeros((16, 16), np.float64))
    bad = good.copy()
    bad[3, 3] = np.nan
    with pytest.raises(XrayImageError, match="NaN"):
        check_attenuation(good, bad)
