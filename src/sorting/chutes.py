"""The chute plan: which physical chute each outcome goes to, failing closed to reject."""

from __future__ import annotations

from pydantic import Field, model_validator

from contracts.config import ConfigModel
from contracts.reasons import Outcome


class ChutePlan(ConfigModel):
    """Chute numbers of one line; release chutes are chosen by route (e.g. destination)."""

    release_by_route: dict[str, int] = Field(
        title="Release chutes",
        description="Route name → release chute; route '*' is the default release chute.",
    )
    inspect: int = Field(ge=1, title="Inspection chute", description="Manual inspection area.")
    hold: int = Field(ge=1, title="Hold chute", description="Cage for held parcels.")
    return_: int = Field(ge=1, alias="return", title="Return chute", description="To sender.")
    reject: int = Field(
        ge=1, title="Reject chute", description="Technical rejects: manual coding/recirculation."
    )

    @model_validator(mode="after")
    def _release_chutes_are_not_control_chutes(self) -> ChutePlan:
        control = {self.inspect, self.hold, self.return_, self.reject}
        clash = sorted(set(self.release_by_route.values()) & control)
        if clash:
            raise ValueError(f"release chutes {clash} are also control chutes")
        if not self.release_by_route:
            raise ValueError("at least one release chute is needed")
        if any(c < 1 for c in self.release_by_route.values()):
            raise ValueError("chute numbers start at 1")
        return self

    @property
    def release_chutes(self) -> frozenset[int]:
        """Every chute through which a parcel leaves released."""
        return frozenset(self.release_by_route.values())

    def chute_for(self, outcome: Outcome, route: str | None = None) -> int:
        """Return the chute of an outcome; a release with an unknown route goes to reject."""
        if outcome is Outcome.RELEASE:
            chute = self.release_by_route.get(route or "*", self.release_by_route.get("*"))
            return self.reject if chute is None else chute
        return {
            Outcome.INSPECT: self.inspect,
            Outcome.HOLD: self.hold,
            Outcome.RETURN: self.return_,
        }.get(outcome, self.reject)

    def is_release(self, chute: int) -> bool:
        """Return True when ``chute`` is a release chute."""
        return chute in self.release_chutes
