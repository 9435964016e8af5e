"""What the site simulation is told before it runs: per-device faults, and its error type."""

from __future__ import annotations

from dataclasses import dataclass, field

from simulators.faults import FaultProfile


class SiteSimError(RuntimeError):
    """The site simulation cannot start, or was used in a state that does not allow it."""


@dataclass(frozen=True, slots=True)
class SiteFaults:
    """Fault profiles per device; each device uses the fields that apply to it."""

    modbus: FaultProfile = field(default_factory=FaultProfile)  # PLC + checkweigher transport
    checkweigher: FaultProfile = field(default_factory=FaultProfile)  # stuck_value, unstable_rate
    scanner: FaultProfile = field(default_factory=FaultProfile)  # noread, drop, junk, split, ...
    xray: FaultProfile = field(default_factory=FaultProfile)  # drop, delay, disconnect_after

    @classmethod
    def everywhere(cls, profile: FaultProfile) -> SiteFaults:
        """Apply one profile to every device (what ``--fault NAME`` does)."""
        return cls(profile, profile, profile, profile)
