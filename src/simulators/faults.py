"""Seeded, reproducible fault injection shared by every device simulator."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from pydantic import Field

from contracts.config import ConfigModel


class FaultProfile(ConfigModel):
    """What a simulator does wrong, and how often; rates are probabilities per reply/frame."""

    delay_ms: float = Field(0.0, ge=0, description="Fixed delay added before every reply, ms.")
    jitter_ms: float = Field(0.0, ge=0, description="Uniform random extra delay 0..jitter, ms.")
    split_rate: float = Field(0.0, ge=0, le=1, description="Share of frames sent in two writes.")
    junk_rate: float = Field(0.0, ge=0, le=1, description="Share of frames preceded by junk bytes.")
    drop_rate: float = Field(0.0, ge=0, le=1, description="Share of replies never sent.")
    error_rate: float = Field(0.0, ge=0, le=1, description="Share of replies that are errors.")
    refuse_rate: float = Field(
        0.0, ge=0, le=1, description="Share of Modbus replies refused as an illegal address."
    )
    disconnect_after: int | None = Field(
        None, ge=1, description="Drop the connection after this many frames (then accept again)."
    )
    stuck_value: bool = Field(False, description="Keep repeating the first measured value.")
    unstable_rate: float = Field(0.0, ge=0, le=1, description="Share of weighings in motion.")
    noread_rate: float = Field(0.0, ge=0, le=1, description="Share of scans with no read.")
    multiread_rate: float = Field(0.0, ge=0, le=1, description="Share of scans with two codes.")


#: Named profiles accepted by ``--fault NAME``.
PROFILES: dict[str, FaultProfile] = {
    "none": FaultProfile(),
    "slow": FaultProfile(delay_ms=40, jitter_ms=20),
    "split": FaultProfile(split_rate=0.5),
    "junk": FaultProfile(junk_rate=0.3),
    "drop": FaultProfile(drop_rate=0.2),
    "errors": FaultProfile(error_rate=0.2),
    "disconnect": FaultProfile(disconnect_after=20),
    "stuck": FaultProfile(stuck_value=True),
    "unstable": FaultProfile(unstable_rate=0.5),
    "noread": FaultProfile(noread_rate=0.2),
    "multiread": FaultProfile(multiread_rate=0.2),
}


def profile_named(name: str) -> FaultProfile:
    """Return the named fault profile, or raise ValueError listing the known names."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown fault profile {name!r}; known: {', '.join(PROFILES)}") from None


@dataclass(slots=True)
class FaultDice:
    """The seeded random source that decides, frame by frame, which fault happens."""

    profile: FaultProfile
    seed: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def hit(self, rate: float) -> bool:
        """Return True with probability ``rate`` (always consumes one draw)."""
        return self.rng.random() < rate

    def delay_s(self) -> float:
        """Return this reply's delay in seconds (fixed delay plus jitter)."""
        p = self.profile
        extra = self.rng.uniform(0.0, p.jitter_ms) if p.jitter_ms else 0.0
        return (p.delay_ms + extra) / 1000.0

    def junk(self) -> bytes:
        """Return 1..8 random junk bytes that contain no frame delimiters."""
        n = self.rng.randint(1, 8)
        return bytes(self.rng.choice(b"#@!?xyz0123456789") for _ in range(n))

    def split_point(self, length: int) -> int:
        """Return where to cut a frame of ``length`` bytes into two writes (1..length-1)."""
        return self.rng.randint(1, max(1, length - 1))
