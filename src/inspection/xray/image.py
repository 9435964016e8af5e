"""The stacked dual-energy PNG read as attenuation planes, with one error type for bad images."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import Field

from contracts.config import ConfigModel

F32 = npt.NDArray[np.float32]
U16 = npt.NDArray[np.uint16]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IHDR_END = 33  # signature 8 + chunk length/type 8 + IHDR data 13 + CRC 4

#: Smallest channel the pre-screen accepts, pixels per side.
MIN_SIDE_PX = 8


class XrayImageError(ValueError):
    """An X-ray image (PNG bytes or arrays) that cannot be pre-screened, and why."""


class ImageConfig(ConfigModel):
    """How the machine's counts become attenuation, and what size of image is accepted."""

    air_counts: float = Field(
        60000.0,
        gt=1.0,
        le=65535.0,
        title="I0",
        description="Detector counts with nothing but air in the beam (flat-field level).",
    )
    pixel_mm: float = Field(
        0.6, gt=0.01, le=10.0, title="Pixel pitch", description="Pixel size at the belt, mm."
    )
    max_png_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, title="PNG size limit", description="Largest PNG, bytes."
    )
    max_width_px: int = Field(
        4096, ge=MIN_SIDE_PX, title="Width limit", description="Widest channel, pixels."
    )
    max_height_px: int = Field(
        8192,
        ge=MIN_SIDE_PX,
        title="Height limit",
        description="Tallest channel (half the PNG height), pixels.",
    )


def _check_header(data: bytes, cfg: ImageConfig) -> tuple[int, int]:
    """Validate the PNG header without inflating pixels; return (PNG width, PNG height)."""
    if len(data) > cfg.max_png_bytes:
        raise XrayImageError(
            f"X-ray PNG is {len(data)} bytes, over the limit of {cfg.max_png_bytes} bytes"
        )
    if len(data) < _IHDR_END or not data.startswith(PNG_SIGNATURE):
        raise XrayImageError(f"not a PNG: starts with {bytes(data[:8])!r} ({len(data)} bytes)")
    length, chunk = struct.unpack(">I4s", data[8:16])
    if chunk != b"IHDR" or length != 13:
        raise XrayImageError(f"PNG does not start with an IHDR chunk (found {chunk!r})")
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    if colour != 0:
        raise XrayImageError(f"X-ray PNG must be greyscale (colour type 0), got type {colour}")
    if depth != 16:
        raise XrayImageError(f"X-ray PNG must be 16-bit, got {depth}-bit")
    if height % 2:
        raise XrayImageError(
            f"X-ray PNG height {height} px is odd: low and high energy need 2H rows"
        )
    if width > cfg.max_width_px or height > 2 * cfg.max_height_px:
        raise XrayImageError(
            f"X-ray PNG of {width}x{height} px is over the limit of "
            f"{cfg.max_width_px}x{2 * cfg.max_height_px} px"
        )
    if width < MIN_SIDE_PX or height < 2 * MIN_SIDE_PX:
        raise XrayImageError(
            f"X-ray PNG of {width}x{height} px is too small: each channel needs at least "
            f"{MIN_SIDE_PX}x{MIN_SIDE_PX} px"
        )
    return int(width), int(height)


def decode_counts(data: bytes, cfg: ImageConfig | None = None) -> tuple[U16, U16]:
    """Decode the stacked PNG into (low, high) detector counts, each H x W uint16.

    Raise XrayImageError naming the problem for anything but a valid 16-bit greyscale
    PNG of even height within the configured limits.
    """
    cfg = cfg or ImageConfig()
    width, height = _check_header(bytes(data), cfg)
    arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise XrayImageError(f"X-ray PNG of {width}x{height} px is corrupt or truncated")
    if arr.dtype != np.uint16 or arr.ndim != 2 or arr.shape != (height, width):
        raise XrayImageError(
            f"X-ray PNG decoded to {arr.ndim}-D {arr.dtype} {arr.shape}, "
            f"expected 2-D uint16 ({height}, {width})"
        )
    half = height // 2
    pixels = np.asarray(arr, dtype=np.uint16)
    return pixels[:half], pixels[half:]


def check_counts(low: npt.NDArray[np.generic], high: npt.NDArray[np.generic]) -> None:
    """Refuse count arrays that are not two equal 2-D uint16 planes of a usable size."""
    for name, arr in (("low", low), ("high", high)):
        if arr.ndim != 2 or arr.dtype != np.uint16:
            raise XrayImageError(
                f"{name}-energy counts must be a 2-D uint16 array, got {arr.ndim}-D {arr.dtype}"
            )
    _check_shapes(low.shape, high.shape)


def _check_shapes(low: tuple[int, ...], high: tuple[int, ...]) -> None:
    """Refuse planes of different or too small shapes."""
    if low != high:
        raise XrayImageError(f"low and high energy planes differ in shape: {low} vs {high}")
    if min(low) < MIN_SIDE_PX:
        raise XrayImageError(
            f"X-ray planes of {low} px are too small: at least {MIN_SIDE_PX} px per side needed"
        )


def attenuation(counts: npt.NDArray[np.generic], air_counts: float) -> F32:
    """Return ``−ln(I/I0)`` (dimensionless) of detector counts; zero counts are taken as 1."""
    out = np.asarray(counts, dtype=np.float32)
    out = np.maximum(out, np.float32(1.0))
    cv2.log(out, out)
    np.subtract(np.float32(np.log(air_counts)), out, out=out)
    return out


def check_attenuation(low: F32, high: F32) -> None:
    """Refuse attenuation planes that are not equal 2-D finite float32 arrays."""
    for name, arr in (("low", low), ("high", high)):
        if not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.dtype != np.float32:
            got = f"{arr.ndim}-D {arr.dtype}" if isinstance(arr, np.ndarray) else type(arr).__name__
            raise XrayImageError(
                f"{name}-energy attenuation must be a 2-D float32 array, got {got}"
            )
    _check_shapes(low.shape, high.shape)
    for name, arr in (("low", low), ("high", high)):
        if not np.isfinite(arr).all():
            raise XrayImageError(f"{name}-energy attenuation holds NaN or infinite values")


def decode_attenuation(data: bytes, cfg: ImageConfig | None = None) -> tuple[F32, F32]:
    """Decode the stacked PNG into (low, high) attenuation ``−ln(I/I0)``, float32, H x W."""
    cfg = cfg or ImageConfig()
    low, high = decode_counts(data, cfg)
    return attenuation(low, cfg.air_counts), attenuation(high, cfg.air_counts)
