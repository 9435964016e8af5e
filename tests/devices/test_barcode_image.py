"""Barcodes from images: a generated Code 128 label decoded back with zxing-cpp and pyzbar."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
import zxingcpp

from devices import barcode_image
from devices.barcode_image import Backend, BarcodeImageError, decode_image, load_image

CODE = "RR123456785CN"


@pytest.fixture(scope="module")
def label() -> np.ndarray:
    """A Code 128 label on a white page with some margin, 8-bit grey."""
    barcode = zxingcpp.create_barcode(CODE, zxingcpp.BarcodeFormat.Code128)
    image = np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=3))
    page = np.full((image.shape[0] + 80, image.shape[1] + 80), 255, dtype=np.uint8)
    page[40 : 40 + image.shape[0], 40 : 40 + image.shape[1]] = image
    return page


@pytest.fixture
def pyzbar_backend() -> Iterator[None]:
    if not barcode_image.pyzbar_available():
        pytest.skip("pyzbar backend unavailable: install the Debian package libzbar0")
    yield


def test_zxing_reads_the_label_with_its_aim_identifier(label: np.ndarray) -> None:
    [found] = decode_image(label)
    assert (found.text, found.symbology, found.aim) == (CODE, "Code128", "]C0")
    rows, cols = np.nonzero(label < 128)
    left, top, width, height = found.box
    assert abs(left - cols.min()) <= 3
    assert abs(left + width - cols.max()) <= 3
    assert top <= rows.min() + 3
    assert height >= 0.8 * (rows.max() - rows.min())


def test_zxing_reads_png_bytes_bgr_and_16_bit_images(label: np.ndarray) -> None:
    ok, png = cv2.imencode(".png", label)
    assert ok
    bgr = cv2.cvtColor(label, cv2.COLOR_GRAY2BGR)
    deep = label.astype(np.uint16) * 257
    for image in (png.tobytes(), bgr, deep, np.rot90(label).copy()):
        assert [b.text for b in decode_image(image)] == [CODE]


def test_blank_image_has_no_barcode() -> None:
    assert decode_image(np.full((120, 200), 255, dtype=np.uint8)) == []


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (b"", "empty"),
        (b"not an image at all", "not a readable image"),
        (np.zeros((0, 10), dtype=np.uint8), "empty"),
        (np.zeros((4, 4, 2), dtype=np.uint8), "shape"),
    ],
)
def test_bad_images_get_a_clear_error(image: np.ndarray | bytes, message: str) -> None:
    with pytest.raises(BarcodeImageError, match=message):
        decode_image(image)


def test_unknown_backend_is_refused(label: np.ndarray) -> None:
    with pytest.raises(BarcodeImageError, match="unknown barcode backend 'opencv'"):
        decode_image(label, backend="opencv")


def test_load_image_gives_grey_pixels(label: np.ndarray) -> None:
    ok, png = cv2.imencode(".png", cv2.cvtColor(label, cv2.COLOR_GRAY2BGR))
    assert ok
    assert load_image(png.tobytes()).shape == label.shape


@pytest.mark.usefixtures("pyzbar_backend")
def test_pyzbar_reads_the_same_label(label: np.ndarray) -> None:
    [found] = decode_image(label, Backend.PYZBAR)
    assert (found.text, found.symbology, found.aim) == (CODE, "Code128", "")
    _, png = cv2.imencode(".png", label)
    assert [b.text for b in decode_image(png.tobytes(), "pyzbar")] == [CODE]


def test_missing_zbar_library_gives_an_install_hint(
    label: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pyzbar raises ImportError when libzbar0 is absent; make the import fail the same way
    monkeypatch.setitem(sys.modules, "pyzbar", None)
    barcode_image._pyzbar_decode.cache_clear()
    try:
        assert not barcode_image.pyzbar_available()
        with pytest.raises(BarcodeImageError, match="libzbar0"):
            decode_image(label, Backend.PYZBAR)
    finally:
        barcode_image._pyzbar_decode.cache_clear()
