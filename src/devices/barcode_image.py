"""Barcodes from camera images: zxing-cpp by default, pyzbar (needs libzbar0) as an alternative."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

from devices.errors import DeviceError

log = logging.getLogger(__name__)


class BarcodeImageError(DeviceError):
    """An image could not be read, or the decoding backend is not usable."""


class Backend(StrEnum):
    """Decoding library."""

    ZXING = "zxing"
    PYZBAR = "pyzbar"


@dataclass(frozen=True, slots=True)
class DecodedBarcode:
    """One barcode found in an image; ``box`` is (left, top, width, height) in pixels."""

    text: str
    symbology: str
    aim: str
    box: tuple[int, int, int, int]


Image = npt.NDArray[Any]
#: pyzbar's symbology names, mapped to zxing-cpp's so both backends report the same names.
_ZBAR_NAMES = {
    "CODE128": "Code128",
    "CODE39": "Code39",
    "CODE93": "Code93",
    "CODABAR": "Codabar",
    "I25": "ITF",
    "EAN13": "EAN13",
    "EAN8": "EAN8",
    "UPCA": "UPCA",
    "UPCE": "UPCE",
    "DATABAR": "DataBar",
    "DATABAR_EXP": "DataBarExp",
    "PDF417": "PDF417",
    "QRCODE": "QRCode",
}


def load_image(data: bytes) -> Image:
    """Decode encoded image bytes (PNG, JPEG, BMP, ...) into a greyscale array."""
    if not data:
        raise BarcodeImageError("image bytes are empty")
    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if array is None:
        raise BarcodeImageError(f"image bytes ({len(data)} B) are not a readable image format")
    return np.asarray(array)


def _as_grey8(image: Image) -> Image:
    """Return a contiguous 8-bit greyscale view of a grey, BGR or BGRA array."""
    if not isinstance(image, np.ndarray):
        raise BarcodeImageError(f"expected a numpy array, got {type(image).__name__}")
    if image.size == 0:
        raise BarcodeImageError("image is empty")
    if image.ndim == 3 and image.shape[2] in {3, 4}:
        code = cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        image = cv2.cvtColor(image if image.dtype == np.uint8 else _to_uint8(image), code)
    elif image.ndim != 2:
        raise BarcodeImageError(f"image shape {image.shape} is not HxW, HxWx3 or HxWx4")
    return np.ascontiguousarray(_to_uint8(image))


def _to_uint8(image: Image) -> Image:
    """Scale a 16-bit or float image to 8 bits (min to max); uint8 passes through."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating) or np.issubdtype(image.dtype, np.integer):
        lo, hi = float(image.min()), float(image.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        return ((image.astype(np.float64) - lo) * scale).astype(np.uint8)
    raise BarcodeImageError(f"image dtype {image.dtype} is not numeric")


def _zxing(grey: Image) -> list[DecodedBarcode]:
    """Decode with zxing-cpp."""
    found = []
    for result in zxingcpp.read_barcodes(grey):
        pos = result.position
        xs = [pos.top_left.x, pos.top_right.x, pos.bottom_left.x, pos.bottom_right.x]
        ys = [pos.top_left.y, pos.top_right.y, pos.bottom_left.y, pos.bottom_right.y]
        box = (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
        found.append(
            DecodedBarcode(result.text, result.format.name, result.symbology_identifier, box)
        )
    return found


@cache
def _pyzbar_decode() -> Any:
    """Return ``pyzbar.pyzbar.decode``, or raise when the zbar library is missing."""
    try:
        from pyzbar import pyzbar
    except ImportError as err:  # the wrapper raises ImportError when libzbar is absent
        raise BarcodeImageError(
            "the pyzbar backend needs the zbar shared library: install the Debian package "
            f"libzbar0 (apt-get install libzbar0) or use the zxing backend ({err})"
        ) from err
    return pyzbar.decode


def pyzbar_available() -> bool:
    """Return True when the pyzbar backend can run (libzbar0 is installed)."""
    try:
        _pyzbar_decode()
    except BarcodeImageError:
        return False
    return True


def _pyzbar(grey: Image) -> list[DecodedBarcode]:
    """Decode with pyzbar; it reports no AIM identifier, so ``aim`` is empty."""
    decode = _pyzbar_decode()
    found = []
    for result in decode(grey):
        text = result.data.decode("utf-8", errors="replace")
        rect = result.rect
        box = (int(rect.left), int(rect.top), int(rect.width), int(rect.height))
        name = _ZBAR_NAMES.get(str(result.type), str(result.type))
        found.append(DecodedBarcode(text, name, "", box))
    return found


def decode_image(
    image: Image | bytes, backend: Backend | str = Backend.ZXING
) -> list[DecodedBarcode]:
    """Return every barcode found in an image array or encoded image bytes (empty if none)."""
    try:
        chosen = Backend(backend)
    except ValueError:
        raise BarcodeImageError(
            f"unknown barcode backend {backend!r}; use one of {[b.value for b in Backend]}"
        ) from None
    array = load_image(image) if isinstance(image, bytes) else image
    grey = _as_grey8(array)
    found = _zxing(grey) if chosen is Backend.ZXING else _pyzbar(grey)
    log.debug("decoded %s barcode(s) with %s from a %sx%s image", len(found), chosen, *grey.shape)
    return found
