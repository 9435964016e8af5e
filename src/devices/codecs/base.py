"""What every codec shares: the garbled-frame marker and the drain loop over a receive buffer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

F = TypeVar("F")

#: A decoder: ``decode(buffer) -> (bytes consumed, frame or None)``.
Decoder = Callable[[bytes], tuple[int, F | None]]


@dataclass(frozen=True, slots=True)
class Garbled:
    """Bytes framed like a message that break the protocol; the decoder consumed them."""

    raw: bytes
    reason: str


def drain(decode: Callable[[bytes], tuple[int, F | None]], buffer: bytearray) -> list[F]:
    """Decode every complete frame in ``buffer``, removing consumed bytes; a partial frame stays."""
    frames: list[F] = []
    while buffer:
        used, frame = decode(bytes(buffer))
        if used <= 0 or used > len(buffer):
            if used == 0 and frame is None:
                break
            raise ValueError(f"decoder consumed {used} of {len(buffer)} bytes")
        del buffer[:used]
        if frame is not None:
            frames.append(frame)
    return frames
