"""Sans-IO codec of the X-ray image: a 16-bit greyscale PNG, low energy stacked above high.

The wire image is ``2H`` rows by ``W`` columns of transmitted intensity (detector counts,
0..65535): rows ``0..H-1`` are the low-energy channel, rows ``H..2H-1`` the high-energy
channel of the same scan. No sockets, no clocks, no logging here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from devices.errors import ProtocolError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_GREY = 0  # PNG colour type of greyscale without alpha
_HEADER_LEN = 33  # signature (8) + IHDR length/type (8) + IHDR data (13) + CRC (4)

U16Image = npt.NDArray[np.uint16]


class XrayImageError(ProtocolError):
    """Bytes or arrays that are not a valid Clearline dual-energy X-ray image."""


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """What the decoder accepts; anything larger is refused before its pixels are inflated."""

    max_png_bytes: int = 64 * 1024 * 1024
    max_width_px: int = 4096
    max_height_px: int = 8192  # of one energy channel; the PNG is twice as tall


DEFAULT_LIMITS = ImageLimits()


@dataclass(frozen=True, slots=True)
class PngHeader:
    """The facts of a PNG's IHDR chunk that the codec checks."""

    width: int
    height: int
    bit_depth: int
    colour_type: int


@dataclass(frozen=True, slots=True, eq=False)
class DualEnergyImage:
    """One scan: low- and high-energy transmitted intensity, each ``H x W`` uint16 counts."""

    low: U16Image
    high: U16Image

    def __post_init__(self) -> None:
        """Refuse arrays that cannot form a wire image."""
        for name, arr in (("low", self.low), ("high", self.high)):
            if arr.dtype != np.uint16 or arr.ndim != 2:
                raise XrayImageError(
                    f"{name}-energy image must be a 2-D uint16 array, got {arr.ndim}-D {arr.dtype}"
                )
            if arr.shape[0] == 0 or arr.shape[1] == 0:
                raise XrayImageError(f"{name}-energy image is empty ({arr.shape})")
        if self.low.shape != self.high.shape:
            raise XrayImageError(
                f"low and high energy images differ in shape: {self.low.shape} vs {self.high.shape}"
            )

    @property
    def width(self) -> int:
        """Width of one channel, pixels."""
        return int(self.low.shape[1])

    @property
    def height(self) -> int:
        """Height of one channel, pixels (the PNG is twice this)."""
        return int(self.low.shape[0])

    def stacked(self) -> U16Image:
        """Return the ``2H x W`` wire layout: low energy above high energy."""
        return np.vstack((self.low, self.high))


def read_header(data: bytes) -> PngHeader:
    """Read a PNG's IHDR without inflating pixels; raise XrayImageError if it is no PNG."""
    if len(data) < _HEADER_LEN or not data.startswith(PNG_SIGNATURE):
        raise XrayImageError(f"not a PNG: starts with {bytes(data[:8])!r} ({len(data)} bytes)")
    length, chunk = struct.unpack(">I4s", data[8:16])
    if chunk != b"IHDR" or length != 13:
        raise XrayImageError(f"PNG does not start with an IHDR chunk (got {chunk!r})")
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    return PngHeader(width=width, height=height, bit_depth=depth, colour_type=colour)


def check_header(data: bytes, limits: ImageLimits = DEFAULT_LIMITS) -> PngHeader:
    """Validate size, layout and pixel format from the header alone; return the header.

    Cheap enough to run on every message: it never inflates the pixels.
    """
    if len(data) > limits.max_png_bytes:
        raise XrayImageError(
            f"X-ray PNG is {len(data)} bytes, over the limit of {limits.max_png_bytes} bytes"
        )
    header = read_header(data)
    if header.colour_type != _GREY:
        raise XrayImageError(
            f"X-ray PNG must be greyscale (colour type 0), got colour type {header.colour_type}"
        )
    if header.bit_depth != 16:
        raise XrayImageError(f"X-ray PNG must be 16-bit, got {header.bit_depth}-bit")
    if header.width == 0 or header.height == 0:
        raise XrayImageError(f"X-ray PNG is empty ({header.width}x{header.height} px)")
    if header.height % 2:
        raise XrayImageError(
            f"X-ray PNG height {header.height} px is odd; low and high energy need 2H rows"
        )
    if header.width > limits.max_width_px or header.height > 2 * limits.max_height_px:
        raise XrayImageError(
            f"X-ray PNG of {header.width}x{header.height} px is larger than the limit of "
            f"{limits.max_width_px}x{2 * limits.max_height_px} px"
        )
    return header


def encode_png(image: DualEnergyImage, compression: int = 1) -> bytes:
    """Encode a scan as the stacked 16-bit greyscale PNG (zlib ``compression`` 0..9)."""
    if not 0 <= compression <= 9:
        raise XrayImageError(f"PNG compression must be 0..9, got {compression}")
    ok, buf = cv2.imencode(".png", image.stacked(), [cv2.IMWRITE_PNG_COMPRESSION, compression])
    if not ok:
        raise XrayImageError(f"OpenCV could not encode a {image.width}x{image.height} image")
    return bytes(buf.tobytes())


def decode_png(data: bytes, limits: ImageLimits = DEFAULT_LIMITS) -> DualEnergyImage:
    """Decode the stacked PNG into its two channels; raise XrayImageError on any bad input."""
    header = check_header(data, limits)
    arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise XrayImageError(
            f"X-ray PNG of {header.width}x{header.height} px is corrupt or truncated"
        )
    if arr.dtype != np.uint16 or arr.ndim != 2 or arr.shape != (header.height, header.width):
        raise XrayImageError(
            f"X-ray PNG decoded to {arr.ndim}-D {arr.dtype} {arr.shape}, expected 2-D uint16 "
            f"({header.height}, {header.width})"
        )
    pixels = arr.astype(np.uint16, copy=False)
    half = header.height // 2
    return DualEnergyImage(low=pixels[:half], high=pixels[half:])
